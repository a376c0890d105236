/* Test-only N-API addon (binding.gyp's connlab_test, built into build/Release/test/ so
 * that node-gyp-build never picks it for the holder; not packaged): the protocol parsers
 * of native/proto/ over raw bytes, no sockets, for test/protocol/proto-parsers.test.ts.
 * Kept out of the production addon so that no test entry point ships. */
#ifndef NAPI_VERSION
#define NAPI_VERSION 8
#endif
#include <node_api.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proto/proto.h"

#define CHECK(env, call)                                       \
  do {                                                         \
    if ((call) != napi_ok) {                                   \
      napi_throw_error((env), NULL, "connlab test: " #call);   \
      return NULL;                                             \
    }                                                          \
  } while (0)

static napi_value number(napi_env env, double v) {
  napi_value out;
  napi_create_double(env, v, &out);
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

struct test_ctx {
  napi_env env;
  napi_value events;
  uint32_t n;
  uint8_t *rearm; /* http, mqtt: the outstanding flag, set again after each answer (one request per answer) */
};

static void test_push(struct test_ctx *t, const char *text) {
  napi_value s;
  napi_create_string_utf8(t->env, text, NAPI_AUTO_LENGTH, &s);
  napi_set_element(t->env, t->events, t->n++, s);
}

static void test_answer(void *ctx, uint32_t gen, uint64_t sent_us) {
  struct test_ctx *t = ctx;
  char text[64];
  snprintf(text, sizeof text, "answer %u %llu", gen, (unsigned long long)sent_us);
  test_push(t, text);
  if (t->rearm) *t->rearm = 1;
}

static void test_message(void *ctx, uint64_t stamp_us) {
  char text[64];
  snprintf(text, sizeof text, "message %llu", (unsigned long long)stamp_us);
  test_push(ctx, text);
}

static void test_code(void *ctx, int kind, uint32_t code) {
  static const char *const names[] = {"?", "http", "ws_close", "mqtt_connack"};
  char text[64];
  snprintf(text, sizeof text, "code %s %u", names[kind > 0 && kind < 4 ? kind : 0], code);
  test_push(ctx, text);
}

static void test_bad(void *ctx, const uint8_t *p, size_t n) {
  char text[8 + 2 * PROTO_BAD_BYTES + 1] = "bad ";
  for (size_t i = 0; i < n && i < PROTO_BAD_BYTES; i++) snprintf(text + 4 + 2 * i, 3, "%02x", p[i]);
  test_push(ctx, text);
}

/* protoFeedForTest(kind, chunks[], expectAccept|null) -> { events, verdict, out }.
 * verdict: -1 open, else 'protocol' | 'server_close' | 'refused' | 'http_headers_too_large'
 * | 'http_body_too_large' as 0-4 (enum proto_verdict). */
static napi_value js_proto_feed(napi_env env, napi_callback_info info) {
  size_t argc = 3;
  napi_value argv[3];
  CHECK(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  uint32_t kind = 0, chunks = 0;
  napi_get_value_uint32(env, argv[0], &kind);
  CHECK(env, napi_get_array_length(env, argv[1], &chunks));
  char *accept = argc > 2 ? arg_string(env, argv[2]) : NULL;
  union {
    struct http_client http;
    struct ws_client ws;
    struct mqtt_client mqtt;
  } st;
  memset(&st, 0, sizeof st);
  uint8_t *rearm = kind == PROTO_HTTP ? &st.http.outstanding : kind == PROTO_MQTT ? &st.mqtt.outstanding : NULL;
  if (rearm) *rearm = 1;
  uint8_t outbuf[4096];
  struct proto_out out = {outbuf, 0, sizeof outbuf};
  struct test_ctx t = {env, NULL, 0, rearm};
  CHECK(env, napi_create_array(env, &t.events));
  struct proto_sink sink = {&t, test_answer, test_message, test_code, test_bad};
  int verdict = PV_OK;
  for (uint32_t i = 0; i < chunks && verdict == PV_OK; i++) {
    napi_value chunk;
    napi_typedarray_type type;
    void *data = NULL;
    size_t len = 0;
    CHECK(env, napi_get_element(env, argv[1], i, &chunk));
    CHECK(env, napi_get_typedarray_info(env, chunk, &type, &len, &data, NULL, NULL));
    if (kind == PROTO_HTTP) verdict = http_client_feed(&st.http, data, len, &sink);
    else if (kind == PROTO_WS) verdict = ws_client_feed(&st.ws, data, len, st.ws.open ? NULL : accept, &sink, &out);
    else if (kind == PROTO_MQTT) verdict = mqtt_client_feed(&st.mqtt, data, len, &sink);
  }
  free(accept);
  napi_value result, bytes;
  void *copy = NULL;
  CHECK(env, napi_create_object(env, &result));
  CHECK(env, napi_set_named_property(env, result, "events", t.events));
  CHECK(env, napi_set_named_property(env, result, "verdict", number(env, verdict)));
  CHECK(env, napi_create_buffer_copy(env, out.len, outbuf, &copy, &bytes));
  CHECK(env, napi_set_named_property(env, result, "out", bytes));
  CHECK(env, napi_set_named_property(env, result, "eofComplete",
                                     number(env, kind == PROTO_HTTP && http_resp_until_eof(&st.http.r))));
  return result;
}

/* wsKeyForTest(nonce Uint8Array(16)) -> [key, accept] */
static napi_value js_ws_key(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1], out, s;
  CHECK(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  napi_typedarray_type type;
  void *data = NULL;
  size_t len = 0;
  CHECK(env, napi_get_typedarray_info(env, argv[0], &type, &len, &data, NULL, NULL));
  if (len != 16) return NULL;
  char key[25], accept[29];
  ws_key_for(data, key, accept);
  CHECK(env, napi_create_array_with_length(env, 2, &out));
  CHECK(env, napi_create_string_utf8(env, key, 24, &s));
  CHECK(env, napi_set_element(env, out, 0, s));
  CHECK(env, napi_create_string_utf8(env, accept, 28, &s));
  CHECK(env, napi_set_element(env, out, 1, s));
  return out;
}

static napi_value init(napi_env env, napi_value exports) {
  napi_property_descriptor fns[] = {
      {"protoFeedForTest", NULL, js_proto_feed, NULL, NULL, NULL, napi_default, NULL},
      {"wsKeyForTest", NULL, js_ws_key, NULL, NULL, NULL, napi_default, NULL},
  };
  CHECK(env, napi_define_properties(env, exports, sizeof fns / sizeof fns[0], fns));
  return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, init)
