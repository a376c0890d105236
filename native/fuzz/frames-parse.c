/* Target "frames-parse": frames_parse() itself, on a struct conn of a holder that is
 * initialised but never started. Each read is copied to the very end of the holder's
 * scratch buffer (so ASan sees any read past it) and its answer is checked against the
 * model: same bytes, the same close, and never more than the read plus 15 bytes
 * (holder.h), which the pre-fix buffer could not hold. */
#include <stdlib.h>
#include <string.h>

#include "frames.h"

#define MAX_READS 4096

static struct holder h;
static struct stream st;
static struct model md;
static size_t reads[MAX_READS];

static int setup(void) {
  int rc = holder_init(&h, &conn_io, 0, 1024);
  if (rc == 0) proto_configure(&h, 0); /* connlab frames */
  return rc;
}

static void teardown(void) {
  holder_free(&h);
  stream_free(&st);
  model_free(&md);
}

/* Feeds st through a fresh connection in the given reads, comparing every answer and
 * counter with md (built for the same side and ping_seq). */
static void check_reads(enum side side, uint32_t ping_seq, const size_t *sizes, size_t n_reads) {
  struct conn c;
  memset(&c, 0, sizeof c);
  c.state = side == SIDE_SERVER ? CS_SERVER : CS_CLIENT;
  h.ping_seq = ping_seq;
  h.ping_gen = 1;
  STAT_SET(&h, ST_VERIFIED, 0);
  uint64_t pongs0 = STAT_GET(&h, ST_PONGS_RECEIVED), broadcasts0 = STAT_GET(&h, ST_BROADCASTS_RECEIVED);
  size_t pos = 0;
  for (size_t i = 0; i < n_reads; i++) {
    size_t n = sizes[i];
    uint8_t *in = h.in + SCRATCH_BYTES - n;
    memcpy(in, st.p + pos, n);
    size_t out_len = 0;
    int reason = frames_parse(&h, &c, in, n, &out_len);
    int closes = md.close_at <= pos + n;
    size_t stop = model_stop(&md, pos + n);
    FUZZ_CHECK(out_len <= n + ANSWER_SLACK_BYTES, "read %zu at %zu: %zu answer bytes for %zu in", i, pos, out_len, n);
    FUZZ_CHECK(reason == (closes ? CR_PROTOCOL : -1), "read %zu at %zu (%zu bytes): close reason %d, model closes at %zu",
               i, pos, n, reason, md.close_at);
    FUZZ_CHECK(out_len == md.due[stop] - md.due[pos], "read %zu at %zu (%zu bytes): %zu answer bytes, model %u", i, pos,
               n, out_len, md.due[stop] - md.due[pos]);
    FUZZ_CHECK(out_len == 0 || memcmp(h.out, md.answer + md.due[pos], out_len) == 0, "read %zu at %zu: answer bytes differ", i, pos);
    FUZZ_CHECK(STAT_GET(&h, ST_PONGS_RECEIVED) - pongs0 == md.pongs[stop], "read %zu: pongs %llu, model %u", i,
               (unsigned long long)(STAT_GET(&h, ST_PONGS_RECEIVED) - pongs0), md.pongs[stop]);
    FUZZ_CHECK(STAT_GET(&h, ST_BROADCASTS_RECEIVED) - broadcasts0 == md.broadcasts[stop],
               "read %zu: broadcasts %llu, model %u", i,
               (unsigned long long)(STAT_GET(&h, ST_BROADCASTS_RECEIVED) - broadcasts0), md.broadcasts[stop]);
    FUZZ_CHECK(STAT_GET(&h, ST_VERIFIED) == md.verified[stop], "read %zu: verified %llu, model %u", i,
               (unsigned long long)STAT_GET(&h, ST_VERIFIED), md.verified[stop]);
    pos += n;
    if (closes) break;
  }
}

static void run_random(struct rng *r, enum side side, int garbage) {
  uint32_t ping_seq = (uint32_t)rng_next(r);
  stream_clear(&st);
  if (garbage) gen_garbage(r, &st, side, ping_seq);
  else gen_any(r, &st, side, ping_seq);
  model_build(&md, &st, side, ping_seq);
  check_reads(side, ping_seq, reads, gen_reads(r, &st, reads, MAX_READS));
}

static void case_server(struct rng *r) { run_random(r, SIDE_SERVER, 0); }
static void case_client(struct rng *r) { run_random(r, SIDE_CLIENT, 0); }
static void case_server_garbage(struct rng *r) { run_random(r, SIDE_SERVER, 1); }
static void case_client_garbage(struct rng *r) { run_random(r, SIDE_CLIENT, 1); }

/* Issue 8: an ECHO header (length 65535) cut after `cut` bytes, then one full read. */
static void case_attack(struct rng *r) {
  size_t cut = rng_one_in(r, 2) ? FRAME_HEADER_BYTES - 1 : rng_range(r, 1, FRAME_HEADER_BYTES - 1);
  stream_clear(&st);
  size_t at = gen_attack(r, &st, cut);
  model_build(&md, &st, SIDE_SERVER, 0);
  struct stream before = st;
  before.len = at;
  size_t n = gen_reads(r, &before, reads, MAX_READS / 2);
  reads[n++] = SCRATCH_BYTES;
  struct stream after = st;
  after.len = st.len - at - SCRATCH_BYTES;
  after.p = st.p + at + SCRATCH_BYTES;
  after.n_starts = 0;
  if (after.len > 0) n += gen_reads(r, &after, reads + n, MAX_READS - n);
  check_reads(SIDE_SERVER, 0, reads, n);
}

static const struct fuzz_case cases[] = {
    {"server-frames", 3, case_server},
    {"client-frames", 2, case_client},
    {"server-garbage", 2, case_server_garbage},
    {"client-garbage", 2, case_client_garbage},
    {"issue-8-attack", 1, case_attack},
};

/* ---- every split point of small sequences ---- */

#define PING_SEQ 7

static void sequence(int which, struct rng *r) {
  stream_clear(&st);
  switch (which) {
    case 0: /* server: every valid kind */
      stream_frame(&st, r, FRAME_PING, 0, 0, 1, 11, NULL);
      stream_frame(&st, r, FRAME_ECHO, 0, 0, 2, 12, NULL);
      stream_frame(&st, r, FRAME_ECHO, 0, 5, 3, 13, NULL);
      stream_frame(&st, r, FRAME_PING, 0, 0, 4, 14, NULL);
      break;
    case 1:
      stream_frame(&st, r, FRAME_ECHO, 0, 1, 1, 1, NULL);
      stream_frame(&st, r, FRAME_ECHO, 0, 17, 2, 2, NULL);
      stream_frame(&st, r, FRAME_PING, 0, 0, 3, 3, NULL);
      break;
    case 2: /* server: nonzero flags */
      stream_frame(&st, r, FRAME_PING, 0, 0, 1, 1, NULL);
      stream_frame(&st, r, FRAME_PING, 1, 0, 2, 2, NULL);
      stream_frame(&st, r, FRAME_PING, 0, 0, 3, 3, NULL);
      break;
    case 3: /* server: a client's frame */
      stream_frame(&st, r, FRAME_ECHO, 0, 3, 1, 1, NULL);
      stream_frame(&st, r, FRAME_PONG, 0, 0, 2, 2, NULL);
      break;
    case 4: /* server: a PING with a payload */
      stream_frame(&st, r, FRAME_ECHO, 0, 2, 1, 1, NULL);
      stream_frame(&st, r, FRAME_PING, 0, 1, 3, 3, NULL);
      break;
    case 5: /* client: every valid kind, one PONG of the current round */
      stream_frame(&st, r, FRAME_PONG, 0, 0, PING_SEQ, 1, NULL);
      stream_frame(&st, r, FRAME_BROADCAST, 0, 0, 1, 2, NULL);
      stream_frame(&st, r, FRAME_BROADCAST, 0, 4, 2, 3, NULL);
      stream_frame(&st, r, FRAME_PONG, 0, 0, PING_SEQ + 1, 4, NULL);
      break;
    case 6:
      stream_frame(&st, r, FRAME_BROADCAST, 0, 20, 1, 1, NULL);
      stream_frame(&st, r, FRAME_PONG, 0, 0, PING_SEQ, 2, NULL);
      stream_frame(&st, r, FRAME_PONG, 0, 0, PING_SEQ, 3, NULL);
      break;
    case 7: /* client: a server's frame */
      stream_frame(&st, r, FRAME_PONG, 0, 0, PING_SEQ, 1, NULL);
      stream_frame(&st, r, FRAME_ECHO, 0, 2, 2, 2, NULL);
      break;
    case 8: /* client: a PONG with a payload */
      stream_frame(&st, r, FRAME_BROADCAST, 0, 2, 1, 1, NULL);
      stream_frame(&st, r, FRAME_PONG, 0, 1, PING_SEQ, 2, NULL);
      stream_frame(&st, r, FRAME_PONG, 0, 0, PING_SEQ, 3, NULL);
      break;
    default: /* client: flags on a BROADCAST */
      stream_frame(&st, r, FRAME_PONG, 0, 0, PING_SEQ, 1, NULL);
      stream_frame(&st, r, FRAME_BROADCAST, 0x80, 3, 1, 1, NULL);
  }
}
#define SERVER_SEQUENCES 5
#define SEQUENCES 10

static uint64_t exhaustive(void) {
  struct rng r = {42};
  uint64_t checked = 0;
  for (int which = 0; which < SEQUENCES; which++) {
    enum side side = which < SERVER_SEQUENCES ? SIDE_SERVER : SIDE_CLIENT;
    sequence(which, &r);
    model_build(&md, &st, side, PING_SEQ);
    size_t len = st.len;
    size_t whole[] = {len};
    check_reads(side, PING_SEQ, whole, 1);
    checked++;
    for (size_t i = 1; i < len; i++) {
      size_t one[] = {i, len - i};
      check_reads(side, PING_SEQ, one, 2);
      checked++;
      for (size_t j = i + 1; j < len; j++) {
        size_t two[] = {i, j - i, len - j};
        check_reads(side, PING_SEQ, two, 3);
        checked++;
      }
    }
  }
  /* The attack at every cut of the header, with and without half a PING before it: the
   * second read is a full scratch buffer whose answer is the longest any read gets. */
  for (size_t ping = 0; ping < FRAME_HEADER_BYTES; ping += 5) {
    for (size_t cut = 1; cut < FRAME_HEADER_BYTES && !(ping && cut > 1); cut++) {
      stream_clear(&st);
      if (ping) stream_frame(&st, &r, FRAME_PING, 0, 0, 1, 1, NULL);
      stream_frame(&st, &r, FRAME_ECHO, 0, 65535, 2, 2, NULL);
      model_build(&md, &st, SIDE_SERVER, 0);
      size_t first = ping ? ping : cut;
      size_t second = st.len - first < SCRATCH_BYTES ? st.len - first : SCRATCH_BYTES;
      size_t sizes[] = {first, second, st.len - first - second};
      check_reads(SIDE_SERVER, 0, sizes, sizes[2] ? 3 : 2);
      checked++;
    }
  }
  return checked;
}

/* libFuzzer: byte 0 picks the side, bytes 1-8 seed the split points, the rest is the
 * input stream. */
static void one_input(const uint8_t *data, size_t size) {
  if (size < 9) return;
  enum side side = data[0] & 1 ? SIDE_CLIENT : SIDE_SERVER;
  struct rng r = {0};
  memcpy(&r.s, data + 1, 8);
  stream_clear(&st);
  stream_bytes(&st, data + 9, size - 9);
  model_build(&md, &st, side, PING_SEQ);
  check_reads(side, PING_SEQ, reads, gen_reads(&r, &st, reads, MAX_READS));
}

const struct fuzz_target frames_parse_target = {
    .name = "frames-parse",
    .about = "frames_parse(): connlab frames at random and at every split point, against the model",
    .setup = setup,
    .teardown = teardown,
    .exhaustive = exhaustive,
    .one_input = one_input,
    .cases = cases,
    .n_cases = sizeof cases / sizeof cases[0],
};
