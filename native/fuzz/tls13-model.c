/* The tls13-records target's model and sealer (tls13-fuzz.h says what it promises). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tls13-fuzz.h"

const struct tsuite TSUITES[3] = {
    {"TLS_AES_128_GCM_SHA256", 0x03001301u, 16, 32},
    {"TLS_AES_256_GCM_SHA384", 0x03001302u, 32, 48},
    {"TLS_CHACHA20_POLY1305_SHA256", 0x03001303u, 32, 32},
};

static EVP_CIPHER_CTX *ctx;
static uint8_t *sends;
static size_t sends_cap;

void tm_free(void) {
  if (ctx) ossl.EVP_CIPHER_CTX_free(ctx);
  ctx = NULL;
  free(sends);
  sends = NULL;
  sends_cap = 0;
}

static const EVP_MD *hash_of(int suite) { return suite == 1 ? ossl.EVP_sha384() : ossl.EVP_sha256(); }
static const EVP_CIPHER *aead_of(int suite) {
  return suite == 0 ? ossl.EVP_aes_128_gcm() : suite == 1 ? ossl.EVP_aes_256_gcm() : ossl.EVP_chacha20_poly1305();
}

/* HKDF-Expand(secret, HkdfLabel, length) (RFC 5869 2.3, RFC 8446 7.1): T(1) | T(2) | ... */
static void expand_label(int suite, const uint8_t *secret, const char *label, uint8_t *out, size_t length) {
  int hash_len = TSUITES[suite].hash_len;
  uint8_t msg[64 + 80], t[64];
  size_t label_len = 6 + strlen(label), info_len = 2 + 1 + label_len + 1, done = 0, t_len = 0;
  uint8_t *info = msg + 64; /* T(n) = HMAC(secret, T(n-1) | info | n): room for T(n-1) before it */
  info[0] = (uint8_t)(length >> 8), info[1] = (uint8_t)length, info[2] = (uint8_t)label_len;
  memcpy(info + 3, "tls13 ", 6);
  memcpy(info + 9, label, label_len - 6);
  info[3 + label_len] = 0; /* Context: empty */
  for (uint8_t n = 1; done < length; n++) {
    memcpy(info - t_len, t, t_len);
    info[info_len] = n;
    unsigned got = 0;
    FUZZ_CHECK(ossl.HMAC(hash_of(suite), secret, hash_len, info - t_len, t_len + info_len + 1, t, &got) && got == (unsigned)hash_len,
               "HMAC");
    t_len = got;
    size_t take = length - done < t_len ? length - done : t_len;
    memcpy(out + done, t, take);
    done += take;
  }
}

void tm_derive(int suite, struct tdir *d) {
  expand_label(suite, d->secret, "key", d->key, (size_t)TSUITES[suite].key_len);
  expand_label(suite, d->secret, "iv", d->iv, 12);
  d->seq = 0;
}

/* RFC 8446 7.2: application_traffic_secret_N+1. */
static void next_generation(int suite, struct tdir *d) {
  uint8_t next[48];
  expand_label(suite, d->secret, "traffic upd", next, (size_t)TSUITES[suite].hash_len);
  memcpy(d->secret, next, sizeof next);
  tm_derive(suite, d);
}

/* Seals TLSInnerPlaintext (content, type, pad zeros) as one record at out (5.2); its length. */
static size_t seal(int suite, struct tdir *d, uint8_t type, const uint8_t *content, size_t len, size_t pad, uint8_t *out) {
  static uint8_t inner[T_BODY_MAX + 64];
  size_t inner_len = len + 1 + pad, body = inner_len + T_TAG;
  FUZZ_CHECK(inner_len <= sizeof inner && body <= 0xffff, "a %zu-byte inner plaintext", inner_len);
  memcpy(inner, content, len);
  inner[len] = type;
  memset(inner + len + 1, 0, pad);
  out[0] = T_APPLICATION, out[1] = 3, out[2] = 3, out[3] = (uint8_t)(body >> 8), out[4] = (uint8_t)body;
  uint8_t nonce[12];
  memcpy(nonce, d->iv, 12);
  for (int i = 0; i < 8; i++) nonce[4 + i] ^= (uint8_t)(d->seq >> (56 - 8 * i)); /* 5.3: left-padded seq */
  if (!ctx) ctx = ossl.EVP_CIPHER_CTX_new();
  int n;
  FUZZ_CHECK(ossl.EVP_EncryptInit_ex(ctx, aead_of(suite), NULL, d->key, nonce) == 1 &&
                 ossl.EVP_EncryptUpdate(ctx, NULL, &n, out, T_HEADER) == 1 &&
                 ossl.EVP_EncryptUpdate(ctx, out + T_HEADER, &n, inner, (int)inner_len) == 1 &&
                 ossl.EVP_EncryptFinal_ex(ctx, out + T_HEADER + inner_len, &n) == 1 &&
                 ossl.EVP_CIPHER_CTX_ctrl(ctx, OSSL_CTRL_AEAD_GET_TAG, T_TAG, out + T_HEADER + inner_len) == 1,
             "sealing with %s", TSUITES[suite].name);
  d->seq++;
  return T_HEADER + body;
}

/* One record from the peer, sealed with m->peer; returns the offset of its end. */
size_t tm_record(struct tmodel *m, uint8_t type, const uint8_t *content, size_t len, size_t pad) {
  static uint8_t rec[T_HEADER + T_BODY_MAX + 64];
  pm_mark(&m->pm);
  size_t n = seal(m->suite, &m->peer, type, content, len, pad, rec);
  pm_bytes(&m->pm, rec, n);
  return m->pm.s.len;
}

static void fail_at(struct tmodel *m, int kind, const char *text, size_t at) {
  if (!pm_open(&m->pm)) return;
  pm_verdict(&m->pm, kind, at);
  snprintf(m->fail_text, sizeof m->fail_text, "%s", text);
}

void tm_start(struct tmodel *m, struct rng *r, int suite, const uint8_t *rd_secret, const uint8_t *wr_secret) {
  pm_clear(&m->pm);
  m->suite = suite;
  m->plain_len = m->n_plain = 0;
  m->plain = grow_to(m->plain, &m->plain_cap, 1, 1); /* never NULL, for memcmp */
  m->fail_text[0] = 0;
  m->refuse_answers = 0;
  memset(&m->rd0, 0, sizeof m->rd0);
  memset(&m->wr0, 0, sizeof m->wr0);
  int hash_len = TSUITES[suite].hash_len;
  if (rd_secret) memcpy(m->rd0.secret, rd_secret, (size_t)hash_len);
  else rng_fill(r, m->rd0.secret, (size_t)hash_len);
  if (wr_secret) memcpy(m->wr0.secret, wr_secret, (size_t)hash_len);
  else rng_fill(r, m->wr0.secret, (size_t)hash_len);
  tm_derive(suite, &m->rd0);
  tm_derive(suite, &m->wr0);
  m->peer = m->rd0;
  m->holder = m->wr0;
}

void tm_app(struct tmodel *m, struct rng *r, size_t len, size_t pad) {
  static uint8_t data[T_PLAIN_MAX];
  rng_fill(r, data, len);
  size_t end = tm_record(m, T_APPLICATION, data, len, pad);
  if (!pm_open(&m->pm) || len == 0) return; /* 5.1: zero-length data is allowed, and delivers nothing */
  m->plain = grow_to(m->plain, &m->plain_cap, m->plain_len + len, 1);
  memcpy(m->plain + m->plain_len, data, len);
  m->plain_len += len;
  size_t cap = m->cap_plain;
  m->plain_at = grow_to(m->plain_at, &cap, m->n_plain + 1, sizeof *m->plain_at);
  m->plain_end = grow_to(m->plain_end, &m->cap_plain, m->n_plain + 1, sizeof *m->plain_end);
  m->plain_at[m->n_plain] = end;
  m->plain_end[m->n_plain++] = m->plain_len;
}

/* NewSessionTicket messages (4.6.1), ignored: connlab does not resume. */
static size_t tickets(struct rng *r, uint8_t *p, unsigned count) {
  size_t n = 0;
  for (unsigned i = 0; i < count; i++) {
    size_t body = rng_range(r, 13, 200);
    p[n] = 4, p[n + 1] = 0, p[n + 2] = (uint8_t)(body >> 8), p[n + 3] = (uint8_t)body;
    rng_fill(r, p + n + 4, body);
    n += 4 + body;
  }
  return n;
}

void tm_tickets(struct tmodel *m, struct rng *r, unsigned count) {
  uint8_t msgs[8 * 204];
  tm_record(m, T_HANDSHAKE, msgs, tickets(r, msgs, count), rng_one_in(r, 4) ? rng_below(r, 30) : 0);
}

/* KeyUpdate (4.6.3), last in its record (5.1: a key change aligns with a record's end),
 * perhaps after tickets. The peer's next records use the next generation; when it asks,
 * the holder answers with KeyUpdate(update_not_requested) under its current keys, then
 * moves its own on. */
void tm_key_update(struct tmodel *m, struct rng *r, int requested) {
  uint8_t msgs[2 * 204 + 5];
  size_t n = rng_one_in(r, 4) ? tickets(r, msgs, 1) : 0;
  msgs[n] = 24, msgs[n + 1] = 0, msgs[n + 2] = 0, msgs[n + 3] = 1, msgs[n + 4] = (uint8_t)requested;
  size_t end = tm_record(m, T_HANDSHAKE, msgs, n + 5, rng_one_in(r, 4) ? rng_below(r, 30) : 0);
  next_generation(m->suite, &m->peer);
  if (!requested || !pm_open(&m->pm)) return;
  if (m->refuse_answers) return fail_at(m, TK_RESET, "", end); /* send() fails: EPIPE */
  static const uint8_t answer[5] = {24, 0, 0, 1, 0};
  uint8_t rec[T_HEADER + 5 + 1 + T_TAG];
  pm_answer(&m->pm, rec, seal(m->suite, &m->holder, T_HANDSHAKE, answer, 5, 0, rec));
  next_generation(m->suite, &m->holder);
}

void tm_close_notify(struct tmodel *m, struct rng *r) {
  static const uint8_t alert[2] = {1, 0}; /* warning, close_notify (6.1) */
  size_t end = tm_record(m, T_ALERT, alert, 2, rng_one_in(r, 4) ? rng_below(r, 10) : 0);
  fail_at(m, TK_EOF, "", end);
}

static size_t data_length(struct rng *r) {
  switch (rng_below(r, 8)) {
    case 0: return 0;
    case 1: case 2: case 3: return rng_range(r, 1, 64);
    case 4: case 5: return rng_range(r, 65, 2000);
    case 6: return rng_range(r, 2001, T_PLAIN_MAX);
    default: return rng_one_in(r, 2) ? T_PLAIN_MAX : T_PLAIN_MAX - rng_below(r, 40);
  }
}

void tm_gen_valid(struct tmodel *m, struct rng *r, unsigned records, int may_close) {
  for (unsigned i = 0; i < records; i++) {
    switch (rng_below(r, 10)) {
      case 0: tm_tickets(m, r, (unsigned)rng_range(r, 1, 3)); break;
      case 1: tm_key_update(m, r, (int)rng_below(r, 2)); break;
      default: {
        size_t len = data_length(r);
        /* 5.4: TLSInnerPlaintext is at most 2^14 + 1 bytes, padding included */
        size_t room = T_PLAIN_MAX - len, pad = rng_one_in(r, 5) ? rng_below(r, (room < 300 ? room : 300) + 1) : 0;
        tm_app(m, r, len, pad);
      }
    }
  }
  if (may_close && rng_one_in(r, 4)) tm_close_notify(m, r);
}

/* The rules a peer can break, each with the close tls13.c must make and when. */
void tm_gen_breaker(struct tmodel *m, struct rng *r, int kind) {
  static uint8_t buf[T_PLAIN_MAX + 300];
  size_t start = m->pm.s.len;
  rng_fill(r, buf, 300);
  switch (kind >= 0 ? kind : (int)rng_below(r, TM_BREAKERS)) {
    case 0: { /* an outer type other than application_data (5.2): at its header */
      uint8_t hdr[T_HEADER] = {(uint8_t)rng_below(r, 256), 3, 3, 0, (uint8_t)rng_range(r, 17, 255)};
      if (hdr[0] == T_APPLICATION) hdr[0] = T_ALERT;
      pm_mark(&m->pm);
      pm_bytes(&m->pm, hdr, T_HEADER);
      fail_at(m, TK_FAIL, hdr[0] == T_ALERT ? "plaintext alert after the handshake" : "bad record header", start + T_HEADER);
      rng_fill(r, buf, hdr[4]);
      pm_bytes(&m->pm, buf, hdr[4]);
      return;
    }
    case 1: { /* too short for a tag and a type; or longer than any record may be (5.2) */
      int over = rng_one_in(r, 2);
      size_t len = over ? rng_range(r, T_BODY_MAX + 1, 0xffff) : rng_below(r, T_TAG + 1);
      uint8_t hdr[T_HEADER] = {T_APPLICATION, 3, 3, (uint8_t)(len >> 8), (uint8_t)len};
      pm_mark(&m->pm);
      pm_bytes(&m->pm, hdr, T_HEADER);
      return fail_at(m, TK_FAIL, over ? "record overflow" : "bad record header", start + T_HEADER);
    }
    case 2: { /* a flipped bit anywhere but the type byte and the length (the header is the AAD) */
      tm_record(m, T_APPLICATION, buf, rng_below(r, 100), 0);
      size_t at = start + 1 + rng_below(r, m->pm.s.len - start - 1);
      if (at == start + 3 || at == start + 4) at = m->pm.s.len - 1;
      m->pm.s.p[at] ^= (uint8_t)(1u << rng_below(r, 8));
      return fail_at(m, TK_FAIL, "bad record mac", m->pm.s.len);
    }
    case 3: { /* a record sealed with the wrong sequence number: replayed or dropped */
      m->peer.seq += rng_one_in(r, 2) ? 1 : (uint64_t)-1;
      size_t end = tm_record(m, T_APPLICATION, buf, rng_below(r, 50), 0);
      return fail_at(m, TK_FAIL, "bad record mac", end);
    }
    case 4: { /* no content type: all zeros inside (5.4; tls13.c's text for it) */
      size_t end = tm_record(m, 0, buf, 0, rng_below(r, 20));
      return fail_at(m, TK_FAIL, "bad record mac", end);
    }
    case 5: { /* an inner type that is not data, handshake or alert */
      static const uint8_t types[] = {20, 24, 1, 99, 255};
      uint8_t type = types[rng_below(r, sizeof types)];
      size_t end = tm_record(m, type, buf, rng_below(r, 20), 0);
      snprintf((char *)buf, sizeof buf, "unexpected record type %u", type);
      return fail_at(m, TK_FAIL, (char *)buf, end);
    }
    case 6: { /* an alert other than close_notify, or one of the wrong length */
      uint8_t alert[3] = {2, (uint8_t)rng_range(r, 1, 255), 0};
      size_t len = rng_one_in(r, 4) ? (rng_one_in(r, 2) ? 1 : 3) : 2;
      size_t end = tm_record(m, T_ALERT, alert, len, 0);
      if (len == 2) snprintf((char *)buf, sizeof buf, "alert %u from the peer", alert[1]);
      else snprintf((char *)buf, sizeof buf, "unexpected record type %u", T_ALERT);
      return fail_at(m, TK_FAIL, (char *)buf, end);
    }
    case 7: { /* a post-handshake message other than NewSessionTicket and KeyUpdate */
      uint8_t type = (uint8_t)rng_range(r, 0, 255);
      if (type == 4 || type == 24) type = 13; /* CertificateRequest */
      uint8_t msg[4] = {type, 0, 0, 0};
      size_t end = tm_record(m, T_HANDSHAKE, msg, 4, 0);
      snprintf((char *)buf, sizeof buf, "unexpected post-handshake message %u", type);
      return fail_at(m, TK_FAIL, (char *)buf, end);
    }
    case 8: { /* a message longer than its record (tls13.c does not join records) */
      size_t n = tickets(r, buf, 1), cut = rng_range(r, 1, n - 1);
      size_t end = tm_record(m, T_HANDSHAKE, buf, cut, 0);
      return fail_at(m, TK_FAIL, "post-handshake message split across records", end);
    }
    case 12: { /* 3 bytes of a NewSessionTicket header (tls13.c once took them: its length
                * sentinel wrapped for exactly 3) */
      static const uint8_t msg[3] = {4, 0, 0};
      size_t end = tm_record(m, T_HANDSHAKE, msg, 3, rng_below(r, 3));
      return fail_at(m, TK_FAIL, "post-handshake message split across records", end);
    }
    case 9: { /* a KeyUpdate with a bad body: RFC 8446 4.6.3 allows 0 or 1, one byte */
      uint8_t msg[6] = {24, 0, 0, 1, (uint8_t)rng_range(r, 2, 255), 0};
      if (rng_one_in(r, 2)) msg[3] = 2, msg[4] = (uint8_t)rng_below(r, 2);
      size_t end = tm_record(m, T_HANDSHAKE, msg, 4 + msg[3], 0);
      return fail_at(m, TK_FAIL, "unexpected post-handshake message 24", end);
    }
    case 10: { /* a KeyUpdate with more after it in its record (5.1: must align with its end) */
      uint8_t msgs[5 + 204] = {24, 0, 0, 1, (uint8_t)rng_below(r, 2)};
      size_t n = 5 + tickets(r, msgs + 5, 1);
      size_t end = tm_record(m, T_HANDSHAKE, msgs, n, 0);
      return fail_at(m, TK_FAIL, "KeyUpdate not at the end of its record", end);
    }
    default: { /* more than 2^14 + 1 bytes of TLSInnerPlaintext (5.4: record_overflow); with
                * a 16-byte tag its header says so, which is when the holder can tell */
      size_t len = rng_range(r, T_PLAIN_MAX - 10, T_PLAIN_MAX), pad = T_PLAIN_MAX + 1 - len + rng_range(r, 1, 200);
      tm_record(m, T_APPLICATION, buf, len, pad);
      return fail_at(m, TK_FAIL, "record overflow", start + T_HEADER);
    }
  }
}

size_t tm_plain_due(const struct tmodel *m, size_t pos) {
  size_t due = 0;
  for (size_t i = 0; i < m->n_plain && m->plain_at[i] <= pos; i++) due = m->plain_end[i];
  return due;
}

size_t tm_answers_due(const struct tmodel *m, size_t pos) {
  size_t due = 0;
  for (size_t i = 0; i < m->pm.n_out && m->pm.out_at[i] <= pos; i++) due = m->pm.out_end[i];
  return due;
}

const uint8_t *tm_expect_sends(struct tmodel *m, const uint8_t *data, size_t len, int goodbye, size_t *out_len) {
  static const uint8_t close_notify[2] = {1, 0};
  size_t need = (len / T_PLAIN_MAX + 2) * (T_HEADER + 1 + T_TAG) + len, n = 0;
  sends = grow_to(sends, &sends_cap, need, 1);
  if (len > 0 || !goodbye) { /* tls13_send always seals one record at least */
    do {
      size_t chunk = len > T_PLAIN_MAX ? T_PLAIN_MAX : len;
      n += seal(m->suite, &m->holder, T_APPLICATION, data, chunk, 0, sends + n);
      data += chunk;
      len -= chunk;
    } while (len > 0);
  }
  if (goodbye) n += seal(m->suite, &m->holder, T_ALERT, close_notify, 2, 0, sends + n);
  *out_len = n;
  return sends;
}
