/* Line framing over the IPC socket. Reads are non-blocking (the main loop polls);
 * writes block until the whole line is out, because the supervisor's side is libuv,
 * which always drains, and a half-written line would corrupt every later message. */
#include "ipc.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

int ipc_channel_fd(const char **why) {
  const char *fd_text = getenv("NODE_CHANNEL_FD");
  const char *mode = getenv("NODE_CHANNEL_SERIALIZATION_MODE");
  if (!fd_text || !*fd_text) {
    *why = "NODE_CHANNEL_FD is not set: start this program with an 'ipc' stdio slot";
    return -1;
  }
  if (mode && strcmp(mode, "json") != 0) {
    *why = "the IPC channel must use serialization: 'json'";
    return -1;
  }
  char *end = NULL;
  long fd = strtol(fd_text, &end, 10);
  if (*end != 0 || fd < 0 || fd > 65535 || fcntl((int)fd, F_GETFD) < 0) {
    *why = "NODE_CHANNEL_FD does not name an open descriptor";
    return -1;
  }
  fcntl((int)fd, F_SETFD, FD_CLOEXEC);
  fcntl((int)fd, F_SETFL, fcntl((int)fd, F_GETFL) | O_NONBLOCK);
  return (int)fd;
}

static int grow(struct ipc *c) {
  if (c->len < c->cap) return 0;
  size_t cap = c->cap ? c->cap * 2 : 16 * 1024;
  if (cap > IPC_MAX_LINE + 1) cap = IPC_MAX_LINE + 1;
  if (cap <= c->len) return -1;
  char *p = realloc(c->buf, cap);
  if (!p) return -1;
  c->buf = p;
  c->cap = cap;
  return 0;
}

/* Calls on_line for each complete line in the buffer and keeps the rest. */
static int split_lines(struct ipc *c, int (*on_line)(void *, char *, size_t), void *ctx) {
  size_t from = 0;
  int rc = 0;
  for (;;) {
    char *nl = memchr(c->buf + from, '\n', c->len - from);
    if (!nl) break;
    size_t n = (size_t)(nl - (c->buf + from));
    *nl = 0;
    rc = on_line(ctx, c->buf + from, n);
    from += n + 1;
    if (rc != 0) break;
  }
  memmove(c->buf, c->buf + from, c->len - from);
  c->len -= from;
  if (rc == 0 && c->len > IPC_MAX_LINE) return IPC_TOO_LONG;
  return rc;
}

int ipc_read(struct ipc *c, int (*on_line)(void *, char *, size_t), void *ctx) {
  for (;;) {
    if (grow(c) != 0) return IPC_TOO_LONG;
    ssize_t n = read(c->fd, c->buf + c->len, c->cap - c->len);
    if (n == 0) return IPC_EOF;
    if (n < 0) {
      if (errno == EINTR) continue;
      if (errno == EAGAIN) return IPC_OK;
      return errno == ECONNRESET ? IPC_EOF : IPC_ERROR;
    }
    c->len += (size_t)n;
    int rc = split_lines(c, on_line, ctx);
    if (rc != 0) return rc;
  }
}

int ipc_send(struct ipc *c, struct jbuf *b) {
  jb_raw(b, "\n", 1);
  if (b->failed) return -1;
  size_t off = 0;
  while (off < b->len) {
    ssize_t n = send(c->fd, b->p + off, b->len - off, MSG_NOSIGNAL);
    if (n > 0) {
      off += (size_t)n;
    } else if (n < 0 && errno == EAGAIN) {
      struct pollfd pfd = {.fd = c->fd, .events = POLLOUT};
      poll(&pfd, 1, 1000);
    } else if (!(n < 0 && errno == EINTR)) {
      return -1;
    }
  }
  return 0;
}

void ipc_shrink(struct ipc *c) {
  if (c->len > 0 || c->cap <= 16 * 1024) return;
  free(c->buf);
  c->buf = NULL;
  c->cap = 0;
}

void ipc_free(struct ipc *c) {
  free(c->buf);
  c->buf = NULL;
  c->len = c->cap = 0;
}
