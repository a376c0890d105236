/* The protocol parsers under AddressSanitizer and UBSan: representative server streams,
 * mutated (bytes flipped, inserted, dropped) with a fixed seed and fed in random cuts,
 * must never read or write out of bounds, overflow, or grow an answer past its buffer.
 * Built and run by test/protocol/proto-sanitize.test.ts:
 *   cc -std=gnu11 -g -O1 -fsanitize=address,undefined -fno-sanitize-recover=all \
 *      native/test/proto-sanitize.c native/proto/{http,ws,mqtt}.c -o proto-sanitize
 *   ./proto-sanitize ITERATIONS
 * (proto_out_append lives in client.c with the holder; this file has its own copy.) */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../proto/proto.h"

int proto_out_append(struct proto_out *out, const void *p, size_t len) {
  if (out->cap - out->len < len) return -1;
  memcpy(out->buf + out->len, p, len);
  out->len += len;
  return 0;
}

static void nop_answer(void *ctx, uint32_t gen, uint64_t sent_us) { (void)gen, (void)sent_us, ++*(int *)ctx; }
static void nop_message(void *ctx, uint64_t stamp) { (void)stamp, ++*(int *)ctx; }
static void nop_code(void *ctx, int kind, uint32_t code) { (void)kind, (void)code, ++*(int *)ctx; }

static const char HTTP_SEED[] =
    "HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nok\nHTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
    "5;x=1\r\nhello\r\n0\r\nT: y\r\n\r\nHTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 204 No Content\r\n\r\n";
static const char WS_SEED[] =
    "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
    "Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n"
    "\x8a\x0c\x00\x00\x00\x07\x00\x00\x00\x00\x00\x01\xe2\x40"
    "\x81\x1b" "connlab-ts:1700000000000000"
    "\x02\x03" "abc" "\x80\x02" "de"
    "\x89\x03" "xyz"
    "\x82\x7e\x00\x80" /* 128 bytes follow */
    "................................................................"
    "................................................................"
    "\x88\x02\x03\xe9";
static const uint8_t MQTT_SEED[] = {0x20, 0x02, 0x00, 0x00, 0xd0, 0x00, 0x30, 0x08, 0x00, 0x01, 0x74, 'h', 'e', 'l', 'l', 'o',
                                    0x90, 0x03, 0x00, 0x01, 0x00, 0xd0, 0x00, 0x30, 0x82, 0x01};

static uint64_t rng = 0x5eed;
static uint32_t next(void) {
  rng ^= rng << 13, rng ^= rng >> 7, rng ^= rng << 17;
  return (uint32_t)rng;
}

static size_t mutate(const uint8_t *seed, size_t n, uint8_t *out, size_t cap) {
  size_t len = 0;
  for (size_t i = 0; i < n && len < cap; i++) {
    uint32_t r = next() % 64;
    if (r == 0) continue;                                   /* drop */
    if (r == 1 && len < cap) out[len++] = (uint8_t)next(); /* insert */
    out[len++] = r == 2 ? (uint8_t)next() : seed[i];        /* flip */
  }
  return len;
}

int main(int argc, char **argv) {
  long iterations = argc > 1 ? atol(argv[1]) : 20000;
  int events = 0;
  struct proto_sink sink = {&events, nop_answer, nop_message, nop_code};
  static uint8_t buf[4096], answer[4096];
  for (long it = 0; it < iterations; it++) {
    int kind = (int)(it % 3);
    const uint8_t *seed = kind == 0 ? (const uint8_t *)HTTP_SEED : kind == 1 ? (const uint8_t *)WS_SEED : MQTT_SEED;
    size_t seed_len = kind == 0 ? sizeof HTTP_SEED - 1 : kind == 1 ? sizeof WS_SEED - 1 : sizeof MQTT_SEED;
    size_t n = mutate(seed, seed_len, buf, sizeof buf);
    union {
      struct http_client http;
      struct ws_client ws;
      struct mqtt_client mqtt;
    } st;
    memset(&st, 0, sizeof st);
    struct proto_out out = {answer, 0, sizeof answer};
    size_t at = 0;
    int v = PV_OK;
    while (at < n && v == PV_OK) {
      size_t take = 1 + next() % (n - at);
      if (kind == 0) st.http.outstanding = 1, v = http_client_feed(&st.http, buf + at, take, &sink);
      else if (kind == 1) v = ws_client_feed(&st.ws, buf + at, take, st.ws.open ? NULL : "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=", &sink, &out);
      else v = mqtt_client_feed(&st.mqtt, buf + at, take, &sink);
      if (out.len > out.cap) abort();
      out.len = 0;
      at += take;
    }
  }
  printf("ok %ld iterations, %d events\n", iterations, events);
  return 0;
}
