/* TLS 1.3 records after the handshake, without OpenSSL's SSL object.
 *
 * Why: an idle TLS connection in OpenSSL 3.0 keeps ~14 KB (server) to ~17 KB (client)
 * of heap for its whole life: the SSL object alone is 7.6 KB (its record layer has room
 * for 32 pipelined records), two cipher contexts 2.3 KB, the session 0.9 KB, a copy of
 * the context's certificate table 0.5 KB, the handshake digests, the BIO, and on the
 * client the server's parsed certificate (~3 KB). None of it can be released through the
 * API while the SSL lives (docs/tls.md has the allocation list). What an established
 * TLS 1.3 connection needs is far less (RFC 8446 section 5): per direction the traffic
 * secret (for KeyUpdate), the AEAD key and IV derived from it, and a sequence number,
 * 216 bytes in all. So OpenSSL does the handshake (certificates, verification, key
 * exchange) and this file the records afterwards: AES-128-GCM, AES-256-GCM or
 * ChaCha20-Poly1305 through EVP, one cipher context per holder re-keyed per record.
 * Post-handshake messages: NewSessionTicket is ignored (no resumption), KeyUpdate is
 * honoured (answered when asked), anything else closes the connection `tls`. A record
 * split across reads is kept in a buffer of its own until its end arrives. */
#include "tls13.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>

#include "holder.h"

#define RECORD_HEADER 5
#define TAG_BYTES 16
#define PLAIN_MAX 16384                         /* RFC 8446 5.1 */
/* 5.4: TLSInnerPlaintext (data, type, padding) is at most 2^14 + 1 bytes, so with the
 * suites' 16-byte tags a record's header tells when it is longer (record_overflow),
 * before the 2^14 + 256 that 5.2 allows any AEAD. */
#define BODY_MAX (PLAIN_MAX + 1 + TAG_BYTES)
#define RECORD_MAX (RECORD_HEADER + BODY_MAX)
#define OUT_CAP (OUT_BYTES + 8 * (RECORD_HEADER + 1 + TAG_BYTES))
#define CT_APPLICATION 23
#define CT_ALERT 21
#define CT_HANDSHAKE 22
#define HS_NEW_SESSION_TICKET 4
#define HS_KEY_UPDATE 24
#define HAVE_READ 1
#define HAVE_WRITE 2

struct tls13_dir {
  uint8_t secret[48];
  uint8_t key[32];
  uint8_t iv[12];
  uint64_t seq;
};

struct tls13 {
  struct tls13_dir rd, wr;
  uint8_t *partial; /* an incomplete record, only while one is pending */
  uint16_t partial_len;
  uint8_t suite; /* index into SUITES + 1; 0 before take-over */
  uint8_t have;  /* HAVE_* secrets captured */
};

/* The three TLS 1.3 AEAD suites (RFC 8446 B.4); k->suite is an index + 1. A constant
 * table (holders on several threads read it): the EVP objects are looked up per call. */
static const struct suite {
  uint32_t id;
  int key_len, hash_len;
} SUITES[3] = {
    {OSSL_CK_AES_128_GCM_SHA256, 16, 32},
    {OSSL_CK_AES_256_GCM_SHA384, 32, 48},
    {OSSL_CK_CHACHA20_POLY1305_SHA256, 32, 32},
};

static const struct suite *suite_of(const struct tls13 *k) { return &SUITES[k->suite ? k->suite - 1 : 0]; }

static const EVP_CIPHER *cipher_of(const struct suite *s) {
  return s == &SUITES[0] ? ossl.EVP_aes_128_gcm() : s == &SUITES[1] ? ossl.EVP_aes_256_gcm() : ossl.EVP_chacha20_poly1305();
}

static const EVP_MD *md_of(const struct suite *s) { return s == &SUITES[1] ? ossl.EVP_sha384() : ossl.EVP_sha256(); }

int tls13_scratch_init(struct tls13_scratch *x, tls13_fail_fn *fail) {
  x->fail = fail;
  if (x->ctx) return 0;
  x->ctx = ossl.EVP_CIPHER_CTX_new();
  x->in = malloc(RECORD_MAX + SCRATCH_BYTES);
  x->out = malloc(OUT_CAP);
  if (x->ctx && x->in && x->out) return 0;
  tls13_scratch_free(x);
  return -1;
}

void tls13_scratch_free(struct tls13_scratch *x) {
  if (x->ctx) ossl.EVP_CIPHER_CTX_free(x->ctx);
  free(x->in);
  free(x->out);
  memset(x, 0, sizeof *x);
}

#ifdef CONNLAB_FUZZ
/* The fuzz harness (native/fuzz/tls13-records.c): each key block from malloc, so ASan sees
 * a record path that touches a connection's keys after the close that freed them (the
 * pool's mappings would hide it). */
struct tls13 *tls13_new(void) { return calloc(1, sizeof(struct tls13)); }

void tls13_free(struct tls13 *k) {
  if (!k) return;
  free(k->partial);
  free(k);
}
#else
/* The keys live in pages of their own, not in malloc's heap: there each 224-byte block
 * would sit between the ~50 KB a handshake allocates and frees, and pin those pages
 * (a worker that held 2,000 connections kept 15 KB of heap per connection that way).
 * A free list over 64 KiB mappings, shared by the process's holders. */
#define POOL_CHUNK (64 * 1024)
static pthread_mutex_t pool_lock = PTHREAD_MUTEX_INITIALIZER;
static void *pool_free;

struct tls13 *tls13_new(void) {
  pthread_mutex_lock(&pool_lock);
  if (!pool_free) {
    uint8_t *chunk = mmap(NULL, POOL_CHUNK, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    for (size_t at = 0; chunk != MAP_FAILED && at + sizeof(struct tls13) <= POOL_CHUNK; at += sizeof(struct tls13)) {
      *(void **)(chunk + at) = pool_free;
      pool_free = chunk + at;
    }
  }
  struct tls13 *k = pool_free;
  if (k) pool_free = *(void **)k;
  pthread_mutex_unlock(&pool_lock);
  if (k) memset(k, 0, sizeof *k);
  return k;
}

void tls13_free(struct tls13 *k) {
  if (!k) return;
  free(k->partial);
  memset(k, 0, sizeof *k); /* no key outlives its connection */
  pthread_mutex_lock(&pool_lock);
  *(void **)k = pool_free;
  pool_free = k;
  pthread_mutex_unlock(&pool_lock);
}
#endif

static int hex_value(char c) { return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1; }

/* "CLIENT_TRAFFIC_SECRET_0 <client random> <secret>" (NSS key log format). */
void tls13_keylog(struct tls13 *k, const char *line, int client) {
  static const char cts[] = "CLIENT_TRAFFIC_SECRET_0 ", sts[] = "SERVER_TRAFFIC_SECRET_0 ";
  int ours = strncmp(line, client ? cts : sts, sizeof cts - 1) == 0;
  if (!ours && strncmp(line, client ? sts : cts, sizeof cts - 1) != 0) return;
  const char *hex = strrchr(line, ' ');
  size_t n = hex ? strlen(++hex) / 2 : 0;
  struct tls13_dir *d = ours ? &k->wr : &k->rd;
  if (n != 32 && n != 48) return;
  for (size_t i = 0; i < n; i++) {
    int hi = hex_value(hex[2 * i]), lo = hex_value(hex[2 * i + 1]);
    if (hi < 0 || lo < 0) return;
    d->secret[i] = (uint8_t)(hi << 4 | lo);
  }
  k->have |= ours ? HAVE_WRITE : HAVE_READ;
}

/* HKDF-Expand-Label(secret, label, "", out_len) for out_len <= the hash length: one HMAC. */
static int expand_label(const struct suite *s, const uint8_t *secret, const char *label, uint8_t *out, size_t out_len) {
  uint8_t info[40], t[64];
  size_t label_len = strlen(label), n = 0;
  unsigned t_len = 0;
  info[n++] = (uint8_t)(out_len >> 8);
  info[n++] = (uint8_t)out_len;
  info[n++] = (uint8_t)(6 + label_len);
  memcpy(info + n, "tls13 ", 6);
  memcpy(info + n + 6, label, label_len);
  n += 6 + label_len;
  info[n++] = 0; /* empty context */
  info[n++] = 1; /* HKDF-Expand's counter for T(1) */
  if (!ossl.HMAC(md_of(s), secret, s->hash_len, info, n, t, &t_len) || t_len < out_len) return -1;
  memcpy(out, t, out_len);
  return 0;
}

static int derive(const struct suite *s, struct tls13_dir *d) {
  d->seq = 0;
  return expand_label(s, d->secret, "key", d->key, (size_t)s->key_len) | expand_label(s, d->secret, "iv", d->iv, 12);
}

/* KeyUpdate: the next generation of one direction's secret (RFC 8446 7.2). */
static int key_update(struct tls13 *k, struct tls13_dir *d) {
  const struct suite *s = suite_of(k);
  uint8_t next[48];
  if (expand_label(s, d->secret, "traffic upd", next, (size_t)s->hash_len) != 0) return -1;
  memcpy(d->secret, next, (size_t)s->hash_len);
  return derive(s, d);
}

int tls13_take_over(struct tls13 *k, SSL *s) {
  if (ossl.SSL_version(s) != OSSL_TLS1_3_VERSION || k->have != (HAVE_READ | HAVE_WRITE) || ossl.SSL_has_pending(s)) return -1;
  const SSL_CIPHER *c = ossl.SSL_get_current_cipher(s);
  uint32_t id = c ? ossl.SSL_CIPHER_get_id(c) : 0;
  for (uint8_t i = 1; i <= 3; i++) {
    k->suite = i;
    if (suite_of(k)->id == id) return derive(suite_of(k), &k->rd) | derive(suite_of(k), &k->wr);
  }
  k->suite = 0;
  return -1;
}

static void nonce_of(const struct tls13_dir *d, uint8_t nonce[12]) {
  memcpy(nonce, d->iv, 12);
  for (int i = 0; i < 8; i++) nonce[11 - i] ^= (uint8_t)(d->seq >> (8 * i));
}

/* Seals len bytes of content type `type` into records at out; the bytes written, or -1. */
static long seal(struct tls13 *k, EVP_CIPHER_CTX *ctx, uint8_t type, const uint8_t *in, size_t len, uint8_t *out, size_t cap) {
  const struct suite *s = suite_of(k);
  size_t at = 0;
  do {
    size_t chunk = len > PLAIN_MAX ? PLAIN_MAX : len, body = chunk + 1 + TAG_BYTES;
    if (at + RECORD_HEADER + body > cap) return -1;
    uint8_t *r = out + at, nonce[12];
    int n;
    r[0] = CT_APPLICATION, r[1] = 3, r[2] = 3, r[3] = (uint8_t)(body >> 8), r[4] = (uint8_t)body;
    nonce_of(&k->wr, nonce);
    if (ossl.EVP_EncryptInit_ex(ctx, cipher_of(s), NULL, k->wr.key, nonce) != 1 || ossl.EVP_EncryptUpdate(ctx, NULL, &n, r, RECORD_HEADER) != 1 ||
        ossl.EVP_EncryptUpdate(ctx, r + RECORD_HEADER, &n, in, (int)chunk) != 1 ||
        ossl.EVP_EncryptUpdate(ctx, r + RECORD_HEADER + chunk, &n, &type, 1) != 1 ||
        ossl.EVP_EncryptFinal_ex(ctx, r + RECORD_HEADER + chunk + 1, &n) != 1 ||
        ossl.EVP_CIPHER_CTX_ctrl(ctx, OSSL_CTRL_AEAD_GET_TAG, TAG_BYTES, r + RECORD_HEADER + chunk + 1) != 1) {
      return -1;
    }
    k->wr.seq++;
    at += RECORD_HEADER + body;
    in += chunk;
    len -= chunk;
  } while (len > 0);
  return (long)at;
}

/* Opens the record at r (header + body) in place: its content after the header, *len and
 * *type set. -1: it does not authenticate or has no content type. */
static int open_record(struct tls13 *k, EVP_CIPHER_CTX *ctx, uint8_t *r, size_t body, size_t *len, uint8_t *type) {
  const struct suite *s = suite_of(k);
  uint8_t nonce[12];
  int n;
  size_t ct = body - TAG_BYTES;
  nonce_of(&k->rd, nonce);
  if (ossl.EVP_DecryptInit_ex(ctx, cipher_of(s), NULL, k->rd.key, nonce) != 1 || ossl.EVP_DecryptUpdate(ctx, NULL, &n, r, RECORD_HEADER) != 1 ||
      ossl.EVP_DecryptUpdate(ctx, r + RECORD_HEADER, &n, r + RECORD_HEADER, (int)ct) != 1 ||
      ossl.EVP_CIPHER_CTX_ctrl(ctx, OSSL_CTRL_AEAD_SET_TAG, TAG_BYTES, r + RECORD_HEADER + ct) != 1 ||
      ossl.EVP_DecryptFinal_ex(ctx, r + RECORD_HEADER + ct, &n) != 1) {
    return -1;
  }
  k->rd.seq++;
  while (ct > 0 && r[RECORD_HEADER + ct - 1] == 0) ct--; /* padding */
  if (ct == 0) return -1;
  *type = r[RECORD_HEADER + ct - 1];
  *len = ct - 1;
  return 0;
}

static int send_sealed(struct holder *h, int fd, struct tls13 *k, struct tls13_scratch *x, uint8_t type, const uint8_t *buf, size_t len) {
  long total = seal(k, x->ctx, type, buf, len, x->out, OUT_CAP);
  if (total < 0) {
    x->fail(h, fd, "cannot seal a record");
    return -1;
  }
  ssize_t n = send(fd, x->out, (size_t)total, MSG_NOSIGNAL | MSG_DONTWAIT);
  if (n == total) return 0;
  int err = errno;
  conn_close(h, fd, n >= 0 || err == EAGAIN || err == EWOULDBLOCK || err == ETIMEDOUT ? CR_SLOW : CR_RESET); /* nothing queued */
  return -1;
}

int tls13_send(struct holder *h, int fd, struct tls13 *k, struct tls13_scratch *x, const uint8_t *buf, size_t len) {
  if (send_sealed(h, fd, k, x, CT_APPLICATION, buf, len) != 0) return -1;
  STAT_ADD(h, ST_BYTES_OUT, len);
  return 0;
}

void tls13_goodbye(struct holder *h, int fd, struct tls13 *k, struct tls13_scratch *x, const uint8_t *buf, size_t len) {
  static const uint8_t close_notify[2] = {1, 0};
  (void)h; /* nothing is counted: the connection is closing */
  long a = len ? seal(k, x->ctx, CT_APPLICATION, buf, len, x->out, OUT_CAP) : 0;
  long b = a >= 0 ? seal(k, x->ctx, CT_ALERT, close_notify, 2, x->out + a, OUT_CAP - (size_t)a) : -1;
  if (b >= 0) (void)send(fd, x->out, (size_t)(a + b), MSG_NOSIGNAL | MSG_DONTWAIT);
}

/* Post-handshake messages in one record's content. 0, or -1 when fd was closed. */
static int handshake_messages(struct holder *h, int fd, struct tls13 *k, struct tls13_scratch *x, const uint8_t *p, size_t len) {
  while (len > 0) {
    size_t body = len >= 4 ? (size_t)p[1] << 16 | (size_t)p[2] << 8 | p[3] : 0;
    if (len < 4 || body > len - 4) return x->fail(h, fd, "post-handshake message split across records"), -1;
    if (p[0] == HS_KEY_UPDATE && body == 1 && p[4] <= 1) {
      /* 5.1: a key change must end its record (what follows was sealed with the old key) */
      if (len != 5) return x->fail(h, fd, "KeyUpdate not at the end of its record"), -1;
      static const uint8_t not_requested[5] = {HS_KEY_UPDATE, 0, 0, 1, 0};
      if (key_update(k, &k->rd) != 0) return x->fail(h, fd, "key update failed"), -1;
      if (p[4] == 1 && (send_sealed(h, fd, k, x, CT_HANDSHAKE, not_requested, 5) != 0 || key_update(k, &k->wr) != 0)) {
        if (h->conns[fd].state != CS_FREE) x->fail(h, fd, "key update failed");
        return -1;
      }
    } else if (p[0] != HS_NEW_SESSION_TICKET) {
      char text[64];
      snprintf(text, sizeof text, "unexpected post-handshake message %u", p[0]);
      return x->fail(h, fd, text), -1;
    }
    p += 4 + body;
    len -= 4 + body;
  }
  return 0;
}

/* Feeds the data gathered in h->in to the connection; -1 when that closed it. */
static int flush(struct holder *h, int fd, size_t *plain) {
  if (*plain == 0) return 0;
  conn_input(h, fd, (ssize_t)*plain, 0);
  *plain = 0;
  return h->conns[fd].state == CS_FREE ? -1 : 0;
}

/* One opened record's content. 0 to go on, -1 when fd was closed. */
static int on_record(struct holder *h, int fd, struct tls13 *k, struct tls13_scratch *x, uint8_t type, const uint8_t *p, size_t len, size_t *plain) {
  if (type == CT_APPLICATION) {
    if (*plain + len > SCRATCH_BYTES && flush(h, fd, plain) != 0) return -1;
    memcpy(h->in + *plain, p, len);
    *plain += len;
    return 0;
  }
  if (flush(h, fd, plain) != 0) return -1;
  if (type == CT_HANDSHAKE) return handshake_messages(h, fd, k, x, p, len);
  if (type == CT_ALERT && len == 2 && p[1] == 0) {
    conn_input(h, fd, 0, 0); /* close_notify: EOF */
    return -1;
  }
  char text[64];
  if (type == CT_ALERT && len == 2) snprintf(text, sizeof text, "alert %u from the peer", p[1]);
  else snprintf(text, sizeof text, "unexpected record type %u", type);
  x->fail(h, fd, text);
  return -1;
}

void tls13_on_readable(struct holder *h, int fd, struct tls13 *k, struct tls13_scratch *x) {
  uint8_t *got = x->in + RECORD_MAX; /* room before it for a pending partial record */
  ssize_t n = recv(fd, got, SCRATCH_BYTES, 0);
  if (n <= 0) {
    int err = n < 0 ? errno : 0;
    if (n == 0 || (err != EAGAIN && err != EWOULDBLOCK && err != EINTR)) conn_input(h, fd, n, err);
    return;
  }
  uint8_t *p = got - k->partial_len;
  size_t len = (size_t)n + k->partial_len, plain = 0;
  if (k->partial) memcpy(p, k->partial, k->partial_len); /* memcpy from NULL is undefined, even of 0 bytes */
  free(k->partial);
  k->partial = NULL;
  k->partial_len = 0;
  while (len >= RECORD_HEADER) {
    size_t body = (size_t)p[3] << 8 | p[4], content = 0;
    uint8_t type = 0;
    if (p[0] != CT_APPLICATION || body > BODY_MAX || body <= TAG_BYTES) {
      const char *why = p[0] == CT_ALERT ? "plaintext alert after the handshake"
                        : p[0] != CT_APPLICATION || body <= TAG_BYTES ? "bad record header"
                                                                      : "record overflow";
      if (flush(h, fd, &plain) == 0) x->fail(h, fd, why);
      return;
    }
    if (len < RECORD_HEADER + body) break;
    if (open_record(k, x->ctx, p, body, &content, &type) != 0) {
      if (flush(h, fd, &plain) == 0) x->fail(h, fd, "bad record mac");
      return;
    }
    if (on_record(h, fd, k, x, type, p + RECORD_HEADER, content, &plain) != 0) return;
    p += RECORD_HEADER + body;
    len -= RECORD_HEADER + body;
  }
  if (flush(h, fd, &plain) != 0 || len == 0) return;
  if (!(k->partial = malloc(len))) {
    stats_error(h, ENOMEM);
    conn_close(h, fd, CR_LOCAL);
    return;
  }
  memcpy(k->partial, p, len);
  k->partial_len = (uint16_t)len;
}
