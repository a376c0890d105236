/* Node's child_process IPC channel with `serialization: 'json'`, seen from a child that
 * is not Node: the fd named by NODE_CHANNEL_FD carries one JSON text per line, each way
 * (lib/internal/child_process/serialization.js: JSONStringify(message) + '\n'). */
#ifndef CONNLAB_IPC_H
#define CONNLAB_IPC_H

#include <stddef.h>

#include "json.h"

/* The longest line accepted: a tuples chunk (TUPLES_PER_CHUNK x 16 B in base64) with
 * room to spare. Longer input is malformed, not buffered without bound. */
#define IPC_MAX_LINE (1024 * 1024) /* `start` with TLS carries Node's root CAs: 400 KB */

struct ipc {
  int fd;
  char *buf; /* unparsed input: at most one partial line after ipc_read returns */
  size_t len, cap;
};

enum ipc_status { IPC_OK = 0, IPC_EOF = 1, IPC_TOO_LONG = 2, IPC_ERROR = 3, IPC_STOP = 4 };

/* The channel fd from the environment, or -1 (with *why set) when absent or not JSON. */
int ipc_channel_fd(const char **why);
/* Reads what is there and calls on_line for every complete line (without the '\n');
 * stops early when on_line returns nonzero (IPC_STOP) and returns that value. */
int ipc_read(struct ipc *c, int (*on_line)(void *ctx, char *line, size_t len), void *ctx);
/* Writes b's text and a '\n', all of it (waits while the socket is full); 0 or -1. */
int ipc_send(struct ipc *c, struct jbuf *b);
/* Gives back a buffer grown for large lines (the ramp's tuple chunks) once they are over. */
void ipc_shrink(struct ipc *c);
void ipc_free(struct ipc *c);

#endif
