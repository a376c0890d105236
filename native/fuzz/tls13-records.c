/* Target "tls13-records": tls13_on_readable(), the TLS 1.3 record path that carries a
 * connection once tls.c has freed its SSL (tls13.c says why). The peer's bytes are
 * written to a socketpair in the generated reads and the holder's own recv, record
 * framing, AEAD open, post-handshake messages (NewSessionTicket, KeyUpdate and its
 * answer), alerts and partial records run on them; the plaintext reaches a recording
 * protocol through conn_input, and what the holder sends back (KeyUpdate answers,
 * tls13_send, tls13_goodbye) is read from the peer's end and compared byte for byte.
 *
 * The keys are known: each connection takes over from a stand-in SSL with secrets the
 * harness chose, fed through tls13_keylog as OpenSSL's key log lines, so well-formed
 * records decrypt and the cases reach what lies behind the MAC check. The harness seals
 * its records itself (tls13-model.c), with its own HKDF-Expand-Label written from RFC
 * 8446 7.1 and 7.3, through the same libcrypto functions: ossl.c's table, loaded by
 * ossl_load() from the system's libssl.so.3 exactly as the C worker loads it. So no
 * OpenSSL header or -lcrypto is needed (the production build has neither), and tls13.c
 * runs against the table it runs against in production. The stand-in SSL replaces the
 * four SSL_* entries tls13_take_over reads; tls.c, the only other user of the table, is
 * not in the harness. Interoperability with a real OpenSSL peer is the TLS tests' part
 * (test/engine), which a shared mistake of the two sealers here could not pass. */
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
static struct tmodel md;
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

static int setup(void) {
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
  h.tls = &seam; /* tls_sides stays 0: only conn_close's end hook is used */
  return tls13_scratch_init(&x, on_fail) == 0 ? 0 : ENOMEM;
}

static void teardown(void) {
  if (hfd >= 0) conn_close(&h, hfd, CR_LOCAL);
  tls13_scratch_free(&x);
  holder_free(&h);
  free(got);
  free(answers);
  pm_free(&md.pm);
  free(md.plain), free(md.plain_at), free(md.plain_end);
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
  char secret_hex[97];
  hex(secret_hex, m->rd0.secret, (size_t)s->hash_len);
  snprintf(line, sizeof line, "CLIENT_HANDSHAKE_TRAFFIC_SECRET %s %s", random, secret_hex);
  tls13_keylog(keys, line, client);
  snprintf(line, sizeof line, "%s %s %s", theirs, random, secret_hex);
  tls13_keylog(keys, line, client);
  hex(secret_hex, m->wr0.secret, (size_t)s->hash_len);
  snprintf(line, sizeof line, "%s %s %s", ours, random, secret_hex);
  tls13_keylog(keys, line, client);
  snprintf(line, sizeof line, "EXPORTER_SECRET %s %s", random, secret_hex);
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

#define MAX_READS 8192
static size_t reads[MAX_READS];

/* Feeds m's stream in the given reads, checking every prefix; then, open, the sends or
 * the peer's FIN. Closes the connection. */
static void run_reads(struct tmodel *m, struct rng *r, const size_t *sizes, size_t n_reads, int after) {
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

static void run_random(struct tmodel *m, struct rng *r) { run_reads(m, r, reads, gen_reads(r, &m->pm.s, reads, MAX_READS), 1); }

static int suite_of(struct rng *r) { return (int)rng_below(r, 3); }

/* ---- cases ---- */

static void case_valid(struct rng *r) {
  tm_start(&md, r, suite_of(r), NULL, NULL);
  tm_gen_valid(&md, r, (unsigned)rng_range(r, 1, 12), 1);
  if (rng_one_in(r, 3)) tm_gen_valid(&md, r, 2, 0); /* after a close_notify: never read */
  run_random(&md, r);
}

static void case_key_updates(struct rng *r) {
  tm_start(&md, r, suite_of(r), NULL, NULL);
  md.refuse_answers = rng_one_in(r, 4); /* the answer's send fails: the close frees the keys mid-record */
  for (uint64_t i = rng_range(r, 1, 6); i > 0; i--) {
    if (rng_one_in(r, 2)) tm_app(&md, r, rng_below(r, 200), 0);
    tm_key_update(&md, r, (int)rng_below(r, 2));
  }
  tm_app(&md, r, rng_below(r, 200), 0);
  run_random(&md, r);
}

static void case_breaks_rule(struct rng *r) {
  tm_start(&md, r, suite_of(r), NULL, NULL);
  tm_gen_valid(&md, r, (unsigned)rng_below(r, 5), 0);
  tm_gen_breaker(&md, r, -1);
  if (rng_one_in(r, 2)) tm_gen_valid(&md, r, (unsigned)rng_range(r, 1, 3), 0); /* never read */
  run_random(&md, r);
}

/* Records of nearly 2^14 bytes in reads of SCRATCH_BYTES after a cut that leaves most of
 * the first pending: more data than h->in holds opens in one read, so it is fed in parts. */
static void case_big_reads(struct rng *r) {
  tm_start(&md, r, suite_of(r), NULL, NULL);
  for (uint64_t i = rng_range(r, 5, 12); i > 0; i--) tm_app(&md, r, T_PLAIN_MAX - rng_below(r, 600), 0);
  if (rng_one_in(r, 3)) tm_gen_breaker(&md, r, -1);
  /* half the time most of the first record pending, so the next read opens 5 of them */
  size_t first = md.pm.s.starts[1], n = 0, pos = rng_one_in(r, 2) ? rng_range(r, first - 3000, first - 1) : rng_range(r, 1, first);
  reads[n++] = pos;
  while (pos < md.pm.s.len) {
    size_t k = md.pm.s.len - pos < SCRATCH_BYTES ? md.pm.s.len - pos : SCRATCH_BYTES;
    reads[n++] = k;
    pos += k;
  }
  run_reads(&md, r, reads, n, 1);
}

/* The protocol closes the connection on some byte of the data: nothing is read after. */
static void case_protocol_closes(struct rng *r) {
  tm_start(&md, r, suite_of(r), NULL, NULL);
  tm_gen_valid(&md, r, (unsigned)rng_range(r, 2, 12), 0);
  if (md.plain_len == 0) return;
  size_t n_reads = gen_reads(r, &md.pm.s, reads, MAX_READS), pos = 0;
  open_conn(&md, r);
  close_after = rng_range(r, 1, md.plain_len);
  for (size_t i = 0; i < n_reads && is_open(); i++) {
    feed(md.pm.s.p + pos, reads[i]);
    pos += reads[i];
    size_t due = tm_plain_due(&md, pos);
    FUZZ_CHECK(got_len <= due && memcmp(got, md.plain, got_len) == 0, "read %zu: %zu bytes, not the model's first", i, got_len);
    FUZZ_CHECK(is_open() == (due < close_after) && (!is_open() || got_len == due), "read %zu: %s with %zu of %zu bytes in", i,
               is_open() ? "open" : "closed", got_len, close_after);
  }
  FUZZ_CHECK(is_open() || (delta(CR_PROTOCOL) == 1 && fails == 0), "closed, but not by the protocol");
  close_conn();
}

/* Input without a model: the same outcome however it is cut, and (AEAD) never any data
 * but a prefix of what the peer sealed (`sealed`; NULL when unknown). */
static void check_any(struct tmodel *m, struct rng *r, const uint8_t *sealed, size_t sealed_len) {
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

  n = gen_reads(r, &m->pm.s, reads, MAX_READS);
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

static void case_mutated(struct rng *r) {
  static uint8_t *sealed;
  static size_t sealed_cap;
  tm_start(&md, r, suite_of(r), NULL, NULL);
  tm_gen_valid(&md, r, (unsigned)rng_range(r, 1, 8), 1);
  if (rng_one_in(r, 4)) tm_gen_breaker(&md, r, -1);
  sealed = grow_to(sealed, &sealed_cap, md.plain_len + 1, 1);
  memcpy(sealed, md.plain, md.plain_len);
  size_t sealed_len = md.plain_len;
  pm_mutate(&md.pm, r);
  check_any(&md, r, sealed, sealed_len);
}

/* Random bytes, or random bodies behind headers that pass the framing checks. */
static void case_garbage(struct rng *r) {
  uint8_t buf[T_HEADER + 600];
  tm_start(&md, r, suite_of(r), NULL, NULL);
  for (uint64_t i = rng_range(r, 1, 6); i > 0; i--) {
    size_t body = rng_range(r, 1, 600);
    buf[0] = rng_one_in(r, 8) ? (uint8_t)rng_next(r) : T_APPLICATION, buf[1] = 3, buf[2] = 3;
    buf[3] = (uint8_t)(body >> 8), buf[4] = (uint8_t)body;
    rng_fill(r, buf + T_HEADER, body);
    size_t skip = rng_one_in(r, 3) ? T_HEADER : 0; /* all random */
    pm_mark(&md.pm);
    pm_bytes(&md.pm, buf + skip, T_HEADER + body - skip);
  }
  check_any(&md, r, NULL, 0);
}

static const struct fuzz_case cases[] = {
    {"valid", 6, case_valid},
    {"key-updates", 3, case_key_updates},
    {"breaks-rule", 4, case_breaks_rule},
    {"big-reads", 1, case_big_reads},
    {"protocol-closes", 2, case_protocol_closes},
    {"mutated", 4, case_mutated},
    {"garbage", 2, case_garbage},
};

/* ---- the deterministic sweep ---- */

/* Whether offset i lies deep inside a record of more than 1 KB: the sweeps cut such a
 * record only near its ends, where its framing is (every byte between opens alike). */
static int inside_big_record(const struct tmodel *m, size_t i) {
  const struct stream *st = &m->pm.s;
  for (size_t k = 0; k < st->n_starts; k++) {
    size_t a = st->starts[k], b = k + 1 < st->n_starts ? st->starts[k + 1] : st->len;
    if (b - a > 1024 && i > a + 64 && i + 64 < b) return 1;
  }
  return 0;
}

/* Every one-cut split (and every two-cut one, `two`) of m's stream must deliver the same
 * data at the same prefixes, answer the same, and close at the same byte. */
static uint64_t sweep(struct tmodel *m, int two) {
  struct rng r = {1};
  size_t len = m->pm.s.len;
  uint64_t checked = 1;
  size_t whole[] = {len};
  run_reads(m, &r, whole, 1, 0);
  for (size_t i = 1; i < len; i++) {
    if (inside_big_record(m, i)) continue;
    size_t one[] = {i, len - i};
    run_reads(m, &r, one, 2, 0);
    checked++;
    for (size_t j = i + 1; two && j < len; j++) {
      size_t three[] = {i, j - i, len - j};
      run_reads(m, &r, three, 3, 0);
      checked++;
    }
  }
  return checked;
}

/* A KeyUpdate both ways between small records, then a close: the fixed secrets 0, 1, ... */
static void fixed_stream(struct tmodel *m, int suite, int longer) {
  uint8_t rd[48], wr[48];
  for (int i = 0; i < 48; i++) rd[i] = (uint8_t)i, wr[i] = (uint8_t)(0x80 + i);
  struct rng r = {(uint64_t)suite + 1};
  tm_start(m, &r, suite, rd, wr);
  tm_app(m, &r, 5, longer ? 3 : 0);
  if (longer) tm_tickets(m, &r, 2), tm_app(m, &r, 40, 0);
  tm_key_update(m, &r, 1);
  tm_app(m, &r, longer ? 30 : 3, 0);
  if (longer) tm_key_update(m, &r, 0), tm_app(m, &r, 0, 0), tm_app(m, &r, 20, 10);
  if (longer) tm_app(m, &r, T_PLAIN_MAX - 5, 5); /* the longest inner plaintext 5.4 allows */
  tm_close_notify(m, &r);
}

/* What tls13_take_over must refuse: it is not TLS 1.3, OpenSSL still holds bytes, a
 * suite other than the three, a secret the key log never gave (or gave malformed). */
static uint64_t take_over_refusals(void) {
  static const char *const lines[] = {
      "CLIENT_TRAFFIC_SECRET_0 00 0001020304050607080910111213141516171819202122232425262728293031",
      "SERVER_TRAFFIC_SECRET_0 00 0001020304050607080910111213141516171819202122232425262728293031",
  };
  struct fake_ssl good = {0x0304, 0, TSUITES[0].id}, tls12 = {0x0303, 0, TSUITES[0].id}, pending = {0x0304, 1, TSUITES[0].id},
                  ccm = {0x0304, 0, 0x03001304u};
  const struct fake_ssl *refused[] = {&tls12, &pending, &ccm};
  uint64_t checked = 0;
  for (size_t i = 0; i < 3; i++, checked++) {
    struct tls13 *k = tls13_new();
    tls13_keylog(k, lines[0], 0), tls13_keylog(k, lines[1], 0);
    FUZZ_CHECK(tls13_take_over(k, (SSL *)(void *)refused[i]) != 0, "take-over accepted refusal %zu", i);
    tls13_free(k);
  }
  static const char *const half[] = {"SERVER_TRAFFIC_SECRET_0 00 00010203", /* 4 bytes: not a secret */
                                     "SERVER_TRAFFIC_SECRET_0 00 000102030405060708091011121314151617181920212223242526272829303g",
                                     "SERVER_HANDSHAKE_TRAFFIC_SECRET 00 0001020304050607080910111213141516171819202122232425262728293031"};
  for (size_t i = 0; i < 3; i++, checked++) {
    struct tls13 *k = tls13_new();
    tls13_keylog(k, lines[0], 0), tls13_keylog(k, half[i], 0);
    FUZZ_CHECK(tls13_take_over(k, (SSL *)(void *)&good) != 0, "take-over without a read secret (line %zu)", i);
    tls13_free(k);
  }
  return checked;
}

static uint64_t exhaustive(void) {
  uint64_t checked = take_over_refusals();
  for (int suite = 0; suite < 3; suite++) {
    fixed_stream(&md, suite, 1);
    checked += sweep(&md, 0);
  }
  fixed_stream(&md, 2, 0);
  checked += sweep(&md, 1);
  for (int kind = 0; kind < TM_BREAKERS; kind++) { /* every rule, each cut anywhere */
    struct rng r = {(uint64_t)kind + 1};
    tm_start(&md, &r, kind % 3, NULL, NULL);
    tm_app(&md, &r, 7, 0);
    tm_gen_breaker(&md, &r, kind);
    tm_app(&md, &r, 9, 0); /* never delivered */
    checked += sweep(&md, 0);
  }
  return checked;
}

/* libFuzzer's bytes: byte 0 picks the suite and whether the rest is the wire itself or
 * records to seal ([inner type][length][padding] then the content), so the mutations it
 * finds reach behind the MAC check. */
static void one_input(const uint8_t *data, size_t size) {
  if (size == 0) return;
  struct rng r = {size};
  for (size_t i = 0; i < size && i < 64; i++) r.s = r.s * 131 + data[i];
  tm_start(&md, &r, data[0] % 3, NULL, NULL);
  const uint8_t *p = data + 1, *end = data + size;
  if (data[0] & 0x80) {
    pm_bytes(&md.pm, p, (size_t)(end - p));
  } else {
    while (end - p >= 3) {
      static const uint8_t types[] = {T_APPLICATION, T_HANDSHAKE, T_ALERT, 0};
      uint8_t type = types[p[0] & 3] ? types[p[0] & 3] : p[0];
      size_t len = (size_t)p[1] * 65 % (T_PLAIN_MAX + 1), pad = p[2] & 0x1f;
      p += 3;
      if (len > (size_t)(end - p)) len = (size_t)(end - p);
      tm_record(&md, type, p, len, pad);
      p += len;
    }
  }
  check_any(&md, &r, NULL, 0);
}

const struct fuzz_target tls13_records_target = {
    .name = "tls13-records",
    .about = "tls13_on_readable(): TLS 1.3 records after the handshake, sealed with known keys, at random and at every split point",
    .setup = setup,
    .teardown = teardown,
    .exhaustive = exhaustive,
    .one_input = one_input,
    .cases = cases,
    .n_cases = sizeof cases / sizeof cases[0],
};
