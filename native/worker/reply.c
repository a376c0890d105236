/* The replies every part of the C worker sends (worker.h): a message, and `failed`
 * before leaving. Apart from main.c so that start.c, which main.c calls, can answer
 * without calling main.c back. */
#include <stdio.h>

#include "worker.h"

void worker_send(struct worker *w, struct jbuf *b) {
  ipc_send(&w->ipc, b); /* a gone supervisor shows as EOF on the next read */
  jb_free(b);
}

int worker_fail(struct worker *w, const char *code, const char *message, int errno_value) {
  struct jbuf b = {0};
  jb_lit(&b, "{\"type\":\"failed\",\"code\":");
  jb_str(&b, code);
  jb_lit(&b, ",\"message\":");
  jb_str(&b, message);
  if (errno_value > 0) {
    jb_lit(&b, ",\"errno\":");
    jb_uint(&b, (uint64_t)errno_value);
  }
  jb_lit(&b, "}");
  worker_send(w, &b);
  w->exiting = 1;
  w->exit_code = 1;
  return IPC_STOP;
}

int worker_malformed(struct worker *w, const char *why) {
  char message[160];
  snprintf(message, sizeof message, "malformed IPC message: %s", why);
  return worker_fail(w, FAIL_CODE, message, 0);
}
