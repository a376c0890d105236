/* The C worker's state and the few things its two halves share: main.c (the channel,
 * the messages after `start`, the timers) and start.c (reading `start` into a running
 * holder). */
#ifndef CONNLAB_WORKER_H
#define CONNLAB_WORKER_H

#include <stdint.h>

#include "../holder.h"
#include "ipc.h"
#include "json.h"
#include "ramp.h"

#define FAIL_CODE "CONNLAB_ERR_WORKER"

enum role { ROLE_NONE = 0, ROLE_SERVER, ROLE_CLIENT };

struct worker {
  struct holder holder;
  int holder_live;
  struct ipc ipc;
  int smaps_fd;
  enum role role;
  int proto_kind; /* enum proto_kind of a client; tcp pings answer at once */
  int tls;        /* a client's connections run TLS: tcp pings wait for handshakes */
  uint64_t report_interval_us, next_report_us, next_ramp_us;
  int ping_active;
  uint32_t ping_seq;
  uint64_t ping_deadline_us, next_ping_us;
  struct ramp ramp;
  /* After the ramp: churn_per_sec connections a second recycled, in CHURN_TICK_US steps
   * (worker.ts #startChurn); churn_due carries the fraction not yet churned. */
  double churn_per_sec, churn_due;
  int churning;
  uint64_t churn_last_us, next_churn_us;
  int exiting, exit_code;
};

/* reply.c: sends b's text as one message and frees it; a gone supervisor shows as EOF later. */
void worker_send(struct worker *w, struct jbuf *b);
/* `failed` (errno_value > 0 travels as `errno`), then leave with exit code 1: IPC_STOP. */
int worker_fail(struct worker *w, const char *code, const char *message, int errno_value);
/* worker_fail with FAIL_CODE and "malformed IPC message: why". */
int worker_malformed(struct worker *w, const char *why);

/* start.c: handles `start` (token msg of d): starts the holder, listens or prepares the
 * ramp, and says `started`; 0, or IPC_STOP after `failed`. */
int worker_start(struct worker *w, const struct jdoc *d, int msg);

#endif
