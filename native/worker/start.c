/* The C worker's `start`: the config as src/engine/c-worker-process.ts sends it (the
 * ServerWorkerConfig or ClientWorkerConfig of messages.ts without the plan, with the
 * holder settings resolved there: maxSamples, sendBufferBytes, stallTimeoutMs, and the
 * protocol's request in base64) read into a running holder, in the order worker.ts and
 * native-holder.ts keep: socket limits before holder_start, the protocol before any
 * connect, then the listeners or the ramp. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../proto/proto.h"
#include "../tls.h"
#include "base64.h"
#include "worker.h"

#define MAX_STALL_TIMEOUT_MS 86400000u

static int dup_string(const struct jdoc *d, int obj, const char *key, char **out);

static int read_uint(const struct jdoc *d, int obj, const char *key, uint64_t max, uint64_t *out) {
  return json_uint(d, json_get(d, obj, key), max, out);
}

/* Starts the holder with the settings every role has; limits apply to every socket it
 * opens (native-holder.ts: one size caps both SO_SNDBUF and TCP_NOTSENT_LOWAT). */
static int start_holder(struct worker *w, const struct jdoc *d, int config, uint32_t connect_timeout_ms) {
  uint64_t interval_ms, max_samples, send_buffer, stall_ms;
  if (read_uint(d, config, "reportIntervalMs", 86400000, &interval_ms) != 0 || interval_ms == 0) return worker_malformed(w, "reportIntervalMs");
  if (read_uint(d, config, "maxSamples", UINT32_MAX, &max_samples) != 0) return worker_malformed(w, "maxSamples");
  if (read_uint(d, config, "sendBufferBytes", INT32_MAX, &send_buffer) != 0) return worker_malformed(w, "sendBufferBytes");
  if (read_uint(d, config, "stallTimeoutMs", MAX_STALL_TIMEOUT_MS, &stall_ms) != 0) return worker_malformed(w, "stallTimeoutMs");
  int err = holder_init(&w->holder, &conn_io, connect_timeout_ms, (size_t)max_samples);
  proto_configure(&w->holder, PROTO_CONNLAB); /* read_protocol may change it, before any connect */
  w->holder.limits = (struct socket_limits){
      .send_buffer_bytes = (uint32_t)send_buffer,
      .notsent_lowat_bytes = (uint32_t)send_buffer,
      .stall_timeout_ms = (uint32_t)stall_ms,
  };
  if (err == 0) err = holder_start(&w->holder);
  w->holder_live = 1;
  if (err != 0) return worker_fail(w, FAIL_CODE, strerror(err), err);
  w->report_interval_us = interval_ms * 1000;
  w->next_report_us = clock_mono_us() + w->report_interval_us;
  return 0;
}

/* TLS refused: what OpenSSL (or its absence) said, as the addon's setTls throws it. */
static int tls_failed(struct worker *w, const char *why) {
  char message[400];
  snprintf(message, sizeof message, "--tls: %s", why);
  return worker_fail(w, strstr(why, "OpenSSL 3") ? "CONNLAB_ERR_PROTOCOL_UNSUPPORTED" : "CONNLAB_ERR_INVALID_ARGUMENT", message, 0);
}

/* ServerWorkerConfig.tls: the certificate and key files every accepted connection's
 * handshake uses (serve --tls-cert/--tls-key), before the first listen. */
static int read_server_tls(struct worker *w, const struct jdoc *d, int config) {
  int t = json_get(d, config, "tls");
  if (t < 0 || d->tok[t].type == J_NULL) return 0;
  char *cert = NULL, *key = NULL, *groups = NULL;
  int tickets = 0, bad = dup_string(d, t, "certFile", &cert) != 0 || dup_string(d, t, "keyFile", &key) != 0 ||
                        dup_string(d, t, "groups", &groups) != 0 || !cert || !key;
  int tt = json_get(d, t, "tickets");
  if (tt >= 0 && json_bool(d, tt, &tickets) != 0) bad = 1;
  const char *why = bad ? NULL : tls_configure_server(&w->holder, &(struct tls_server_config){cert, key, groups, tickets});
  free(cert);
  free(key);
  free(groups);
  if (bad) return worker_malformed(w, "tls needs certFile and keyFile");
  return why ? tls_failed(w, why) : 0;
}

static int listen_one(struct worker *w, const struct jdoc *d, int address, uint64_t backlog) {
  char host[64];
  uint64_t port;
  if (json_string(d, json_get(d, address, "host"), host, sizeof host, NULL) != 0 ||
      read_uint(d, address, "port", 65535, &port) != 0 || port == 0) {
    return worker_malformed(w, "listen address");
  }
  int fd = -1;
  int err = listener_open(host, (uint32_t)port, (int)backlog, &fd);
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
  return worker_fail(w, "CONNLAB_ERR_LISTEN", message, err);
}

static int start_server(struct worker *w, const struct jdoc *d, int config) {
  uint64_t backlog;
  int listen = json_get(d, config, "listen");
  if (listen < 0 || d->tok[listen].type != J_ARRAY) return worker_malformed(w, "listen");
  if (read_uint(d, config, "backlog", 0x7fffffff, &backlog) != 0 || backlog == 0) return worker_malformed(w, "backlog");
  int rc = start_holder(w, d, config, 0);
  if (rc == 0) rc = read_server_tls(w, d, config);
  if (rc != 0) return rc;
  w->role = ROLE_SERVER;
  for (uint32_t a = (uint32_t)listen + 1; a < d->tok[listen].next; a = d->tok[a].next) {
    if ((rc = listen_one(w, d, (int)a, backlog)) != 0) return rc;
  }
  return 0;
}

/* A string member copied to the heap; *out stays NULL for null or absent. -1: not a string. */
static int dup_string(const struct jdoc *d, int obj, const char *key, char **out) {
  int t = json_get(d, obj, key);
  *out = NULL;
  if (t < 0 || d->tok[t].type == J_NULL) return 0;
  if (d->tok[t].type != J_STRING) return -1;
  size_t cap = d->tok[t].end - d->tok[t].start + 1; /* unescaping never lengthens */
  *out = malloc(cap);
  if (!*out || json_string(d, t, *out, cap, NULL) != 0) return -1;
  return 0;
}

/* The request bytes (http: the GET; ws: the upgrade head), base64 in the config. */
static int read_request(const struct jdoc *d, int protocol, struct proto_cfg *cfg) {
  int t = json_get(d, protocol, "request");
  if (t < 0 || d->tok[t].type == J_NULL) return 0;
  if (d->tok[t].type != J_STRING) return -1;
  size_t len = d->tok[t].end - d->tok[t].start;
  cfg->request = malloc(len / 4 * 3 + 1);
  long bytes = cfg->request ? b64_decode(d->text + d->tok[t].start, len, cfg->request) : -1;
  if (bytes < 0) return -1;
  cfg->request_len = (size_t)bytes;
  return 0;
}

/* protocol.tls, as native-holder.ts setTls() hands it to the addon: the ALPN list in
 * wire format and base64, the roots as PEM text. */
static int read_client_tls(struct worker *w, const struct jdoc *d, int protocol) {
  int t = json_get(d, protocol, "tls");
  if (t < 0 || d->tok[t].type == J_NULL) return 0;
  struct tls_config cfg = {0};
  char *sni = NULL, *roots = NULL, *name = NULL, *groups = NULL, *alpn64 = NULL;
  uint8_t alpn[256];
  long alpn_len = 0;
  int bad = dup_string(d, t, "sni", &sni) != 0 || dup_string(d, t, "rootsPem", &roots) != 0 || dup_string(d, t, "verifyName", &name) != 0 ||
            dup_string(d, t, "groups", &groups) != 0 || dup_string(d, t, "alpn", &alpn64) != 0 || json_bool(d, json_get(d, t, "verify"), &cfg.verify) != 0;
  if (!bad && alpn64 && (strlen(alpn64) / 4 * 3 > sizeof alpn || (alpn_len = b64_decode(alpn64, strlen(alpn64), alpn)) < 0)) bad = 1;
  const char *why = NULL;
  if (!bad) {
    cfg.sni = sni;
    cfg.alpn = alpn_len > 0 ? alpn : NULL;
    cfg.alpn_len = (size_t)alpn_len;
    cfg.roots_pem = roots;
    cfg.roots_len = roots ? strlen(roots) : 0;
    cfg.verify_name = name;
    cfg.groups = groups;
    why = tls_configure(&w->holder, &cfg);
  }
  free(sni);
  free(roots);
  free(name);
  free(groups);
  free(alpn64);
  if (bad) return worker_malformed(w, "protocol.tls");
  return why ? tls_failed(w, why) : 0;
}

/* ClientWorkerConfig.protocol, as native-holder.ts setProtocol() hands it to the addon:
 * absent, null and connlab leave the holder speaking connlab frames (over TLS too). */
static int read_protocol(struct worker *w, const struct jdoc *d, int config) {
  int protocol = json_get(d, config, "protocol");
  if (protocol < 0 || d->tok[protocol].type == J_NULL) return 0;
  uint64_t kind, keepalive_s = 0, tcp_keepalive_s = 0;
  if (read_uint(d, protocol, "kind", PROTO_KINDS - 1, &kind) != 0) return worker_malformed(w, "protocol.kind");
  if (kind == PROTO_CONNLAB) return read_client_tls(w, d, protocol);
  int t = json_get(d, protocol, "keepaliveSeconds");
  if (t >= 0 && json_uint(d, t, 0xffff, &keepalive_s) != 0) return worker_malformed(w, "protocol.keepaliveSeconds");
  t = json_get(d, protocol, "tcpKeepaliveSeconds");
  if (t >= 0 && json_uint(d, t, UINT32_MAX, &tcp_keepalive_s) != 0) return worker_malformed(w, "protocol.tcpKeepaliveSeconds");
  struct proto_cfg *cfg = &w->holder.proto;
  if (read_request(d, protocol, cfg) != 0) return worker_malformed(w, "protocol.request");
  if (dup_string(d, protocol, "clientIdPrefix", &cfg->client_prefix) != 0 || dup_string(d, protocol, "username", &cfg->username) != 0 ||
      dup_string(d, protocol, "password", &cfg->password) != 0) {
    return worker_malformed(w, "protocol strings");
  }
  cfg->keepalive_s = (uint16_t)keepalive_s;
  cfg->tcp_keepalive_s = (uint32_t)tcp_keepalive_s;
  proto_configure(&w->holder, (int)kind);
  w->proto_kind = (int)kind;
  w->tls = json_get(d, protocol, "tls") >= 0 && d->tok[json_get(d, protocol, "tls")].type != J_NULL;
  return read_client_tls(w, d, protocol);
}

/* ClientWorkerConfig's IPv6 table (holder.h addr6), base64; absent or null: none. */
static int read_addresses6(struct worker *w, const struct jdoc *d, int config) {
  int t = json_get(d, config, "addresses6");
  if (t < 0 || d->tok[t].type == J_NULL) return 0;
  if (d->tok[t].type != J_STRING) return worker_malformed(w, "addresses6");
  size_t len = d->tok[t].end - d->tok[t].start;
  uint8_t *table = malloc(len / 4 * 3 + 1);
  long bytes = table ? b64_decode(d->text + d->tok[t].start, len, table) : -1;
  int err = bytes < 0 ? EINVAL : holder_set_addresses6(&w->holder, table, (size_t)bytes);
  free(table);
  return err == 0 ? 0 : worker_malformed(w, "addresses6");
}

static int start_client(struct worker *w, const struct jdoc *d, int config) {
  uint64_t timeout_ms, max_pending;
  double rate_per_sec = 0, churn_per_sec = 0;
  if (read_uint(d, config, "connectTimeoutMs", UINT32_MAX, &timeout_ms) != 0) return worker_malformed(w, "connectTimeoutMs");
  if (read_uint(d, config, "maxPending", UINT32_MAX, &max_pending) != 0 || max_pending == 0) return worker_malformed(w, "maxPending");
  int rate = json_get(d, config, "ratePerSec");
  if (rate < 0 || (d->tok[rate].type != J_NULL && (json_number(d, rate, &rate_per_sec) != 0 || !(rate_per_sec > 0)))) {
    return worker_malformed(w, "ratePerSec");
  }
  int churn = json_get(d, config, "churnPerSec");
  if (churn >= 0 && (json_number(d, churn, &churn_per_sec) != 0 || !(churn_per_sec >= 0) || churn_per_sec > 1e9)) {
    return worker_malformed(w, "churnPerSec");
  }
  int rc = start_holder(w, d, config, (uint32_t)timeout_ms);
  if (rc == 0) rc = read_protocol(w, d, config); /* before the first connect: the ramp's first tick */
  if (rc == 0) rc = read_addresses6(w, d, config);
  if (rc != 0) return rc;
  w->role = ROLE_CLIENT;
  w->churn_per_sec = churn_per_sec;
  /* The window the loop keeps and the ramp's queue target; the first connect command
   * (through the holder's mutex) publishes it to the loop thread. */
  w->holder.max_pending = (uint32_t)max_pending;
  w->ramp.rated = d->tok[rate].type != J_NULL;
  w->ramp.rate_per_sec = rate_per_sec;
  w->ramp.last_tick_us = clock_mono_us();
  w->next_ramp_us = w->ramp.last_tick_us;
  return 0;
}

int worker_start(struct worker *w, const struct jdoc *d, int msg) {
  if (w->role != ROLE_NONE) return worker_malformed(w, "start sent twice");
  int config = json_get(d, msg, "config");
  if (!json_string_is(d, json_get(d, config, "holder"), "native")) return worker_malformed(w, "config.holder must be native");
  int role = json_get(d, config, "role");
  int rc = json_string_is(d, role, "server") ? start_server(w, d, config)
           : json_string_is(d, role, "client") ? start_client(w, d, config)
                                               : worker_malformed(w, "config.role");
  if (rc != 0) return rc;
  struct jbuf b = {0};
  jb_lit(&b, "{\"type\":\"started\",\"pid\":");
  jb_uint(&b, (uint64_t)getpid());
  jb_lit(&b, ",\"holder\":\"native\"}");
  worker_send(w, &b);
  return 0;
}
