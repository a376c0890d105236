/* Target "tls13-records": tls13_on_readable(), the TLS 1.3 record path that carries a
 * connection once tls.c has freed its SSL (tls13.c says why). The peer's bytes are
 * written to a socketpair in the generated reads and the holder's own recv, record
 * framing, AEAD open, post-handshake messages (NewSessionTicket, KeyUpdate and its
 * answer), alerts and partial records run on them; the plaintext reaches a recording
 * protocol through conn_input, and what the holder sends back (KeyUpdate answers,
 * tls13_send, tls13_goodbye) is read from the peer's end and compared byte for byte.
 *
 * The keys are known: each connection takes over from a stand-in SSL with secrets the
 * harness chose, fed through tls13_keylog as OpenSSL's key log lines (tls13-link.c), so
 * well-formed records decrypt and the cases reach what lies behind the MAC check. The
 * harness seals its records itself (tls13-model.c), with its own HKDF-Expand-Label
 * written from RFC 8446 7.1 and 7.3, through the same libcrypto. Interoperability with
 * real peers (OpenSSL's s_client, Node, nginx, Mosquitto) is the TLS tests' part
 * (test/server/serve-tls.test.ts, test/load/tls-servers.test.ts), which a mistake the
 * two sealers here shared could not pass. */
#include <stdlib.h>
#include <string.h>

#include "tls13-fuzz.h"

static struct tmodel md;
static size_t reads[TL_MAX_READS];

static void run_random(struct tmodel *m, struct rng *r) { tl_run_reads(m, r, reads, gen_reads(r, &m->pm.s, reads, TL_MAX_READS), 1); }

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
  tl_run_reads(&md, r, reads, n, 1);
}

static void case_protocol_closes(struct rng *r) {
  tm_start(&md, r, suite_of(r), NULL, NULL);
  tm_gen_valid(&md, r, (unsigned)rng_range(r, 2, 12), 0);
  if (md.plain_len > 0) tl_run_protocol_closes(&md, r);
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
  tl_check_any(&md, r, sealed, sealed_len);
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
  tl_check_any(&md, r, NULL, 0);
}

/* An iteration here costs some 40 protocol ones (it seals and opens up to a megabyte over
 * a socketpair), so the target weighs little: about a seventh of a mixed run's time. */
static const struct fuzz_case cases[] = {
    {"valid", 2, case_valid},
    {"key-updates", 1, case_key_updates},
    {"breaks-rule", 2, case_breaks_rule},
    {"big-reads", 1, case_big_reads},
    {"protocol-closes", 1, case_protocol_closes},
    {"mutated", 2, case_mutated},
    {"garbage", 1, case_garbage},
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
  tl_run_reads(m, &r, whole, 1, 0);
  for (size_t i = 1; i < len; i++) {
    if (inside_big_record(m, i)) continue;
    size_t one[] = {i, len - i};
    tl_run_reads(m, &r, one, 2, 0);
    checked++;
    for (size_t j = i + 1; two && j < len; j++) {
      size_t three[] = {i, j - i, len - j};
      tl_run_reads(m, &r, three, 3, 0);
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

static void teardown(void) {
  tl_teardown();
  pm_free(&md.pm);
  free(md.plain), free(md.plain_at), free(md.plain_end);
}

static uint64_t exhaustive(void) {
  uint64_t checked = tl_take_over_refusals();
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
  tl_check_any(&md, &r, NULL, 0);
}

const struct fuzz_target tls13_records_target = {
    .name = "tls13-records",
    .about = "tls13_on_readable(): TLS 1.3 records after the handshake, sealed with known keys, at random and at every split point",
    .setup = tl_setup,
    .teardown = teardown,
    .exhaustive = exhaustive,
    .one_input = one_input,
    .cases = cases,
    .n_cases = sizeof cases / sizeof cases[0],
};
