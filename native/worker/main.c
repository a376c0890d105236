/* connlab-worker: a worker process without V8. The same holder as the N-API addon
 * (native/loop.c conn.c stats.c clock.c proto/) driven over Node's child_process IPC
 * channel (serialization 'json', one message per line) by src/engine/c-worker-process.ts,
 * which translates the pool's typed messages; it does what src/engine/worker.ts does.
 * One thread polls the channel and runs the timers (reports, ramp ticks, churn ticks,
 * ping rounds); the holder's own thread owns the sockets. start.c reads `start`;
 * reply.c writes the messages both of them send.
 * Malformed input is answered with `failed` and exit code 1, never a crash; a gone
 * supervisor (EOF on the channel, or SIGKILL through PR_SET_PDEATHSIG) ends it. */
#include <errno.h>
#include <malloc.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <unistd.h>

#include "../ossl.h"
#include "../proto/proto.h"
#include "../tls.h"
#include "report.h"
#include "worker.h"

#define PING_POLL_US 10000
#define CHURN_TICK_US 100000

static struct jdoc doc; /* 10 KB of tokens: static, not on the stack */

static void send_lit(struct worker *w, const char *text) {
  struct jbuf b = {0};
  jb_lit(&b, text);
  worker_send(w, &b);
}

static void send_report(struct worker *w) {
  struct jbuf b = {0};
  jb_lit(&b, "{\"type\":\"report\",");
  report_counters(&b, &w->holder);
  jb_lit(&b, ",");
  report_latency(&b, &w->holder);
  jb_lit(&b, ",");
  report_memory(&b, w->smaps_fd);
  jb_lit(&b, w->role == ROLE_SERVER || ramp_finished(&w->ramp, &w->holder) ? ",\"rampDone\":true}" : ",\"rampDone\":false}");
  worker_send(w, &b);
}

static void send_pinged(struct worker *w) {
  struct jbuf b = {0};
  jb_lit(&b, "{\"type\":\"pinged\",\"seq\":");
  jb_uint(&b, w->ping_seq);
  jb_lit(&b, ",\"verified\":");
  jb_uint(&b, STAT_GET(&w->holder, ST_VERIFIED));
  jb_lit(&b, ",\"established\":");
  jb_uint(&b, STAT_GET(&w->holder, ST_ESTABLISHED));
  jb_lit(&b, ",\"silent\":");
  jb_uint(&b, STAT_GET(&w->holder, ST_SILENT));
  jb_lit(&b, "}");
  worker_send(w, &b);
  w->ping_active = 0;
}

static int64_t run_waited(struct worker *w, int type, uint32_t seq) {
  struct cmd c = {.type = type, .waited = 1, .seq = seq};
  holder_submit(&w->holder, &c);
  return c.result;
}

/* ---- the other messages ---- */

static int on_tuples(struct worker *w, int msg) {
  int data = json_get(&doc, msg, "data");
  int last;
  if (w->role != ROLE_CLIENT) return worker_malformed(w, "tuples for a worker that is not a started client");
  if (data < 0 || doc.tok[data].type != J_STRING || json_bool(&doc, json_get(&doc, msg, "last"), &last) != 0) {
    return worker_malformed(w, "tuples needs data and last");
  }
  const struct jtok *t = &doc.tok[data];
  if (ramp_add(&w->ramp, doc.text + t->start, t->end - t->start, last) != 0) return worker_malformed(w, "tuples: not base64 of valid tuples");
  w->next_ramp_us = clock_mono_us(); /* the queue may have run dry waiting for these */
  return 0;
}

static int on_ping(struct worker *w, int msg) {
  uint64_t seq, timeout_ms;
  if (json_uint(&doc, json_get(&doc, msg, "seq"), UINT32_MAX, &seq) != 0 ||
      json_uint(&doc, json_get(&doc, msg, "timeoutMs"), 86400000, &timeout_ms) != 0) {
    return worker_malformed(w, "ping needs seq and timeoutMs");
  }
  if (w->role == ROLE_NONE) return 0;
  if (w->ping_active) send_pinged(w); /* a new round ends the old one with what it has */
  run_waited(w, CMD_PING_ALL, (uint32_t)seq);
  w->ping_active = 1;
  w->ping_seq = (uint32_t)seq;
  w->next_ping_us = clock_mono_us();
  /* tcp: the kernel answered during the ping itself; nothing more can arrive (over TLS a
   * handshake still running pings when it is done, as worker.ts waits for). */
  w->ping_deadline_us = w->next_ping_us + (w->proto_kind == PROTO_TCP && !w->tls ? 0 : timeout_ms * 1000);
  return 0;
}

static int on_broadcast(struct worker *w, int msg) {
  uint64_t seq;
  if (json_uint(&doc, json_get(&doc, msg, "seq"), UINT32_MAX, &seq) != 0) return worker_malformed(w, "broadcast needs seq");
  if (w->role == ROLE_NONE) return 0;
  int64_t written = run_waited(w, CMD_BROADCAST, (uint32_t)seq);
  struct jbuf b = {0};
  jb_lit(&b, "{\"type\":\"broadcasted\",\"seq\":");
  jb_uint(&b, seq);
  jb_lit(&b, ",\"written\":");
  jb_uint(&b, written > 0 ? (uint64_t)written : 0);
  jb_lit(&b, "}");
  worker_send(w, &b);
  return 0;
}

/* Lets go of every connection; the counters stay readable. */
static void close_holder(struct worker *w) {
  if (!w->holder_live) return;
  w->holder_live = 0;
  run_waited(w, CMD_CLOSE_ALL, 0);
  holder_stop(&w->holder);
  ramp_free(&w->ramp);
}

static int on_close(struct worker *w) {
  w->exiting = 1;
  if (w->role == ROLE_NONE) return IPC_STOP;
  send_report(w);
  close_holder(w);
  struct jbuf b = {0};
  jb_lit(&b, "{\"type\":\"closed\",");
  report_counters(&b, &w->holder);
  jb_lit(&b, "}");
  worker_send(w, &b);
  return IPC_STOP;
}

static int on_line(void *ctx, char *line, size_t len) {
  struct worker *w = ctx;
  if (json_parse(&doc, line, len) != 0) return worker_malformed(w, doc.error);
  if (doc.tok[0].type != J_OBJECT) return worker_malformed(w, "not an object");
  int type = json_get(&doc, 0, "type");
  if (json_string_is(&doc, type, "start")) return worker_start(w, &doc, 0);
  if (json_string_is(&doc, type, "tuples")) return on_tuples(w, 0);
  if (json_string_is(&doc, type, "ping")) return on_ping(w, 0);
  if (json_string_is(&doc, type, "broadcast")) return on_broadcast(w, 0);
  if (json_string_is(&doc, type, "report")) {
    if (w->role != ROLE_NONE) send_report(w);
    return 0;
  }
  if (json_string_is(&doc, type, "close")) return on_close(w);
  return worker_malformed(w, "unknown type");
}

/* ---- timers and the loop ---- */

/* After the ramp, as worker.ts #startChurn: what is due accrues at churn_per_sec, whole
 * connections are churned, and what could not be (nothing held) is not owed later. */
static void churn_tick(struct worker *w, uint64_t now) {
  w->churn_due += (double)(now - w->churn_last_us) / 1e6 * w->churn_per_sec;
  w->churn_last_us = now;
  w->next_churn_us = now + CHURN_TICK_US;
  double count = w->churn_due < (double)UINT32_MAX ? w->churn_due : (double)UINT32_MAX;
  if (count < 1) return;
  w->churn_due -= (double)(uint32_t)count;
  run_waited(w, CMD_CHURN, (uint32_t)count);
}

static void ramp_timer(struct worker *w, uint64_t now) {
  int events = ramp_tick(&w->ramp, &w->holder, now);
  if (events & RAMP_WANT) send_lit(w, "{\"type\":\"want\"}");
  if (events & RAMP_DONE) {
    send_lit(w, "{\"type\":\"ramped\"}");
    ipc_shrink(&w->ipc);
    if (w->churn_per_sec > 0) {
      w->churning = 1;
      w->churn_last_us = now;
      w->next_churn_us = now + CHURN_TICK_US;
    }
  }
  w->next_ramp_us = now + w->ramp.interval_us;
}

static void run_timers(struct worker *w, uint64_t now) {
  if (w->role == ROLE_NONE) return;
  if (w->role == ROLE_CLIENT && !w->ramp.done && now >= w->next_ramp_us) ramp_timer(w, now);
  if (w->churning && now >= w->next_churn_us) churn_tick(w, now);
  if (w->ping_active && now >= w->next_ping_us) {
    if (STAT_GET(&w->holder, ST_VERIFIED) >= STAT_GET(&w->holder, ST_ESTABLISHED) || now >= w->ping_deadline_us) send_pinged(w);
    w->next_ping_us = now + PING_POLL_US;
  }
  if (now >= w->next_report_us) {
    send_report(w);
    w->next_report_us = now + w->report_interval_us;
  }
}

/* Milliseconds until the next timer, for poll(). */
static int next_timeout_ms(struct worker *w, uint64_t now) {
  if (w->role == ROLE_NONE) return -1;
  uint64_t next = w->next_report_us;
  if (w->role == ROLE_CLIENT && !w->ramp.done && w->next_ramp_us < next) next = w->next_ramp_us;
  if (w->ping_active && w->next_ping_us < next) next = w->next_ping_us;
  if (w->churning && w->next_churn_us < next) next = w->next_churn_us;
  return next <= now ? 0 : (int)((next - now + 999) / 1000);
}

static void run(struct worker *w) {
  while (!w->exiting) {
    uint64_t now = clock_mono_us();
    run_timers(w, now);
    struct pollfd pfd = {.fd = w->ipc.fd, .events = POLLIN};
    int n = poll(&pfd, 1, next_timeout_ms(w, clock_mono_us()));
    if (n < 0 && errno != EINTR) break;
    if (n <= 0) continue;
    int rc = ipc_read(&w->ipc, on_line, w);
    if (rc == IPC_TOO_LONG) {
      worker_malformed(w, "a line longer than the limit");
    } else if (rc == IPC_EOF || rc == IPC_ERROR) {
      /* The supervisor is gone (or closed the channel after `closed`): nobody is left to
       * report to, and a graceful close of 20,000 sockets would only keep them open
       * longer than the kernel takes at exit (worker.ts does the same on 'disconnect'). */
      w->exiting = 1;
    }
  }
}

/* `connlab-worker --tls-library`: the OpenSSL TLS would use (exit 0), or why there is
 * none (exit 3), for the supervisor to choose a runtime before it starts anything. */
static int tls_library(void) {
  const char *version = tls_library_version();
  printf("%s\n", version ? version : ossl_load());
  return version ? 0 : 3;
}

int main(int argc, char **argv) {
  if (argc == 2 && strcmp(argv[1], "--tls-library") == 0) return tls_library();
  /* One malloc arena (the holder thread would otherwise get its own 64 MiB reservation)
   * and fixed thresholds, so large freed buffers go back to the kernel. */
  mallopt(M_ARENA_MAX, 1);
  mallopt(M_MMAP_THRESHOLD, 64 * 1024);
  mallopt(M_TRIM_THRESHOLD, 128 * 1024);
  signal(SIGPIPE, SIG_IGN);
  /* Ctrl-C and a stop signal to the whole group (systemd, kill -- -PGID) reach every
   * worker too; the supervisor decides and closes them with their books (worker.ts). */
  signal(SIGINT, SIG_IGN);
  signal(SIGTERM, SIG_IGN);

  static struct worker w;
  const char *why = NULL;
  w.smaps_fd = memory_open();
  w.ipc.fd = ipc_channel_fd(&why);
  if (w.ipc.fd < 0) {
    fprintf(stderr, "connlab-worker: %s\n", why);
    return 2;
  }
  /* Die with the supervisor even if it is SIGKILLed; if it already died before the
   * prctl, our parent is no longer the pid it told us. */
  prctl(PR_SET_PDEATHSIG, SIGKILL);
  if (argc > 1 && strtol(argv[1], NULL, 10) != (long)getppid()) return 1;

  run(&w); /* after `close` the holder is closed; otherwise the kernel closes its sockets */
  ipc_free(&w.ipc);
  return w.exit_code;
}
