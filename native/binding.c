/* N-API surface of the holder (the only file that includes node_api.h). Each holder is
 * an external; the JS wrapper (src/engine/native-holder.ts) owns the shape of the API.
 * Commands that return a result (listen, pingAll, broadcast, closeAll) block the JS thread
 * until the loop thread answers, which takes microseconds to a few tens of
 * milliseconds for 20k sockets; that keeps the addon free of threadsafe functions,
 * so a holder never keeps the process alive. */
#ifndef NAPI_VERSION
#define NAPI_VERSION 8
#endif
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <node_api.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include "holder.h"
#include "proto/proto.h"
#include "tls.h"

struct handle {
  struct holder holder;
  int hooked; /* env cleanup hook registered */
};

#define CHECK(env, call)                                        \
  do {                                                          \
    if ((call) != napi_ok) {                                    \
      napi_throw_error((env), NULL, "connlab holder: " #call);  \
      return NULL;                                              \
    }                                                           \
  } while (0)

static void on_env_cleanup(void *arg) {
  struct handle *hd = arg;
  hd->hooked = 0;
  holder_stop(&hd->holder);
}

static void on_finalize(napi_env env, void *data, void *hint) {
  (void)hint;
  struct handle *hd = data;
  if (hd->hooked) napi_remove_env_cleanup_hook(env, on_env_cleanup, hd);
  holder_free(&hd->holder);
  free(hd);
}

/* Reads argv[0..n) and the holder from argv[0]; NULL (with a JS error) if destroyed. */
static struct handle *unwrap(napi_env env, napi_callback_info info, size_t n, napi_value *argv) {
  size_t argc = n;
  void *data = NULL;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc < 1 ||
      napi_get_value_external(env, argv[0], &data) != napi_ok) {
    napi_throw_type_error(env, NULL, "connlab holder: expected a holder handle");
    return NULL;
  }
  struct handle *hd = data;
  if (hd->holder.stopped) {
    napi_throw_error(env, "CONNLAB_ERR_HOLDER_DESTROYED", "connlab holder: destroyed");
    return NULL;
  }
  return hd;
}

static uint32_t arg_u32(napi_env env, napi_value v) {
  uint32_t out = 0;
  napi_get_value_uint32(env, v, &out);
  return out;
}

static napi_value number(napi_env env, double v) {
  napi_value out;
  napi_create_double(env, v, &out);
  return out;
}

/* create(connectTimeoutMs, maxSamples, sendBufferBytes, notsentLowatBytes, stallTimeoutMs) */
static napi_value js_create(napi_env env, napi_callback_info info) {
  size_t argc = 5;
  napi_value argv[5];
  CHECK(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc < 5) {
    napi_throw_type_error(env, NULL, "connlab holder: create takes 5 numbers");
    return NULL;
  }
  struct handle *hd = calloc(1, sizeof *hd);
  if (!hd) {
    napi_throw_error(env, NULL, "connlab holder: out of memory");
    return NULL;
  }
  int err = holder_init(&hd->holder, &conn_io, arg_u32(env, argv[0]), arg_u32(env, argv[1]));
  proto_configure(&hd->holder, PROTO_CONNLAB); /* until setProtocol says otherwise */
  hd->holder.limits = (struct socket_limits){
      .send_buffer_bytes = arg_u32(env, argv[2]),
      .notsent_lowat_bytes = arg_u32(env, argv[3]),
      .stall_timeout_ms = arg_u32(env, argv[4]),
  };
  if (err == 0) err = holder_start(&hd->holder);
  if (err != 0) {
    holder_free(&hd->holder);
    free(hd);
    napi_throw_error(env, NULL, strerror(err));
    return NULL;
  }
  napi_value ext;
  CHECK(env, napi_create_external(env, hd, on_finalize, NULL, &ext));
  hd->hooked = napi_add_env_cleanup_hook(env, on_env_cleanup, hd) == napi_ok;
  return ext;
}

/* listen(h, host, port, backlog) -> 0 or a positive errno */
static napi_value js_listen(napi_env env, napi_callback_info info) {
  napi_value argv[4];
  struct handle *hd = unwrap(env, info, 4, argv);
  if (!hd) return NULL;
  char host[64];
  size_t host_len = 0;
  CHECK(env, napi_get_value_string_utf8(env, argv[1], host, sizeof host, &host_len));
  int fd = -1;
  int err = listener_open(host, arg_u32(env, argv[2]), (int)arg_u32(env, argv[3]), &fd);
  if (err == 0) {
    struct cmd c = {.type = CMD_LISTEN, .fd = fd, .waited = 1};
    holder_submit(&hd->holder, &c);
    if (c.result < 0) {
      err = (int)-c.result;
      close(fd);
    }
  }
  return number(env, err);
}

/* connect(h, Uint32Array of [srcIp, srcPort, dstIp, dstPort]...) */
static napi_value js_connect(napi_env env, napi_callback_info info) {
  napi_value argv[2];
  struct handle *hd = unwrap(env, info, 2, argv);
  if (!hd) return NULL;
  napi_typedarray_type type;
  size_t length = 0;
  void *data = NULL;
  CHECK(env, napi_get_typedarray_info(env, argv[1], &type, &length, &data, NULL, NULL));
  if (type != napi_uint32_array || length % 4 != 0) {
    napi_throw_type_error(env, NULL, "connlab holder: tuples must be a Uint32Array of 4n");
    return NULL;
  }
  if (length == 0) return NULL;
  struct cmd *c = calloc(1, sizeof *c);
  uint32_t *tuples = malloc(length * sizeof *tuples);
  if (!c || !tuples) {
    free(c);
    free(tuples);
    napi_throw_error(env, NULL, "connlab holder: out of memory");
    return NULL;
  }
  memcpy(tuples, data, length * sizeof *tuples);
  c->type = CMD_CONNECT;
  c->tuples = tuples;
  c->count = length / 4;
  STAT_ADD(&hd->holder, ST_QUEUED, c->count);
  holder_submit(&hd->holder, c);
  return NULL;
}

/* pingAll(h, seq) -> pings written. Waits, so `verified` is already reset on return. */
static napi_value js_ping_all(napi_env env, napi_callback_info info) {
  napi_value argv[2];
  struct handle *hd = unwrap(env, info, 2, argv);
  if (!hd) return NULL;
  struct cmd c = {.type = CMD_PING_ALL, .waited = 1, .seq = arg_u32(env, argv[1])};
  holder_submit(&hd->holder, &c);
  return number(env, (double)c.result);
}

/* broadcast(h, seq, payload?) -> connections written to */
static napi_value js_broadcast(napi_env env, napi_callback_info info) {
  napi_value argv[3] = {NULL, NULL, NULL};
  struct handle *hd = unwrap(env, info, 3, argv);
  if (!hd) return NULL;
  struct cmd c = {.type = CMD_BROADCAST, .waited = 1, .seq = arg_u32(env, argv[1])};
  napi_valuetype vt = napi_undefined;
  if (argv[2]) napi_typeof(env, argv[2], &vt);
  if (vt == napi_object) {
    napi_typedarray_type type;
    void *data = NULL;
    CHECK(env, napi_get_typedarray_info(env, argv[2], &type, &c.payload_len, &data, NULL, NULL));
    if (type != napi_uint8_array || c.payload_len > 0xffff) {
      napi_throw_type_error(env, NULL, "connlab holder: payload must be a Uint8Array <= 65535");
      return NULL;
    }
    c.payload = data;
  }
  holder_submit(&hd->holder, &c);
  return number(env, (double)c.result);
}

/* churn(h, count) -> client connections reset and reconnected */
static napi_value js_churn(napi_env env, napi_callback_info info) {
  napi_value argv[2];
  struct handle *hd = unwrap(env, info, 2, argv);
  if (!hd) return NULL;
  struct cmd c = {.type = CMD_CHURN, .waited = 1, .seq = arg_u32(env, argv[1])};
  holder_submit(&hd->holder, &c);
  return number(env, (double)c.result);
}

/* stats(h, Float64Array(ST_COUNT), Float64Array(ERRNO_SLOTS)) */
static napi_value js_stats(napi_env env, napi_callback_info info) {
  napi_value argv[3];
  struct handle *hd = unwrap(env, info, 3, argv);
  if (!hd) return NULL;
  double *outs[2];
  size_t lens[2], want[2] = {ST_COUNT, ERRNO_SLOTS};
  uint64_t *src[2] = {hd->holder.stats, hd->holder.errors};
  for (int k = 0; k < 2; k++) {
    napi_typedarray_type type;
    void *data = NULL;
    CHECK(env, napi_get_typedarray_info(env, argv[1 + k], &type, &lens[k], &data, NULL, NULL));
    if (type != napi_float64_array || lens[k] < want[k]) {
      napi_throw_type_error(env, NULL, "connlab holder: stats buffers too small");
      return NULL;
    }
    outs[k] = data;
    for (size_t i = 0; i < want[k]; i++) outs[k][i] = (double)__atomic_load_n(&src[k][i], __ATOMIC_RELAXED);
  }
  return NULL;
}

static napi_value take_samples(napi_env env, struct sample_buf *b) {
  void *data = NULL;
  napi_value ab, arr;
  if (napi_create_arraybuffer(env, b->len * sizeof(uint32_t), &data, &ab) != napi_ok) return NULL;
  if (b->len) memcpy(data, b->data, b->len * sizeof(uint32_t));
  if (napi_create_typedarray(env, napi_uint32_array, b->len, ab, 0, &arr) != napi_ok) return NULL;
  b->len = 0;
  return arr;
}

/* drainSamples(h) -> [connectUs, rttUs, broadcastUs] */
static napi_value js_drain(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  struct handle *hd = unwrap(env, info, 1, argv);
  if (!hd) return NULL;
  struct holder *h = &hd->holder;
  struct sample_buf *bufs[3] = {&h->connect_us, &h->rtt_us, &h->broadcast_us};
  napi_value out;
  CHECK(env, napi_create_array_with_length(env, 3, &out));
  pthread_mutex_lock(&h->sample_lock);
  for (uint32_t i = 0; i < 3; i++) {
    napi_value arr = take_samples(env, bufs[i]);
    if (!arr || napi_set_element(env, out, i, arr) != napi_ok) {
      pthread_mutex_unlock(&h->sample_lock);
      napi_throw_error(env, NULL, "connlab holder: cannot allocate samples");
      return NULL;
    }
  }
  pthread_mutex_unlock(&h->sample_lock);
  return out;
}

/* A string argument copied to the heap, or NULL for null/undefined. */
static char *arg_string(napi_env env, napi_value v) {
  napi_valuetype t;
  size_t len = 0;
  if (napi_typeof(env, v, &t) != napi_ok || t != napi_string) return NULL;
  napi_get_value_string_utf8(env, v, NULL, 0, &len);
  char *s = malloc(len + 1);
  if (s) napi_get_value_string_utf8(env, v, s, len + 1, &len);
  return s;
}

/* setProtocol(h, kind, request|null, clientPrefix|null, username|null, password|null,
 * keepaliveS, tcpKeepaliveS): before the first connect, which publishes it to the loop
 * thread through the command queue's mutex. */
static napi_value js_set_protocol(napi_env env, napi_callback_info info) {
  napi_value argv[8];
  struct handle *hd = unwrap(env, info, 8, argv);
  if (!hd) return NULL;
  struct proto_cfg *cfg = &hd->holder.proto;
  uint32_t kind = arg_u32(env, argv[1]);
  if (kind >= PROTO_KINDS || cfg->request || STAT_GET(&hd->holder, ST_CONNECTED) || STAT_GET(&hd->holder, ST_PENDING)) {
    napi_throw_error(env, NULL, "connlab holder: setProtocol takes a known kind, once, before any connect");
    return NULL;
  }
  napi_valuetype t;
  napi_typeof(env, argv[2], &t);
  if (t == napi_object) {
    napi_typedarray_type type;
    void *data = NULL;
    size_t len = 0;
    CHECK(env, napi_get_typedarray_info(env, argv[2], &type, &len, &data, NULL, NULL));
    cfg->request = malloc(len ? len : 1);
    if (!cfg->request) return NULL;
    memcpy(cfg->request, data, len);
    cfg->request_len = len;
  }
  cfg->client_prefix = arg_string(env, argv[3]);
  cfg->username = arg_string(env, argv[4]);
  cfg->password = arg_string(env, argv[5]);
  cfg->keepalive_s = (uint16_t)arg_u32(env, argv[6]);
  cfg->tcp_keepalive_s = arg_u32(env, argv[7]);
  proto_configure(&hd->holder, (int)kind);
  return NULL;
}

/* setAddresses6(h, Uint8Array): the IPv6 table of IPv6 tuples (holder.h), before any
 * connect; published to the loop thread through the command queue's mutex. */
static napi_value js_set_addresses6(napi_env env, napi_callback_info info) {
  napi_value argv[2];
  struct handle *hd = unwrap(env, info, 2, argv);
  if (!hd) return NULL;
  napi_typedarray_type type;
  void *data = NULL;
  size_t len = 0;
  CHECK(env, napi_get_typedarray_info(env, argv[1], &type, &len, &data, NULL, NULL));
  if (type != napi_uint8_array || STAT_GET(&hd->holder, ST_CONNECTED) || STAT_GET(&hd->holder, ST_PENDING) ||
      holder_set_addresses6(&hd->holder, data, len) != 0) {
    napi_throw_error(env, NULL, "connlab holder: setAddresses6 takes 16-byte entries, before any connect");
  }
  return NULL;
}

/* setTls(h, sni|null, alpnWire|null, verify, rootsPem|null, verifyName|null, groups|null): before the
 * first connect, like setProtocol (tls.c). Throws with tls_configure's reason. */
static napi_value js_set_tls(napi_env env, napi_callback_info info) {
  napi_value argv[7];
  struct handle *hd = unwrap(env, info, 7, argv);
  if (!hd) return NULL;
  struct holder *h = &hd->holder;
  if (STAT_GET(h, ST_CONNECTED) || STAT_GET(h, ST_PENDING)) {
    napi_throw_error(env, NULL, "connlab holder: setTls comes after setProtocol and before any connect");
    return NULL;
  }
  struct tls_config cfg = {0};
  char *sni = arg_string(env, argv[1]), *roots = arg_string(env, argv[4]), *name = arg_string(env, argv[5]);
  char *groups = arg_string(env, argv[6]);
  napi_valuetype t;
  napi_typeof(env, argv[2], &t);
  if (t == napi_object) {
    napi_typedarray_type type;
    void *data = NULL;
    CHECK(env, napi_get_typedarray_info(env, argv[2], &type, &cfg.alpn_len, &data, NULL, NULL));
    cfg.alpn = data;
  }
  bool verify = true;
  napi_get_value_bool(env, argv[3], &verify);
  cfg.sni = sni;
  cfg.verify = verify;
  cfg.roots_pem = roots;
  cfg.roots_len = roots ? strlen(roots) : 0;
  cfg.verify_name = name;
  cfg.groups = groups;
  const char *err = tls_configure(h, &cfg);
  free(groups);
  free(sni);
  free(roots);
  free(name);
  if (err) napi_throw_error(env, "CONNLAB_ERR_TLS_CONFIG", err);
  return NULL;
}

/* setServerTls(h, certFile, keyFile, groups|null, tickets): before the first listen
 * (tls.c). Throws with tls_configure_server's reason. */
static napi_value js_set_server_tls(napi_env env, napi_callback_info info) {
  napi_value argv[5];
  struct handle *hd = unwrap(env, info, 5, argv);
  if (!hd) return NULL;
  if (STAT_GET(&hd->holder, ST_LISTENERS) || STAT_GET(&hd->holder, ST_ACCEPTED)) {
    napi_throw_error(env, NULL, "connlab holder: setServerTls comes before any listen");
    return NULL;
  }
  bool tickets = false;
  napi_get_value_bool(env, argv[4], &tickets);
  struct tls_server_config cfg = {.cert_file = arg_string(env, argv[1]), .key_file = arg_string(env, argv[2]),
                                  .groups = arg_string(env, argv[3]), .tickets = tickets};
  const char *err = cfg.cert_file && cfg.key_file ? tls_configure_server(&hd->holder, &cfg) : "a certificate and a key file are needed";
  free((char *)cfg.cert_file);
  free((char *)cfg.key_file);
  free((char *)cfg.groups);
  if (err) napi_throw_error(env, "CONNLAB_ERR_TLS_CONFIG", err);
  return NULL;
}

/* details(h) -> { codes: [kind, code, count, ...], bad: [Uint8Array...], tls: [text, count, ...] } */
static napi_value js_details(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  struct handle *hd = unwrap(env, info, 1, argv);
  if (!hd) return NULL;
  struct holder *h = &hd->holder;
  napi_value out, codes, bad;
  CHECK(env, napi_create_object(env, &out));
  CHECK(env, napi_create_array(env, &codes));
  uint32_t n = 0;
  for (int i = 0; i < CODE_SLOTS; i++) {
    uint32_t key = __atomic_load_n(&h->codes[i].key, __ATOMIC_ACQUIRE);
    if (!key) continue;
    double v[3] = {key >> 16, key & 0xffff, (double)__atomic_load_n(&h->codes[i].count, __ATOMIC_RELAXED)};
    for (int k = 0; k < 3; k++) CHECK(env, napi_set_element(env, codes, n++, number(env, v[k])));
  }
  CHECK(env, napi_create_array(env, &bad));
  uint32_t count = __atomic_load_n(&h->bad_count, __ATOMIC_ACQUIRE);
  for (uint32_t i = 0; i < count && i < BAD_SAMPLES; i++) {
    void *data = NULL;
    napi_value ab, arr;
    CHECK(env, napi_create_arraybuffer(env, h->bad_len[i], &data, &ab));
    memcpy(data, h->bad[i], h->bad_len[i]);
    CHECK(env, napi_create_typedarray(env, napi_uint8_array, h->bad_len[i], ab, 0, &arr));
    CHECK(env, napi_set_element(env, bad, i, arr));
  }
  napi_value tls, s;
  CHECK(env, napi_create_array(env, &tls));
  const char *text;
  uint64_t times;
  for (int i = 0, k = 0; tls_reason_at(h, i, &text, &times); i++) {
    CHECK(env, napi_create_string_utf8(env, text, NAPI_AUTO_LENGTH, &s));
    CHECK(env, napi_set_element(env, tls, k++, s));
    CHECK(env, napi_set_element(env, tls, k++, number(env, (double)times)));
  }
  CHECK(env, napi_set_named_property(env, out, "codes", codes));
  CHECK(env, napi_set_named_property(env, out, "bad", bad));
  CHECK(env, napi_set_named_property(env, out, "tls", tls));
  return out;
}

static napi_value js_close_all(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  struct handle *hd = unwrap(env, info, 1, argv);
  if (!hd) return NULL;
  struct cmd c = {.type = CMD_CLOSE_ALL, .waited = 1};
  holder_submit(&hd->holder, &c);
  return NULL;
}

static napi_value js_destroy(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  void *data = NULL;
  CHECK(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc < 1 || napi_get_value_external(env, argv[0], &data) != napi_ok) return NULL;
  struct handle *hd = data;
  if (hd->hooked) {
    napi_remove_env_cleanup_hook(env, on_env_cleanup, hd);
    hd->hooked = 0;
  }
  holder_stop(&hd->holder);
  return NULL;
}

/* setParentDeathSignal(sig) -> 0 or errno. PR_SET_PDEATHSIG: the kernel sends `sig` to
 * this process when the thread that forked it exits, so a worker cannot outlive a
 * supervisor killed with SIGKILL. Not about holders, but the addon is the one place
 * connlab makes a syscall Node does not offer. */
static napi_value js_set_parent_death_signal(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  int32_t sig = 0;
  CHECK(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc < 1 || napi_get_value_int32(env, argv[0], &sig) != napi_ok) {
    napi_throw_type_error(env, NULL, "connlab: setParentDeathSignal(signal number)");
    return NULL;
  }
  return number(env, prctl(PR_SET_PDEATHSIG, (unsigned long)sig, 0, 0, 0) == 0 ? 0 : errno);
}

static napi_value init(napi_env env, napi_value exports) {
  napi_property_descriptor fns[] = {
      {"create", NULL, js_create, NULL, NULL, NULL, napi_default, NULL},
      {"listen", NULL, js_listen, NULL, NULL, NULL, napi_default, NULL},
      {"connect", NULL, js_connect, NULL, NULL, NULL, napi_default, NULL},
      {"pingAll", NULL, js_ping_all, NULL, NULL, NULL, napi_default, NULL},
      {"broadcast", NULL, js_broadcast, NULL, NULL, NULL, napi_default, NULL},
      {"churn", NULL, js_churn, NULL, NULL, NULL, napi_default, NULL},
      {"stats", NULL, js_stats, NULL, NULL, NULL, napi_default, NULL},
      {"drainSamples", NULL, js_drain, NULL, NULL, NULL, napi_default, NULL},
      {"closeAll", NULL, js_close_all, NULL, NULL, NULL, napi_default, NULL},
      {"destroy", NULL, js_destroy, NULL, NULL, NULL, napi_default, NULL},
      {"setParentDeathSignal", NULL, js_set_parent_death_signal, NULL, NULL, NULL, napi_default, NULL},
      {"setProtocol", NULL, js_set_protocol, NULL, NULL, NULL, napi_default, NULL},
      {"details", NULL, js_details, NULL, NULL, NULL, napi_default, NULL},
      {"setTls", NULL, js_set_tls, NULL, NULL, NULL, napi_default, NULL},
      {"setAddresses6", NULL, js_set_addresses6, NULL, NULL, NULL, napi_default, NULL},
      {"setServerTls", NULL, js_set_server_tls, NULL, NULL, NULL, napi_default, NULL},
  };
  CHECK(env, napi_define_properties(env, exports, sizeof fns / sizeof fns[0], fns));
  napi_value names, s;
  CHECK(env, napi_create_array_with_length(env, ST_COUNT, &names));
  for (uint32_t i = 0; i < ST_COUNT; i++) {
    CHECK(env, napi_create_string_utf8(env, stat_names[i], NAPI_AUTO_LENGTH, &s));
    CHECK(env, napi_set_element(env, names, i, s));
  }
  CHECK(env, napi_set_named_property(env, exports, "statNames", names));
  CHECK(env, napi_set_named_property(env, exports, "errnoSlots", number(env, ERRNO_SLOTS)));
  const char *tls_library = tls_library_version();
  if (tls_library) CHECK(env, napi_create_string_utf8(env, tls_library, NAPI_AUTO_LENGTH, &s));
  else CHECK(env, napi_get_null(env, &s));
  CHECK(env, napi_set_named_property(env, exports, "tlsLibrary", s));
  return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, init)
