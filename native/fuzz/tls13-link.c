/* The tls13-records target's holder end (tls13-fuzz.h): a holder whose connection under
 * test is one end of a socketpair, carried by tls13.c's keys from a stand-in SSL; the
 * protocol that records the plaintext conn_input delivers, the fail function and the
 * TLS seam conn_close calls; and the runs that feed a model's stream and check it.
 *
 * libcrypto: ossl_load() dlopens the system's libssl.so.3 exactly as the C worker does,
 * and tls13.c runs against that table as in production; the model seals through the
 * same table. So no OpenSSL header or -lcrypto is needed (the production build has
 * neither). The stand-in SSL replaces the four SSL_* entries tls13_take_over reads;
 * tls.c, the table's only other user, is not in the harness. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "tls13-fuzz.h"

static struct holder h;
static struct tls13_scratch x;
static struct tls13 *keys; /* the connection's; NULL once the close freed them */
static int hfd = -1, pfd = -1;
static unsigned ends;       /* tls_ops.end calls: the keys are freed exactly once */
static uint64_t base[ST_COUNT]; /* the holder's counters when the connection opened */
static char fail_text[128]; /* what tls13.c failed the connection with */
static uint8_t *answers;    /* what the holder sent, as the peer read it */
static size_t answers_len, answers_cap;
static unsigned fails;

/* ---- what tls13.c calls: the recording protocol, the fail function, the TLS seam ---- */

static uint8_t *got; /* plaintext delivered through conn_input */
static size_t got_len, got_cap, got_checked, close_after = SIZE_MAX;

static int rec_open(struct holder *hh, int fd) { return (void)hh, (void)fd, 0; }

static int rec_input(struct holder *hh, int fd, const uint8_t *p, size_t n) {
  (void)hh, (void)fd;
  FUZZ_CHECK(n > 0 && n <= SCRATCH_BYTES, "conn_input with %zu bytes", n);
  got = grow_to(got, &got_cap, got_len + n, 1);
  memcpy(got + got_len, p, n);
  got_len += n;
  return got_len >= close_after ? CR_PROTOCOL : -1; /* the protocol closing mid-read */
}

static int rec_eof(struct holder *hh, int fd) { return (void)hh, (void)fd, CR_PEER; }
static int rec_ping(struct holder *hh, int fd) { return (void)hh, (void)fd, 0; }
static void rec_on_close(struct holder *hh, int fd, int reason) { (void)hh, (void)fd, (void)reason; }
static const struct proto_ops recorder = {rec_open, rec_input, rec_eof, rec_ping, NULL, rec_on_close, NULL};

static void on_fail(struct holder *hh, int fd, const char *reason) { /* as tls.c's tls_fail */
  snprintf(fail_text, sizeof fail_text, "%s", reason);
  fails++;
  conn_close(hh, fd, CR_TLS);
}

/* conn_close calls end before close(fd), as tls.c's on_end frees the keys there. */
static void seam_end(struct holder *hh, int fd) {
  (void)hh, (void)fd;
  tls13_free(keys);
  keys = NULL;
  ends++;
}
static void seam_release(struct holder *hh) { (void)hh; }
static const struct tls_ops seam = {NULL, NULL, NULL, NULL, seam_end, seam_release};

/* ---- the stand-in SSL tls13_take_over reads ---- */

struct fake_ssl {
  int version, pending;
  uint32_t cipher;
};
static int fake_version(const SSL *s) { return ((const struct fake_ssl *)(const void *)s)->version; }
static int fake_pending(const SSL *s) { return ((const struct fake_ssl *)(const void *)s)->pending; }
static const SSL_CIPHER *fake_cipher(const SSL *s) { return (const SSL_CIPHER *)(const void *)&((const struct fake_ssl *)(const void *)s)->cipher; }
static uint32_t fake_cipher_id(const SSL_CIPHER *c) { return *(const uint32_t *)(const void *)c; }

int tl_setup(void) {
  const char *why = ossl_load();
  if (why) {
    fprintf(stderr, "connlab-fuzz: tls13-records: %s\n", why);
    return ENOENT;
  }
  ossl.SSL_version = fake_version;
  ossl.SSL_has_pending = fake_pending;
  ossl.SSL_get_current_cipher = fake_cipher;
  ossl.SSL_CIPHER_get_id = fake_cipher_id;
  int rc = holder_init(&h, &conn_io, 0, 1024);
  if (rc != 0) return rc;
  h.pops = &recorder;
  got = grow_to(got, &got_cap, 1, 1); /* never NULL: memcmp and memcpy of none from NULL are undefined */
  answers = grow_to(answers, &answers_cap, 1, 1);
  h.tls = &seam; /* tls_sides stays 0: only conn_close's end hook is used */
  return tls13_scratch_init(&x, on_fail) == 0 ? 0 : ENOMEM;
}

void tl_teardown(void) {
  if (hfd >= 0) conn_close(&h, hfd, CR_LOCAL);
  tls13_scratch_free(&x);
  holder_free(&h);
  free(got);
  free(answers);
  tm_free();
}

/* ---- one connection ---- */

static void hex(char *dst, const uint8_t *p, size_t n) {
  for (size_t i = 0; i < n; i++) snprintf(dst + 2 * i, 3, "%02x", p[i]);
}

/* A fresh socketpair whose holder end is carried by keys taken over from m's secrets. */
static void open_conn(const struct tmodel *m, struct rng *r) {
  int sv[2];
  FUZZ_CHECK(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv) == 0, "socketpair: %d", errno);
  hfd = sv[0], pfd = sv[1];
  int big = 1 << 20; /* a whole read (SCRATCH_BYTES) and the answers fit in one go */
  setsockopt(pfd, SOL_SOCKET, SO_SNDBUF, &big, sizeof big);
  setsockopt(hfd, SOL_SOCKET, SO_SNDBUF, &big, sizeof big);
  FUZZ_CHECK(conn_reserve(&h, hfd) == 0, "conn_reserve(%d)", hfd);
  h.conns[hfd].state = CS_SERVER;
  h.conns[hfd].flags = CF_TLS_OPEN;
  STAT_ADD(&h, ST_ESTABLISHED, 1);
  keys = tls13_new();
  FUZZ_CHECK(keys, "tls13_new");
  ends = fails = 0;
  fail_text[0] = 0;
  answers_len = 0;
  for (int i = 0; i < ST_COUNT; i++) base[i] = STAT_GET(&h, i);
  got_len = got_checked = 0;
  close_after = SIZE_MAX;
  /* Key log lines as OpenSSL writes them, among others tls13.c must pass over. */
  const struct tsuite *s = &TSUITES[m->suite];
  int client = (int)rng_below(r, 2);
  char line[200], random[65];
  uint8_t cr[32];
  rng_fill(r, cr, sizeof cr);
  hex(random, cr, sizeof cr);
  const char *ours = client ? "CLIENT_TRAFFIC_SECRET_0" : "SERVER_TRAFFIC_SECRET_0";
  const char *theirs = client ? "SERVER_TRAFFIC_SECRET_0" : "CLIENT_TRAFFIC_SECRET_0";
  char secret_hex[97], other_hex[97];
  uint8_t other[48]; /* the other lines carry other secrets: taking one would break every record */
  rng_fill(r, other, sizeof other);
  hex(other_hex, other, (size_t)s->hash_len);
  snprintf(line, sizeof line, "%s_HANDSHAKE_TRAFFIC_SECRET %s %s", client ? "SERVER" : "CLIENT", random, other_hex);
  tls13_keylog(keys, line, client);
  hex(secret_hex, m->rd0.secret, (size_t)s->hash_len);
  snprintf(line, sizeof line, "%s %s %s", theirs, random, secret_hex);
  tls13_keylog(keys, line, client);
  hex(secret_hex, m->wr0.secret, (size_t)s->hash_len);
  snprintf(line, sizeof line, "%s %s %s", ours, random, secret_hex);
  tls13_keylog(keys, line, client);
  snprintf(line, sizeof line, "EXPORTER_SECRET %s %s", random, other_hex);
  tls13_keylog(keys, line, client);
  struct fake_ssl ssl = {0x0304, 0, s->id};
  FUZZ_CHECK(tls13_take_over(keys, (SSL *)(void *)&ssl) == 0, "take-over refused suite %s", s->name);
}

static int is_open(void) { return hfd >= 0 && h.conns[hfd].state != CS_FREE; }

static void drain_answers(void) {
  for (;;) {
    answers = grow_to(answers, &answers_cap, answers_len + 65536, 1);
    ssize_t n = recv(pfd, answers + answers_len, answers_cap - answers_len, 0);
    if (n <= 0) return;
    answers_len += (size_t)n;
  }
}

static void close_conn(void) {
  if (is_open()) conn_close(&h, hfd, CR_LOCAL);
  FUZZ_CHECK(ends == 1 && !keys, "the keys were freed %u times", ends);
  close(pfd);
  hfd = pfd = -1;
}

/* Writes n stream bytes as one read and lets the holder take them. */
static void feed(const uint8_t *p, size_t n) {
  FUZZ_CHECK(send(pfd, p, n, MSG_NOSIGNAL) == (ssize_t)n, "the peer's write of %zu bytes: %d", n, errno);
  tls13_on_readable(&h, hfd, keys, &x);
}

/* ---- the checks ---- */

static const char *kind_name(int k) { return k == TK_OPEN ? "open" : k == TK_FAIL ? "tls" : k == TK_EOF ? "eof" : "reset"; }

static uint64_t delta(int stat) { return STAT_GET(&h, stat) - base[stat]; }

/* After the holder took `pos` stream bytes: the plaintext, the close and the answers
 * are what the model says is due at that prefix. */
static void check_prefix(const struct tmodel *m, size_t pos, size_t read_no) {
  size_t stop = pos < m->pm.verdict_at ? pos : m->pm.verdict_at;
  size_t want = tm_plain_due(m, stop);
  FUZZ_CHECK(got_len == want, "read %zu to %zu: %zu plaintext bytes, the model %zu", read_no, pos, got_len, want);
  /* what earlier reads delivered was compared then: only the new bytes (reads may be 1 byte) */
  FUZZ_CHECK(got_len == got_checked || memcmp(got + got_checked, m->plain + got_checked, got_len - got_checked) == 0,
             "read %zu to %zu: the plaintext differs", read_no, pos);
  got_checked = got_len;
  int closed = !is_open(), due = m->pm.verdict_at <= pos, kind = m->pm.verdict;
  FUZZ_CHECK(closed == due, "read %zu to %zu: %s (\"%s\"), the model %s at %zu (\"%s\")", read_no, pos, closed ? "closed" : "open",
             fail_text, kind_name(kind), m->pm.verdict_at, m->fail_text);
  if (due) {
    FUZZ_CHECK(ends == 1 && !keys, "closed, the keys freed %u times", ends);
    int reason = kind == TK_FAIL ? CR_TLS : kind == TK_EOF ? CR_PEER : CR_RESET;
    FUZZ_CHECK(delta(reason) == 1 && delta(ST_ESTABLISHED) == (uint64_t)-1, "closed, but not as %s", kind_name(kind));
    FUZZ_CHECK(kind == TK_FAIL ? fails == 1 && strcmp(fail_text, m->fail_text) == 0 : fails == 0,
               "closed with \"%s\" (%u fails), the model: %s \"%s\"", fail_text, fails, kind_name(kind), m->fail_text);
  }
  drain_answers();
  size_t out_due = tm_answers_due(m, stop);
  FUZZ_CHECK(answers_len == out_due, "read %zu to %zu: %zu answer bytes, the model %zu", read_no, pos, answers_len, out_due);
  FUZZ_CHECK(answers_len == 0 || memcmp(answers, m->pm.out, answers_len) == 0, "read %zu to %zu: the answer bytes differ", read_no, pos);
}

/* After a stream that left the connection open: what the holder seals now must be what
 * the model seals with its copy of the holder's keys (every KeyUpdate answered moved them). */
static void check_sends(struct tmodel *m, struct rng *r) {
  static uint8_t data[3 * T_PLAIN_MAX + 100];
  size_t n = rng_one_in(r, 4) ? rng_below(r, sizeof data) : rng_range(r, 0, 300);
  rng_fill(r, data, n);
  int goodbye = rng_one_in(r, 3);
  answers_len = 0;
  if (goodbye) tls13_goodbye(&h, hfd, keys, &x, data, n);
  else FUZZ_CHECK(tls13_send(&h, hfd, keys, &x, data, n) == 0, "tls13_send of %zu bytes closed it", n);
  drain_answers();
  size_t want_len;
  const uint8_t *want = tm_expect_sends(m, data, n, goodbye, &want_len);
  FUZZ_CHECK(answers_len == want_len && memcmp(answers, want, want_len) == 0, "%s of %zu bytes: %zu bytes sent, the model %zu",
             goodbye ? "tls13_goodbye" : "tls13_send", n, answers_len, want_len);
  FUZZ_CHECK(goodbye || delta(ST_BYTES_OUT) == n, "tls13_send counted %llu bytes out for %zu", (unsigned long long)delta(ST_BYTES_OUT), n);
}

static size_t reads[TL_MAX_READS];

/* Feeds m's stream in the given reads, checking every prefix; then, open, the sends or
 * the peer's FIN. Closes the connection. */
void tl_run_reads(struct tmodel *m, struct rng *r, const size_t *sizes, size_t n_reads, int after) {
  open_conn(m, r);
  if (m->refuse_answers) shutdown(pfd, SHUT_RD);
  size_t pos = 0;
  for (size_t i = 0; i < n_reads && is_open(); i++) {
    feed(m->pm.s.p + pos, sizes[i]);
    pos += sizes[i];
    check_prefix(m, pos, i);
  }
  if (after && is_open() && !m->refuse_answers) {
    if (rng_one_in(r, 5)) { /* the peer's FIN, perhaps inside a record: EOF, the partial freed */
      shutdown(pfd, SHUT_WR);
      tls13_on_readable(&h, hfd, keys, &x);
      FUZZ_CHECK(!is_open() && delta(CR_PEER) == 1 && fails == 0, "a FIN did not close it as the peer's");
    } else {
      check_sends(m, r);
    }
  }
  close_conn();
}

/* The protocol closes the connection on some byte of m's data: nothing is read after. */
void tl_run_protocol_closes(struct tmodel *m, struct rng *r) {
  size_t n_reads = gen_reads(r, &m->pm.s, reads, TL_MAX_READS), pos = 0;
  open_conn(m, r);
  close_after = rng_range(r, 1, m->plain_len);
  for (size_t i = 0; i < n_reads && is_open(); i++) {
    feed(m->pm.s.p + pos, reads[i]);
    pos += reads[i];
    size_t due = tm_plain_due(m, pos);
    FUZZ_CHECK(got_len <= due && memcmp(got, m->plain, got_len) == 0, "read %zu: %zu bytes, not the model's first", i, got_len);
    FUZZ_CHECK(is_open() == (due < close_after) && (!is_open() || got_len == due), "read %zu: %s with %zu of %zu bytes in", i,
               is_open() ? "open" : "closed", got_len, close_after);
  }
  FUZZ_CHECK(is_open() || (delta(CR_PROTOCOL) == 1 && fails == 0), "closed, but not by the protocol");
  close_conn();
}

/* Input without a model: the same outcome however it is cut, and (AEAD) never any data
 * but a prefix of what the peer sealed (`sealed`; NULL when unknown). */
void tl_check_any(struct tmodel *m, struct rng *r, const uint8_t *sealed, size_t sealed_len) {
  static uint8_t *whole, *whole_answers;
  static size_t whole_cap, whole_answers_cap;
  size_t len = m->pm.s.len, n = 0;
  if (len == 0) return;
  for (size_t pos = 0; pos < len; pos += reads[n++]) reads[n] = len - pos < SCRATCH_BYTES ? len - pos : SCRATCH_BYTES;
  open_conn(m, r);
  size_t pos = 0;
  for (size_t i = 0; i < n && is_open(); pos += reads[i++]) feed(m->pm.s.p + pos, reads[i]);
  drain_answers();
  char whole_fail[sizeof fail_text];
  memcpy(whole_fail, fail_text, sizeof whole_fail);
  int whole_open = is_open();
  size_t whole_len = got_len, whole_answers_len = answers_len;
  whole = grow_to(whole, &whole_cap, got_len + 1, 1), whole_answers = grow_to(whole_answers, &whole_answers_cap, answers_len + 1, 1);
  memcpy(whole, got, got_len), memcpy(whole_answers, answers, answers_len);
  FUZZ_CHECK(!sealed || (got_len <= sealed_len && memcmp(got, sealed, got_len) == 0), "%zu bytes of data the peer never sealed", got_len);
  close_conn();

  n = gen_reads(r, &m->pm.s, reads, TL_MAX_READS);
  open_conn(m, r);
  pos = 0;
  for (size_t i = 0; i < n && is_open(); pos += reads[i++]) feed(m->pm.s.p + pos, reads[i]);
  drain_answers();
  if (pos < len) return close_conn(); /* the reads covered a prefix: nothing to compare */
  FUZZ_CHECK(is_open() == whole_open && strcmp(fail_text, whole_fail) == 0, "cut in %zu reads: %s \"%s\", whole: %s \"%s\"", n,
             is_open() ? "open" : "closed", fail_text, whole_open ? "open" : "closed", whole_fail);
  FUZZ_CHECK(got_len == whole_len && memcmp(got, whole, got_len) == 0, "cut in %zu reads: %zu bytes of data, whole: %zu", n, got_len, whole_len);
  FUZZ_CHECK(answers_len == whole_answers_len && memcmp(answers, whole_answers, answers_len) == 0,
             "cut in %zu reads: %zu answer bytes, whole: %zu", n, answers_len, whole_answers_len);
  close_conn();
}

/* What tls13_take_over must refuse: it is not TLS 1.3, OpenSSL still holds bytes, a
 * suite other than the three, a secret the key log never gave (or gave malformed). */
uint64_t tl_take_over_refusals(void) {
  static const char *const lines[] = {
      "CLIENT_TRAFFIC_SECRET_0 00 0001020304050607080910111213141516171819202122232425262728293031",
      "SERVER_TRAFFIC_SECRET_0 00 0001020304050607080910111213141516171819202122232425262728293031",
  };
  struct fake_ssl good = {0x0304, 0, TSUITES[0].id}, tls12 = {0x0303, 0, TSUITES[0].id}, pending = {0x0304, 1, TSUITES[0].id},
                  ccm = {0x0304, 0, 0x03001304u};
  const struct fake_ssl *refused[] = {&tls12, &pending, &ccm};
  struct tls13 *k = tls13_new(); /* the control: the same lines and a good SSL are taken */
  tls13_keylog(k, lines[0], 0), tls13_keylog(k, lines[1], 0);
  FUZZ_CHECK(tls13_take_over(k, (SSL *)(void *)&good) == 0, "take-over refused the control");
  tls13_free(k);
  uint64_t checked = 1;
  for (size_t i = 0; i < 3; i++, checked++) {
    k = tls13_new();
    tls13_keylog(k, lines[0], 0), tls13_keylog(k, lines[1], 0);
    FUZZ_CHECK(tls13_take_over(k, (SSL *)(void *)refused[i]) != 0, "take-over accepted refusal %zu", i);
    tls13_free(k);
  }
  static const char *const half[] = {"SERVER_TRAFFIC_SECRET_0 00 00010203", /* 4 bytes: not a secret */
                                     "SERVER_TRAFFIC_SECRET_0 00 000102030405060708091011121314151617181920212223242526272829303g",
                                     "SERVER_HANDSHAKE_TRAFFIC_SECRET 00 0001020304050607080910111213141516171819202122232425262728293031"};
  for (size_t i = 0; i < 3; i++, checked++) {
    k = tls13_new();
    tls13_keylog(k, lines[0], 0), tls13_keylog(k, half[i], 0);
    FUZZ_CHECK(tls13_take_over(k, (SSL *)(void *)&good) != 0, "take-over without a write secret (line %zu)", i);
    tls13_free(k);
  }
  return checked;
}
