/* Target "proto-ws": ws_client_feed() over the upgrade answer and then server frames
 * (RFC 6455): text and binary messages whole or fragmented with control frames between
 * the fragments, 7-, 16- and 64-bit lengths (and longer encodings than needed, which the
 * parser accepts), "connlab-ts:" stamps, pings with payloads (answered by a masked pong
 * with the same payload, or not at all once the client has sent its close), pongs that
 * are ours (12 bytes: gen, send time) or not, close frames with and without a code
 * (echoed, then the connection ends as the server's close; an invalid code or a reason
 * that is not UTF-8 is answered with 1002 or 1007 and ends it as protocol, RFC 6455
 * 7.4), refused upgrades, and headers that break one rule. Pings of any length a
 * control frame may have (125) are echoed. */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "proto-fuzz.h"

/* RFC 6455 1.3's example: this key's accept. The handshake carries the accept only. */
static const char ACCEPT[] = "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=";

static struct ws_client ws;

static void reset(const struct pmodel *m) {
  memset(&ws, 0, sizeof ws);
  ws.mask = m->mask;
  ws.closing = (uint8_t)m->closing;
}

static int feed(const uint8_t *p, size_t n, const struct proto_sink *sink, struct proto_out *out) {
  return ws_client_feed(&ws, p, n, ws.open ? NULL : ACCEPT, sink, out);
}

static const struct pclient client = {"ws", reset, feed, NULL, NULL, 1};

static struct pmodel md;

/* ws_gen_for_conn: the accept and mask client.c chose. */
static const char *accept_now = ACCEPT;
static int forced_mask;
static uint32_t mask_now;

/* ---- generators ---- */

enum {
  F_FRAGMENTED = 1, F_LEN16 = 2, F_LEN64 = 4, F_PING = 8, F_PONG = 16, F_CLOSE = 32, F_STAMP = 64, F_CONTROL_BETWEEN = 128,
  F_ALL = 255
};
static unsigned features;

/* A frame header with the payload length in the shortest encoding, or sometimes longer. */
static void frame_header(struct pmodel *m, struct rng *r, uint8_t b0, uint64_t len, int allow_long) {
  uint8_t h[10] = {b0};
  int enc = len < 126 ? 0 : len < 65536 ? 1 : 2;
  if (allow_long && enc < 2 && rng_one_in(r, 8)) enc = (int)rng_range(r, (uint64_t)enc + 1, 2);
  pm_mark(m);
  if (enc == 0) {
    h[1] = (uint8_t)len;
    pm_bytes(m, h, 2);
  } else if (enc == 1) {
    features |= F_LEN16;
    h[1] = 126, h[2] = (uint8_t)(len >> 8), h[3] = (uint8_t)len;
    pm_bytes(m, h, 4);
  } else {
    features |= F_LEN64;
    h[1] = 127;
    for (int i = 0; i < 8; i++) h[2 + i] = (uint8_t)(len >> (56 - 8 * i));
    pm_bytes(m, h, 10);
  }
}

static void payload_bytes(struct pmodel *m, struct rng *r, size_t n) {
  static uint8_t buf[4096];
  while (n > 0) {
    size_t k = n < sizeof buf ? n : sizeof buf;
    rng_fill(r, buf, k);
    pm_bytes(m, buf, k);
    n -= k;
  }
}

static size_t data_length(struct rng *r, int small) {
  if (small) return rng_below(r, 4);
  switch (rng_below(r, 10)) {
    case 0: return 0;
    case 1: case 2: case 3: case 4: return rng_range(r, 1, 125);
    case 5: return rng_range(r, 126, 300);
    case 6: case 7: return rng_range(r, 301, 65535);
    case 8: return rng_range(r, 65536, 70000);
    default: return rng_range(r, 70000, 300000);
  }
}

static void control(struct pmodel *m, struct rng *r, int small);

/* A text or binary message in 1-4 fragments; its event is due at the first frame's end,
 * with the stamp its first bytes carry. */
static void message(struct pmodel *m, struct rng *r, int small) {
  uint8_t op = (uint8_t)rng_range(r, 1, 2);
  int frags = rng_one_in(r, 3) ? (int)rng_range(r, 2, 4) : 1;
  if (frags > 1) features |= F_FRAGMENTED;
  for (int f = 0; f < frags; f++) {
    uint8_t b0 = (uint8_t)((f == frags - 1 ? 0x80 : 0) | (f == 0 ? op : 0));
    size_t len = data_length(r, small);
    uint64_t stamp = 0;
    char text[40] = "";
    if (f == 0 && rng_one_in(r, 3)) { /* "connlab-ts:<digits>", then the end or a non-digit */
      features |= F_STAMP;
      uint64_t digits = rng_range(r, 1, 19), v = rng_range(r, 1, 9);
      for (uint64_t i = 1; i < digits; i++) v = v * 10 + rng_below(r, 10);
      stamp = v;
      snprintf(text, sizeof text, "connlab-ts:%" PRIu64, v);
      if (rng_one_in(r, 5)) stamp = 0, text[11] = 'x'; /* not a number: no stamp */
      if (len < strlen(text)) len = strlen(text) + (small ? 0 : rng_below(r, 20));
    }
    frame_header(m, r, b0, len, 1);
    size_t t = strlen(text);
    pm_bytes(m, text, t);
    if (len > t) {
      if (t) pm_str(m, "-"), t++;
      else if (len) pm_str(m, "d"), t++; /* never "connlab-ts:" by chance */
      payload_bytes(m, r, len - t);
    }
    if (f == 0) pm_event(m, EV_MESSAGE, 0, 0, stamp);
    if (f < frags - 1 && rng_one_in(r, 3)) features |= F_CONTROL_BETWEEN, control(m, r, small);
  }
}

/* A ping, a pong or (rarely, it ends the stream) a close. */
static void control(struct pmodel *m, struct rng *r, int small) {
  uint8_t payload[125], frame[6 + 125];
  switch (rng_below(r, small ? 2 : 5)) {
    case 0:
    case 2: { /* ping: answered with a pong of the same payload */
      features |= F_PING;
      size_t len = rng_one_in(r, 8) ? rng_range(r, 100, 125) : rng_below(r, (small ? 4 : 40) + 1);
      rng_fill(r, payload, len);
      frame_header(m, r, 0x89, len, 0);
      pm_bytes(m, payload, len);
      if (!m->closing) ws_client_frame(frame, 10, payload, len, m->mask), pm_answer(m, frame, 6 + len);
      return;
    }
    default: { /* pong: ours (12 bytes) is an answer */
      features |= F_PONG;
      int ours = rng_one_in(r, 2);
      size_t len = ours ? 12 : rng_below(r, 126);
      if (len == 12 && !ours) len = 13;
      rng_fill(r, payload, len);
      frame_header(m, r, 0x8A, len, 0);
      pm_bytes(m, payload, len);
      if (!ours) return;
      uint64_t sent = 0;
      for (int i = 0; i < 8; i++) sent = sent << 8 | payload[4 + i];
      pm_event(m, EV_ANSWER, 0, (uint32_t)payload[0] << 24 | (uint32_t)payload[1] << 16 | (uint32_t)payload[2] << 8 | payload[3], sent);
    }
  }
}

/* The model's own account of RFC 6455 7.4 and the IANA registry: the codes a peer may send. */
static int model_code_ok(unsigned code) {
  static const unsigned listed[] = {1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 1012, 1013, 1014};
  for (size_t i = 0; i < sizeof listed / sizeof listed[0]; i++) {
    if (code == listed[i]) return 1;
  }
  return code >= 3000 && code <= 4999;
}

/* A reason: ASCII, or UTF-8 of every width; `broken` puts one bad sequence in it. */
static size_t close_reason(struct rng *r, uint8_t *dst, size_t room, int *broken) {
  static const char *const good[] = {"a", "\xc3\xa9", "\xe2\x9c\x93", "\xf0\x9f\x98\x80", "\xed\x9f\xbf", "\xf4\x8f\xbf\xbf"};
  static const char *const bad[] = {"\xff", "\xc0\x80", "\xed\xa0\x80", "\xe2\x82", "\xf4\x90\x80\x80", "\x80", "\xc3"};
  size_t n = 0, bad_at = *broken ? rng_below(r, room / 5 + 1) : SIZE_MAX, k = 0;
  *broken = 0;
  for (;; k++) {
    const char *s = k == bad_at ? bad[rng_below(r, 7)] : good[rng_one_in(r, 3) ? rng_below(r, 6) : 0];
    size_t len = strlen(s);
    if (n + len > room) break;
    memcpy(dst + n, s, len);
    n += len;
    if (k == bad_at) *broken = 1;
    if (k >= bad_at && rng_one_in(r, 3)) break;
  }
  return n;
}

static void close_frame(struct pmodel *m, struct rng *r, int small) {
  static const uint16_t codes[] = {1000, 1001, 1002, 1003, 1008, 1011, 1012, 3000, 4000, 4999,
                                   0, 999, 1004, 1005, 1006, 1015, 1016, 2999, 5000};
  uint8_t payload[125], frame[8];
  features |= F_CLOSE;
  size_t len = rng_one_in(r, 4) ? 0 : 2;
  uint16_t code = rng_one_in(r, 4) ? (uint16_t)rng_next(r) : codes[rng_below(r, sizeof codes / sizeof codes[0])];
  payload[0] = (uint8_t)(code >> 8), payload[1] = (uint8_t)code;
  int broken = len && rng_one_in(r, 6);
  if (len && !rng_one_in(r, 3)) len += close_reason(r, payload + 2, rng_range(r, 1, small ? 4 : 123), &broken);
  else broken = 0;
  if (rng_one_in(r, 30)) len = 1, broken = 0; /* one byte: not even a code */
  frame_header(m, r, 0x88, len, 0);
  pm_bytes(m, payload, len);
  uint16_t refuse = len == 1 || (len >= 2 && !model_code_ok(code)) ? 1002 : broken ? 1007 : 0;
  if (refuse) { /* answered with the reason for refusing it, never echoed */
    uint8_t why[2] = {(uint8_t)(refuse >> 8), (uint8_t)refuse};
    if (!m->closing) ws_client_frame(frame, 8, why, 2, m->mask), pm_answer(m, frame, 8);
    pm_verdict(m, PV_PROTOCOL, m->s.len);
    return;
  }
  pm_event(m, EV_CODE, PC_WS_CLOSE, len ? code : 1005, 0); /* 1005: no status code present (7.1.5) */
  if (!m->closing) ws_client_frame(frame, 8, payload, len ? 2 : 0, m->mask), pm_answer(m, frame, len ? 8 : 6);
  pm_verdict(m, PV_SERVER_CLOSE, m->s.len);
}

/* The 101 answer; refused ones (another status, a header missing or wrong) end it. */
static void handshake(struct pmodel *m, struct rng *r, int small, int refuse) {
  static const unsigned statuses[] = {100, 200, 204, 301, 400, 403, 404, 426, 500, 503};
  unsigned status = refuse && rng_one_in(r, 2) ? statuses[rng_below(r, 10)] : 101;
  int missing = refuse && status == 101 ? (int)rng_below(r, 4) : -1; /* 3: a wrong accept */
  pm_mark(m);
  pm_str(m, status == 101 ? "HTTP/1.1 101 Switching Protocols" : "HTTP/1.1 ");
  if (status != 101) {
    char s[8];
    snprintf(s, sizeof s, "%u", status);
    pm_str(m, s);
  }
  pm_line_end(m, r);
  if (!small) pm_filler_headers(m, r);
  int order = (int)rng_below(r, 3);
  for (int k = 0; k < 3; k++) {
    int which = (k + order) % 3;
    if (which == missing) continue;
    if (which == 0) pm_header(m, r, "Upgrade", rng_one_in(r, 2) ? "websocket" : "WebSocket");
    else if (which == 1) pm_header(m, r, "Connection", rng_one_in(r, 3) ? "keep-alive, Upgrade" : "Upgrade");
    else pm_header(m, r, "Sec-WebSocket-Accept", accept_now);
  }
  if (missing == 3) pm_header(m, r, "Sec-WebSocket-Accept", rng_one_in(r, 2) ? "s3pPLMBiTxaQ9kYGzzhZRbK+xOo" : "x3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
  if (!small) pm_filler_headers(m, r);
  if (status != 101 && rng_one_in(r, 2)) pm_header(m, r, "Content-Length", "5");
  pm_line_end(m, r);
  pm_event(m, EV_CODE, PC_HTTP_STATUS, status, 0);
  if (refuse) {
    pm_verdict(m, PV_REFUSED, m->s.len);
    pm_str(m, "body!");
  }
}

static void start(struct pmodel *m, struct rng *r) {
  pm_clear(m);
  m->mask = (uint32_t)rng_next(r);
  m->closing = rng_one_in(r, 10);
  if (forced_mask) m->mask = mask_now, m->closing = 0;
}

static void gen_ok(struct pmodel *m, struct rng *r, int small) {
  start(m, r);
  handshake(m, r, small, rng_one_in(r, 12));
  for (uint64_t k = rng_range(r, 1, small ? 3 : 12); k > 0 && pm_open(m); k--) {
    if (rng_one_in(r, 2)) message(m, r, small);
    else control(m, r, small);
  }
  if (pm_open(m) && rng_one_in(r, 3)) close_frame(m, r, small);
  if (!pm_open(m) && rng_one_in(r, 2)) pm_str(m, "\x81\x02hi"); /* after the end: never read */
}

/* A valid start, then a header that breaks one rule: the verdict is due when the
 * header (2, 4 or 10 bytes) is complete. */
static void gen_bad(struct pmodel *m, struct rng *r) {
  start(m, r);
  handshake(m, r, 0, 0);
  for (uint64_t k = rng_below(r, 4); k > 0 && pm_open(m); k--) control(m, r, 0);
  if (!pm_open(m)) return;
  uint8_t h[10] = {0x82, 0x01};
  size_t len = 2;
  switch (rng_below(r, 9)) {
    case 0: h[0] |= (uint8_t)(0x10 << rng_below(r, 3)); break; /* RSV bits: no extension was agreed */
    case 1: h[1] |= 0x80; break;                               /* masked: a server never masks (5.1) */
    case 2: h[1] = 127, h[2] = (uint8_t)rng_range(r, 0x80, 0xff), len = 10; break; /* 64-bit length with its MSB */
    case 3: h[0] = (uint8_t)(0x80 | rng_range(r, 3, 7)); break;   /* reserved data opcode */
    case 4: h[0] = (uint8_t)(0x80 | rng_range(r, 11, 15)); break; /* reserved control opcode */
    case 5: h[0] = (uint8_t)rng_range(r, 8, 10), h[1] = 0; break; /* control frame without FIN */
    case 6: h[0] = 0x89, h[1] = 126, h[2] = 0, h[3] = (uint8_t)rng_range(r, 126, 255), len = 4; break; /* control > 125 */
    case 7: h[0] = rng_one_in(r, 2) ? 0x80 : 0x00; break; /* a continuation of nothing */
    default: /* a new message inside a fragmented one */
      frame_header(m, r, 0x01, 1, 0);
      pm_str(m, "a");
      pm_event(m, EV_MESSAGE, 0, 0, 0);
      h[0] = (uint8_t)(rng_one_in(r, 2) ? 0x81 : 0x02);
  }
  pm_mark(m);
  pm_bytes(m, h, len);
  pm_verdict(m, PV_PROTOCOL, m->s.len);
  payload_bytes(m, r, rng_below(r, 40));
}


/* ---- cases ---- */

static void case_valid(struct rng *r) {
  gen_ok(&md, r, 0);
  pc_check_random(&client, &md, r);
}

static void case_small(struct rng *r) {
  gen_ok(&md, r, 1);
  pc_check_random(&client, &md, r);
}

static void case_invalid(struct rng *r) {
  gen_bad(&md, r);
  pc_check_random(&client, &md, r);
}

static void case_mutated(struct rng *r) {
  if (rng_one_in(r, 2)) gen_ok(&md, r, rng_one_in(r, 2));
  else gen_bad(&md, r);
  pm_mutate(&md, r);
  pc_check_any(&client, &md, r);
}

/* Frames of random bytes after a good handshake: every header the parser can meet. */
static void case_garbage(struct rng *r) {
  start(&md, r);
  handshake(&md, r, 1, 0);
  uint8_t junk[512];
  size_t n = rng_range(r, 1, sizeof junk);
  rng_fill(r, junk, n);
  if (rng_one_in(r, 2)) { /* short lengths, so more headers follow */
    for (size_t i = 1; i < n; i += 2 + (junk[i] & 7)) junk[i] &= 0x07;
  }
  pm_bytes(&md, junk, n);
  pc_check_any(&client, &md, r);
}

/* Many pings at once, as a server's pings pile up while the client is busy: fed with
 * client.c's answer buffer too, whose pongs may not all fit in one read's answer. */
static void gen_flood(struct pmodel *m, struct rng *r) {
  uint8_t payload[WS_HEAD_KEEP], frame[6 + WS_HEAD_KEEP];
  start(m, r);
  handshake(m, r, 1, 0);
  for (uint64_t k = rng_range(r, 8, 300); k > 0; k--) {
    size_t len = rng_below(r, sizeof payload + 1);
    rng_fill(r, payload, len);
    frame_header(m, r, 0x89, len, 0);
    pm_bytes(m, payload, len);
    if (!m->closing) ws_client_frame(frame, 10, payload, len, m->mask), pm_answer(m, frame, 6 + len);
  }
  if (rng_one_in(r, 2)) close_frame(m, r, 0);
}

void ws_gen_for_conn(struct pmodel *m, struct rng *r, int variant, const char *accept, uint32_t mask) {
  accept_now = accept;
  forced_mask = 1;
  mask_now = mask;
  if (variant == 2) gen_flood(m, r);
  else if (variant) gen_bad(m, r);
  else gen_ok(m, r, rng_one_in(r, 3));
  accept_now = ACCEPT;
  forced_mask = 0;
}

static void case_pings(struct rng *r) {
  gen_flood(&md, r);
  pc_check_any(&client, &md, r);
}

/* Weights 4x the frame targets': an iteration here costs a tenth of one there. */
static const struct fuzz_case cases[] = {
    {"frames", 16, case_valid},
    {"ping-flood", 4, case_pings},
    {"small-frames", 8, case_small},
    {"invalid", 8, case_invalid},
    {"mutated", 12, case_mutated},
    {"garbage", 8, case_garbage},
};

static void gen_small(struct pmodel *m, struct rng *r) { gen_ok(m, r, 1); }

/* Every one- and two-cut split of small streams that together exercise every feature
 * the generator has, and of streams that break a rule. */
static uint64_t exhaustive(void) {
  return pc_sweep_generated(&client, &md, gen_small, &features, F_ALL, 180, 12) +
         pc_sweep_generated(&client, &md, gen_bad, NULL, 0, 200, 6);
}

/* libFuzzer: byte 0 chooses closing, bytes 1-8 seed the cuts, the rest is the stream. */
static void one_input(const uint8_t *data, size_t size) {
  if (size < 9) return;
  pm_clear(&md);
  md.closing = data[0] & 1;
  md.mask = 0x12345678;
  struct rng r = {0};
  memcpy(&r.s, data + 1, 8);
  pm_bytes(&md, data + 9, size - 9);
  pc_check_any(&client, &md, &r);
}

/* The accept of RFC 6455's example key, computed by the code under test. */
static int setup(void) {
  char key[25], accept[29];
  ws_key_for((const uint8_t *)"the sample nonce", key, accept);
  FUZZ_CHECK(strcmp(key, "dGhlIHNhbXBsZSBub25jZQ==") == 0 && strcmp(accept, ACCEPT) == 0, "ws_key_for: %s %s", key, accept);
  return 0;
}

static void teardown(void) { pm_free(&md); }

const struct fuzz_target proto_ws_target = {
    .name = "proto-ws",
    .about = "ws_client_feed(): the upgrade and server frames at random and every split point, against the model",
    .setup = setup,
    .teardown = teardown,
    .exhaustive = exhaustive,
    .one_input = one_input,
    .cases = cases,
    .n_cases = sizeof cases / sizeof cases[0],
};
