/* connlab-worker: a worker process without V8. The same holder as the N-API addon
 * (native/loop.c conn.c frame.c samples.c) driven over Node's child_process IPC channel
 * (serialization 'json', one message per line) by src/engine/c-worker-process.ts, which
 * translates the pool's typed messages. One thread polls the channel and runs the
 * timers (reports, ramp ticks, ping rounds); the holder's own thread owns the sockets.
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

#include "../holder.h"
#include "ipc.h"
#include "json.h"
#include "ramp.h"
#include "report.h"

#define PING_POLL_US 10000
#define DEFAULT_MAX_SAMPLES 100000
#define FAIL_CODE "CONNLAB_ERR_WORKER"

enum role { ROLE_NONE = 0, ROLE_SERVER, ROLE_CLIENT };

struct worker {
  struct holder holder;
  int holder_live;
  struct ipc ipc;
  int smaps_fd;
  enum role role;
  uint64_t report_interval_us, next_report_us, next_ramp_us;
  int ping_active;
  uint32_t ping_seq;
  uint64_t ping_deadline_us, next_ping_us;
  struct ramp ramp;
  int exiting, exit_code;
};

static struct jdoc doc; /* 10 KB of tokens: static, not on the stack */

static void send_buf(struct worker *w, struct jbuf *b) {
  ipc_send(&w->ipc, b); /* a gone supervisor shows as EOF on the next read */
  jb_free(b);
}

static void send_lit(struct worker *w, const char *text) {
  struct jbuf b = {0};
  jb_lit(&b, text);
  send_buf(w, &b);
}

/* `failed`, then leave with exit code 1. errno_value > 0 travels as `errno`. */
static int fail(struct worker *w, const char *code, const char *message, int errno_value) {
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
  send_buf(w, &b);
  w->exiting = 1;
  w->exit_code = 1;
  return IPC_STOP;
}

static int malformed(struct worker *w, const char *why) {
  char message[160];
  snprintf(message, sizeof message, "malformed IPC message: %s", why);
  return fail(w, FAIL_CODE, message, 0);
}

static void send_report(struct worker *w) {
  struct jbuf b = {0};
  jb_lit(&b, "{\"type\":\"report\",");
  report_counters(&b, &w->holder);
  jb_lit(&b, ",");
  report_samples(&b, &w->holder);
  jb_lit(&b, ",");
  report_memory(&b, w->smaps_fd);
  jb_lit(&b, w->role == ROLE_SERVER || ramp_finished(&w->ramp, &w->holder) ? ",\"rampDone\":true}" : ",\"rampDone\":false}");
  send_buf(w, &b);
}

static void send_pinged(struct worker *w) {
  struct jbuf b = {0};
  jb_lit(&b, "{\"type\":\"pinged\",\"seq\":");
  jb_uint(&b, w->ping_seq);
  jb_lit(&b, ",\"verified\":");
  jb_uint(&b, STAT_GET(&w->holder, ST_VERIFIED));
  jb_lit(&b, ",\"established\":");
  jb_uint(&b, STAT_GET(&w->holder, ST_ESTABLISHED));
  jb_lit(&b, "}");
  send_buf(w, &b);
  w->ping_active = 0;
}

static int64_t run_waited(struct worker *w, int type, uint32_t seq) {
  struct cmd c = {.type = type, .waited = 1, .seq = seq};
  holder_submit(&w->holder, &c);
  return c.result;
}

/* ---- start ---- */

static int start_holder(struct worker *w, int config, uint32_t connect_timeout_ms) {
  uint64_t interval_ms, max_samples = DEFAULT_MAX_SAMPLES;
  if (json_uint(&doc, json_get(&doc, config, "reportIntervalMs"), 86400000, &interval_ms) != 0 || interval_ms == 0) {
    return malformed(w, "reportIntervalMs");
  }
  int t = json_get(&doc, config, "maxSamples");
  if (t >= 0 && json_uint(&doc, t, UINT32_MAX, &max_samples) != 0) return malformed(w, "maxSamples");
  int err = holder_init(&w->holder, connect_timeout_ms, (size_t)max_samples);
  if (err == 0) err = holder_start(&w->holder);
  w->holder_live = 1;
  if (err != 0) return fail(w, FAIL_CODE, strerror(err), err);
  w->report_interval_us = interval_ms * 1000;
  w->next_report_us = now_mono_us() + w->report_interval_us;
  return 0;
}

static int listen_one(struct worker *w, int address, uint64_t backlog) {
  char host[64];
  uint64_t port;
  if (json_string(&doc, json_get(&doc, address, "host"), host, sizeof host, NULL) != 0 ||
      json_uint(&doc, json_get(&doc, address, "port"), 65535, &port) != 0 || port == 0) {
    return malformed(w, "listen address");
  }
  int fd = -1;
  int err = holder_open_listener(host, (uint32_t)port, (int)backlog, &fd);
  if (err == 0) {
    struct cmd c = {.type = CMD_LISTEN, .fd = fd, .waited = 1};
    holder_submit(&w->holder, &c);
    if (c.result < 0) {
      err = (int)-c.result;
      close(fd);
    }
  }
  if (err == 0) return 0;
  char message[128];
  snprintf(message, sizeof message, "cannot listen on %s:%u", host, (unsigned)port);
  return fail(w, "CONNLAB_ERR_LISTEN", message, err);
}

static int start_server(struct worker *w, int config) {
  uint64_t backlog;
  int listen = json_get(&doc, config, "listen");
  if (listen < 0 || doc.tok[listen].type != J_ARRAY) return malformed(w, "listen");
  if (json_uint(&doc, json_get(&doc, config, "backlog"), 0x7fffffff, &backlog) != 0 || backlog == 0) return malformed(w, "backlog");
  int rc = start_holder(w, config, 0);
  if (rc != 0) return rc;
  w->role = ROLE_SERVER;
  for (uint32_t a = (uint32_t)listen + 1; a < doc.tok[listen].next; a = doc.tok[a].next) {
    if ((rc = listen_one(w, (int)a, backlog)) != 0) return rc;
  }
  return 0;
}

static int start_client(struct worker *w, int config) {
  uint64_t timeout_ms, max_pending;
  if (json_uint(&doc, json_get(&doc, config, "connectTimeoutMs"), UINT32_MAX, &timeout_ms) != 0) return malformed(w, "connectTimeoutMs");
  if (json_uint(&doc, json_get(&doc, config, "maxPending"), UINT32_MAX, &max_pending) != 0 || max_pending == 0) return malformed(w, "maxPending");
  int rate = json_get(&doc, config, "ratePerSec");
  double rate_per_sec = 0;
  if (rate < 0 || (doc.tok[rate].type != J_NULL && (json_number(&doc, rate, &rate_per_sec) != 0 || !(rate_per_sec > 0)))) {
    return malformed(w, "ratePerSec");
  }
  int rc = start_holder(w, config, (uint32_t)timeout_ms);
  if (rc != 0) return rc;
  w->role = ROLE_CLIENT;
  w->ramp.max_pending = (uint32_t)max_pending;
  w->ramp.rated = doc.tok[rate].type != J_NULL;
  w->ramp.rate_per_sec = rate_per_sec;
  w->ramp.last_tick_us = now_mono_us();
  w->next_ramp_us = w->ramp.last_tick_us;
  return 0;
}

static int on_start(struct worker *w, int msg) {
  if (w->role != ROLE_NONE) return malformed(w, "start sent twice");
  int config = json_get(&doc, msg, "config");
  if (!json_string_is(&doc, json_get(&doc, config, "holder"), "native")) return malformed(w, "config.holder must be native");
  int role = json_get(&doc, config, "role");
  int rc = json_string_is(&doc, role, "server") ? start_server(w, config)
           : json_string_is(&doc, role, "client") ? start_client(w, config)
                                                  : malformed(w, "config.role");
  if (rc != 0) return rc;
  struct jbuf b = {0};
  jb_lit(&b, "{\"type\":\"started\",\"pid\":");
  jb_uint(&b, (uint64_t)getpid());
  jb_lit(&b, ",\"holder\":\"native\"}");
  send_buf(w, &b);
  return 0;
}

/* ---- the other messages ---- */

static int on_tuples(struct worker *w, int msg) {
  int data = json_get(&doc, msg, "data");
  int last;
  if (w->role != ROLE_CLIENT) return malformed(w, "tuples for a worker that is not a started client");
  if (data < 0 || doc.tok[data].type != J_STRING || json_bool(&doc, json_get(&doc, msg, "last"), &last) != 0) {
    return malformed(w, "tuples needs data and last");
  }
  const struct jtok *t = &doc.tok[data];
  if (ramp_add(&w->ramp, doc.text + t->start, t->end - t->start, last) != 0) return malformed(w, "tuples: not base64 of valid tuples");
  return 0;
}

static int on_ping(struct worker *w, int msg) {
  uint64_t seq, timeout_ms;
  if (json_uint(&doc, json_get(&doc, msg, "seq"), UINT32_MAX, &seq) != 0 ||
      json_uint(&doc, json_get(&doc, msg, "timeoutMs"), 86400000, &timeout_ms) != 0) {
    return malformed(w, "ping needs seq and timeoutMs");
  }
  if (w->role == ROLE_NONE) return 0;
  if (w->ping_active) send_pinged(w); /* a new round ends the old one with what it has */
  run_waited(w, CMD_PING_ALL, (uint32_t)seq);
  w->ping_active = 1;
  w->ping_seq = (uint32_t)seq;
  w->next_ping_us = now_mono_us();
  w->ping_deadline_us = w->next_ping_us + timeout_ms * 1000;
  return 0;
}

static int on_broadcast(struct worker *w, int msg) {
  uint64_t seq;
  if (json_uint(&doc, json_get(&doc, msg, "seq"), UINT32_MAX, &seq) != 0) return malformed(w, "broadcast needs seq");
  if (w->role == ROLE_NONE) return 0;
  int64_t written = run_waited(w, CMD_BROADCAST, (uint32_t)seq);
  struct jbuf b = {0};
  jb_lit(&b, "{\"type\":\"broadcasted\",\"seq\":");
  jb_uint(&b, seq);
  jb_lit(&b, ",\"written\":");
  jb_uint(&b, written > 0 ? (uint64_t)written : 0);
  jb_lit(&b, "}");
  send_buf(w, &b);
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
  send_buf(w, &b);
  return IPC_STOP;
}

static int on_line(void *ctx, char *line, size_t len) {
  struct worker *w = ctx;
  if (json_parse(&doc, line, len) != 0) return malformed(w, doc.error);
  if (doc.tok[0].type != J_OBJECT) return malformed(w, "not an object");
  int type = json_get(&doc, 0, "type");
  if (json_string_is(&doc, type, "start")) return on_start(w, 0);
  if (json_string_is(&doc, type, "tuples")) return on_tuples(w, 0);
  if (json_string_is(&doc, type, "ping")) return on_ping(w, 0);
  if (json_string_is(&doc, type, "broadcast")) return on_broadcast(w, 0);
  if (json_string_is(&doc, type, "report")) {
    if (w->role != ROLE_NONE) send_report(w);
    return 0;
  }
  if (json_string_is(&doc, type, "close")) return on_close(w);
  return malformed(w, "unknown type");
}

/* ---- timers and the loop ---- */

static void run_timers(struct worker *w, uint64_t now) {
  if (w->role == ROLE_NONE) return;
  if (w->role == ROLE_CLIENT && !w->ramp.done && now >= w->next_ramp_us) {
    int events = ramp_tick(&w->ramp, &w->holder, now);
    if (events & RAMP_WANT) send_lit(w, "{\"type\":\"want\"}");
    if (events & RAMP_DONE) {
      send_lit(w, "{\"type\":\"ramped\"}");
      ipc_shrink(&w->ipc);
    }
    w->next_ramp_us = now + RAMP_TICK_US;
  }
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
  return next <= now ? 0 : (int)((next - now + 999) / 1000);
}

static void run(struct worker *w) {
  while (!w->exiting) {
    uint64_t now = now_mono_us();
    run_timers(w, now);
    struct pollfd pfd = {.fd = w->ipc.fd, .events = POLLIN};
    int n = poll(&pfd, 1, next_timeout_ms(w, now_mono_us()));
    if (n < 0 && errno != EINTR) break;
    if (n <= 0) continue;
    int rc = ipc_read(&w->ipc, on_line, w);
    if (rc == IPC_TOO_LONG) {
      malformed(w, "a line longer than the limit");
    } else if (rc == IPC_EOF || rc == IPC_ERROR) {
      w->exiting = 1; /* the supervisor is gone: let go quietly */
      w->exit_code = 0;
    }
  }
}

int main(int argc, char **argv) {
  /* One malloc arena (the holder thread would otherwise get its own 64 MiB reservation)
   * and fixed thresholds, so large freed buffers go back to the kernel. */
  mallopt(M_ARENA_MAX, 1);
  mallopt(M_MMAP_THRESHOLD, 64 * 1024);
  mallopt(M_TRIM_THRESHOLD, 128 * 1024);
  signal(SIGPIPE, SIG_IGN);
  signal(SIGINT, SIG_IGN); /* Ctrl-C reaches the whole group; the supervisor decides */

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

  run(&w);
  if (w.exit_code == 0) close_holder(&w);
  ipc_free(&w.ipc);
  return w.exit_code;
}
