/* WebSocket client (RFC 6455): the upgrade answer (101, Upgrade, Connection and
 * Sec-WebSocket-Accept = base64(SHA-1(key + GUID))), then server frames: unmasked,
 * no extensions (RSV bits 0), control frames unfragmented and at most 125 bytes.
 * Pongs whose 12-byte payload is ours (gen u32, CLOCK_MONOTONIC µs u64, big-endian)
 * answer a ping round; server pings are answered with a pong of the same payload (any
 * length a control frame may have: the state keeps WS_HEAD_KEEP = 125 bytes); a close
 * frame with a valid code (7.4) and a UTF-8 reason is echoed and ends the connection
 * with its code reported; any other close is answered with 1002 (1007 for a reason that
 * is not UTF-8) and ends it as a protocol error, its code never echoed (7.1.5, 7.4.1).
 * Data messages are counted, with the delivery time when they start with
 * "connlab-ts:<CLOCK_REALTIME µs>". A broken frame reports its own bytes (the header,
 * then the payload kept) as the bad sample, never the handshake before it. */
#include <string.h>

#include "proto.h"

static const char WS_GUID[] = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

/* ---- SHA-1 (FIPS 180-4), only for the 60-byte accept input ---- */

static uint32_t rol(uint32_t x, int n) { return (x << n) | (x >> (32 - n)); }

static void sha1_block(uint32_t h[5], const uint8_t *b) {
  uint32_t w[80];
  for (int i = 0; i < 16; i++) w[i] = (uint32_t)b[4 * i] << 24 | (uint32_t)b[4 * i + 1] << 16 | (uint32_t)b[4 * i + 2] << 8 | b[4 * i + 3];
  for (int i = 16; i < 80; i++) w[i] = rol(w[i - 3] ^ w[i - 8] ^ w[i - 14] ^ w[i - 16], 1);
  uint32_t a = h[0], bb = h[1], c = h[2], d = h[3], e = h[4];
  for (int i = 0; i < 80; i++) {
    uint32_t f, k;
    if (i < 20) f = (bb & c) | (~bb & d), k = 0x5A827999;
    else if (i < 40) f = bb ^ c ^ d, k = 0x6ED9EBA1;
    else if (i < 60) f = (bb & c) | (bb & d) | (c & d), k = 0x8F1BBCDC;
    else f = bb ^ c ^ d, k = 0xCA62C1D6;
    uint32_t t = rol(a, 5) + f + e + k + w[i];
    e = d, d = c, c = rol(bb, 30), bb = a, a = t;
  }
  h[0] += a, h[1] += bb, h[2] += c, h[3] += d, h[4] += e;
}

void sha1(const uint8_t *data, size_t len, uint8_t digest[20]) {
  uint32_t h[5] = {0x67452301, 0xEFCDAB89, 0x98BADCFE, 0x10325476, 0xC3D2E1F0};
  uint8_t block[64];
  size_t i = 0;
  for (; i + 64 <= len; i += 64) sha1_block(h, data + i);
  size_t rest = len - i;
  memset(block, 0, sizeof block);
  memcpy(block, data + i, rest);
  block[rest] = 0x80;
  if (rest >= 56) {
    sha1_block(h, block);
    memset(block, 0, sizeof block);
  }
  uint64_t bits = (uint64_t)len * 8;
  for (int j = 0; j < 8; j++) block[63 - j] = (uint8_t)(bits >> (8 * j));
  sha1_block(h, block);
  for (int j = 0; j < 20; j++) digest[j] = (uint8_t)(h[j / 4] >> (24 - 8 * (j % 4)));
}

size_t base64_encode(const uint8_t *in, size_t len, char *out) {
  static const char T[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  size_t o = 0;
  for (size_t i = 0; i < len; i += 3) {
    uint32_t v = (uint32_t)in[i] << 16 | (i + 1 < len ? (uint32_t)in[i + 1] << 8 : 0) | (i + 2 < len ? in[i + 2] : 0);
    out[o++] = T[(v >> 18) & 63];
    out[o++] = T[(v >> 12) & 63];
    out[o++] = i + 1 < len ? T[(v >> 6) & 63] : '=';
    out[o++] = i + 2 < len ? T[v & 63] : '=';
  }
  out[o] = 0;
  return o;
}

void ws_key_for(const uint8_t nonce[16], char key[25], char accept[29]) {
  uint8_t input[24 + sizeof WS_GUID - 1];
  uint8_t digest[20];
  base64_encode(nonce, 16, key);
  memcpy(input, key, 24);
  memcpy(input + 24, WS_GUID, sizeof WS_GUID - 1);
  sha1(input, sizeof input, digest);
  base64_encode(digest, 20, accept);
}

uint64_t proto_stamp(const uint8_t *p, size_t n) {
  static const char PREFIX[] = "connlab-ts:";
  size_t k = sizeof PREFIX - 1;
  if (n <= k || memcmp(p, PREFIX, k) != 0) return 0;
  uint64_t v = 0;
  size_t i = k;
  for (; i < n && i < k + 19 && p[i] >= '0' && p[i] <= '9'; i++) v = v * 10 + (uint64_t)(p[i] - '0');
  return i > k ? v : 0;
}

int ws_frame_write(struct proto_out *out, uint8_t opcode, const uint8_t *payload, size_t len, uint32_t mask) {
  if (len > 125 || out->cap - out->len < 6 + len) return -1;
  uint8_t *b = out->buf + out->len;
  b[0] = (uint8_t)(0x80 | opcode);
  b[1] = (uint8_t)(0x80 | len);
  for (int i = 0; i < 4; i++) b[2 + i] = (uint8_t)(mask >> (24 - 8 * i));
  for (size_t i = 0; i < len; i++) b[6 + i] = payload[i] ^ b[2 + (i & 3)];
  out->len += 6 + len;
  return 0;
}

static uint64_t be(const uint8_t *p, int n) {
  uint64_t v = 0;
  for (int i = 0; i < n; i++) v = v << 8 | p[i];
  return v;
}

/* A close code a peer may send (RFC 6455 7.4.1-7.4.2, the IANA registry up to 1014):
 * 1004 is reserved, 1005, 1006 and 1015 must never be on the wire, 1016-2999 belong to
 * future RFCs, 3000-4999 to libraries and applications. As the ws package decides. */
int ws_close_code_valid(uint32_t code) {
  return (code >= 1000 && code <= 1014 && code != 1004 && code != 1005 && code != 1006) || (code >= 3000 && code <= 4999);
}

/* Whether p[0..n) is well-formed UTF-8 (RFC 3629: no overlongs, surrogates or > U+10FFFF). */
int ws_utf8_valid(const uint8_t *p, size_t n) {
  size_t i = 0;
  while (i < n) {
    uint8_t c = p[i];
    size_t k = c < 0x80 ? 0 : c >= 0xC2 && c <= 0xDF ? 1 : c >= 0xE0 && c <= 0xEF ? 2 : c >= 0xF0 && c <= 0xF4 ? 3 : 9;
    if (k == 9 || n - i <= k) return k == 0;
    uint8_t lo = 0x80, hi = 0xBF; /* the second byte's range (Table 3-7 of Unicode) */
    if (c == 0xE0) lo = 0xA0;
    else if (c == 0xED) hi = 0x9F;
    else if (c == 0xF0) lo = 0x90;
    else if (c == 0xF4) hi = 0x8F;
    for (size_t j = 1; j <= k; j++) {
      uint8_t b = p[i + j];
      if (b < (j == 1 ? lo : 0x80) || b > (j == 1 ? hi : 0xBF)) return 0;
    }
    i += k + 1;
  }
  return 1;
}

/* The frame header is complete: validate it and set up the payload. */
static int frame_header(struct ws_frame *f) {
  uint8_t b0 = f->hdr[0], b1 = f->hdr[1];
  uint8_t op = b0 & 0x0f;
  uint64_t len = b1 & 0x7f;
  if (len == 126) len = be(f->hdr + 2, 2);
  else if (len == 127) len = be(f->hdr + 2, 8);
  if ((b0 & 0x70) || (b1 & 0x80) || (len >> 63)) return PV_PROTOCOL; /* RSV, masked by a server, 64-bit MSB */
  if (op & 8) {
    if (op > 10 || !(b0 & 0x80) || len > 125) return PV_PROTOCOL;
  } else if (op == 0) {
    if (!f->msg_op) return PV_PROTOCOL; /* a continuation of nothing */
  } else if (op > 2 || f->msg_op) {
    return PV_PROTOCOL; /* a reserved opcode, or a new message inside a fragmented one */
  }
  f->opcode = op;
  f->remaining = len;
  f->head_len = 0;
  f->msg_head = op == 1 || op == 2;
  if (!(op & 8)) f->msg_op = (b0 & 0x80) ? 0 : (op ? op : f->msg_op);
  return PV_OK;
}

static void frame_reset(struct ws_frame *f) {
  f->hdr_len = 0;
  f->hdr_need = 2;
}

/* Appends an answer (pong, close echo). When the pongs this feed already owes fill the
 * buffer (a read holding many pings, as they pile up while the client is busy), they
 * are dropped first: they answer older pings, which RFC 6455 5.5.3 lets a client leave
 * unanswered for the most recent one, and after a close they no longer matter. `base`
 * is out->len when the feed began: what was in the buffer before is kept. */
static int answer(struct proto_out *out, size_t base, uint8_t opcode, const uint8_t *payload, size_t len, uint32_t mask) {
  if (ws_frame_write(out, opcode, payload, len, mask) == 0) return 0;
  out->len = base;
  return ws_frame_write(out, opcode, payload, len, mask);
}

/* The frame that broke the protocol, as the bad sample: its header, then its payload. */
static void report_bad(const struct ws_frame *f, const struct proto_sink *sink) {
  if (!sink->bad) return;
  uint8_t b[PROTO_BAD_BYTES];
  size_t n = f->hdr_len < PROTO_BAD_BYTES ? f->hdr_len : PROTO_BAD_BYTES;
  memcpy(b, f->hdr, n);
  size_t more = f->head_len < PROTO_BAD_BYTES - n ? f->head_len : PROTO_BAD_BYTES - n;
  memcpy(b + n, f->head, more);
  sink->bad(sink->ctx, b, n + more);
}

/* A close frame that breaks 7.4 (a bad code, one byte, a reason not UTF-8): answered
 * with 1002 (1007 for the reason) unless we closed first, never echoed. */
static int close_refused(struct ws_client *s, struct proto_out *out, size_t base, uint16_t why) {
  if (!s->closing) {
    uint8_t code[2] = {(uint8_t)(why >> 8), (uint8_t)why};
    answer(out, base, 8, code, 2, s->mask);
    s->closing = 1;
  }
  return PV_PROTOCOL;
}

/* A frame's payload has all arrived. */
static int frame_done(struct ws_client *s, const struct proto_sink *sink, struct proto_out *out, size_t base) {
  struct ws_frame *f = &s->u.frame;
  uint64_t full = f->head_len; /* control payloads are <= 125 = WS_HEAD_KEEP: all of it */
  switch (f->opcode) {
    case 9: /* ping: answer it */
      if (!s->closing && answer(out, base, 10, f->head, (size_t)full, s->mask) != 0) return PV_PROTOCOL;
      return PV_OK;
    case 10: /* pong: ours carries gen and send time */
      if (full == 12) sink->answer(sink->ctx, (uint32_t)be(f->head, 4), be(f->head + 4, 8));
      return PV_OK;
    case 8: {
      uint32_t code = full >= 2 ? (uint32_t)be(f->head, 2) : 1005;
      if (full == 1 || (full >= 2 && !ws_close_code_valid(code))) return close_refused(s, out, base, 1002);
      if (full > 2 && !ws_utf8_valid(f->head + 2, (size_t)full - 2)) return close_refused(s, out, base, 1007);
      sink->code(sink->ctx, PC_WS_CLOSE, code);
      if (!s->closing) {
        uint8_t echo[2] = {(uint8_t)(code >> 8), (uint8_t)code};
        answer(out, base, 8, echo, full >= 2 ? 2 : 0, s->mask);
        s->closing = 1;
      }
      return PV_SERVER_CLOSE;
    }
    default:
      if (f->msg_head) sink->message(sink->ctx, proto_stamp(f->head, f->head_len));
      return PV_OK;
  }
}

static int frames_feed(struct ws_client *s, const uint8_t *p, size_t n, const struct proto_sink *sink, struct proto_out *out) {
  struct ws_frame *f = &s->u.frame;
  size_t base = out->len;
  while (n > 0) {
    if (f->hdr_len < f->hdr_need) {
      f->hdr[f->hdr_len++] = *p++;
      n--;
      if (f->hdr_len == 2) {
        uint8_t l7 = f->hdr[1] & 0x7f;
        f->hdr_need = (uint8_t)(2 + (l7 == 126 ? 2 : l7 == 127 ? 8 : 0));
      }
      if (f->hdr_len < f->hdr_need) continue;
      int v = frame_header(f);
      if (v != PV_OK) {
        f->head_len = 0;
        report_bad(f, sink);
        return v;
      }
      if (f->remaining > 0) continue;
    } else {
      size_t take = n < f->remaining ? n : (size_t)f->remaining;
      size_t room = (size_t)WS_HEAD_KEEP - f->head_len;
      size_t keep = room < take ? room : take;
      memcpy(f->head + f->head_len, p, keep);
      f->head_len = (uint8_t)(f->head_len + keep);
      p += take;
      n -= take;
      f->remaining -= take;
      if (f->remaining > 0) continue;
    }
    int v = frame_done(s, sink, out, base);
    if (v == PV_PROTOCOL) report_bad(f, sink);
    frame_reset(f);
    if (v != PV_OK) return v;
  }
  return PV_OK;
}

int ws_client_feed(struct ws_client *s, const uint8_t *p, size_t n, const char *expect_accept,
                   const struct proto_sink *sink, struct proto_out *out) {
  if (!s->open) {
    size_t used = 0;
    int done = http_resp_feed(&s->u.handshake, p, n, &used, expect_accept);
    if (done == HTTP_MORE) return PV_OK;
    if (done != HTTP_COMPLETE) {
      if (done == HTTP_ERROR) http_report_bad(&s->u.handshake, used ? p[used - 1] : -1, sink);
      return http_verdict(done);
    }
    struct http_resp *r = &s->u.handshake;
    sink->code(sink->ctx, PC_HTTP_STATUS, r->status);
    uint8_t want = WS_OK_UPGRADE | WS_OK_CONNECTION | WS_OK_ACCEPT;
    if (r->status != 101 || (r->ws_ok & (want | WS_OK_BAD_ACCEPT)) != want) return PV_REFUSED;
    memset(&s->u, 0, sizeof s->u);
    frame_reset(&s->u.frame);
    s->open = 1;
    p += used;
    n -= used;
  }
  return frames_feed(s, p, n, sink, out);
}
