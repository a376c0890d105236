/* Streams, generators, read splits and the reference model for the connlab frame
 * target. The model is written from the wire format (src/protocol/frame.ts's header
 * comment), frame by frame over the whole input, not byte by byte like conn.c, so the
 * two do not share a mistake. */
#include <stdlib.h>
#include <string.h>

#include "frames.h"

static void *grow(void *p, size_t *cap, size_t need, size_t item) {
  if (need <= *cap) return p;
  size_t cap2 = *cap ? *cap : 256;
  while (cap2 < need) cap2 *= 2;
  void *q = realloc(p, cap2 * item);
  if (!q) abort();
  *cap = cap2;
  return q;
}

void stream_clear(struct stream *s) { s->len = s->n_starts = 0; }

void stream_free(struct stream *s) {
  free(s->p);
  free(s->starts);
  memset(s, 0, sizeof *s);
}

void stream_bytes(struct stream *s, const uint8_t *p, size_t n) {
  s->p = grow(s->p, &s->cap, s->len + n, 1);
  memcpy(s->p + s->len, p, n);
  s->len += n;
}

void stream_frame(struct stream *s, struct rng *r, uint8_t type, uint8_t flags, uint16_t len, uint32_t seq,
                  uint64_t time_us, const uint8_t *payload) {
  s->starts = grow(s->starts, &s->cap_starts, s->n_starts + 1, sizeof *s->starts);
  s->starts[s->n_starts++] = s->len;
  uint8_t hdr[FRAME_HEADER_BYTES];
  frame_header_write(hdr, type, len, seq, time_us);
  hdr[1] = flags;
  stream_bytes(s, hdr, sizeof hdr);
  s->p = grow(s->p, &s->cap, s->len + len, 1);
  if (payload) memcpy(s->p + s->len, payload, len);
  else rng_fill(r, s->p + s->len, len);
  s->len += len;
}

/* ---- generators ---- */

/* Mostly small, often the largest a u16 can say, sometimes just below it. */
uint16_t gen_echo_length(struct rng *r) {
  switch (rng_below(r, 8)) {
    case 0:
    case 1: return (uint16_t)rng_range(r, 0, 16);
    case 2:
    case 3: return (uint16_t)rng_range(r, 17, 1024);
    case 4: return (uint16_t)rng_range(r, 1025, 65535);
    case 5: return 65535;
    case 6: return (uint16_t)rng_range(r, 65535 - 64, 65535);
    default: return (uint16_t)rng_range(r, 0, 65535);
  }
}

static uint32_t gen_seq(struct rng *r, uint32_t ping_seq) {
  return rng_one_in(r, 2) ? ping_seq : (uint32_t)rng_next(r);
}

/* One valid frame for a receiver on `side`. */
static void gen_frame(struct rng *r, struct stream *s, enum side side, uint32_t ping_seq) {
  uint64_t time_us = rng_one_in(r, 4) ? rng_next(r) : clock_real_us() - rng_below(r, 1000000);
  if (side == SIDE_SERVER) {
    if (rng_one_in(r, 3)) stream_frame(s, r, FRAME_PING, 0, 0, (uint32_t)rng_next(r), time_us, NULL);
    else stream_frame(s, r, FRAME_ECHO, 0, gen_echo_length(r), (uint32_t)rng_next(r), time_us, NULL);
  } else {
    if (rng_one_in(r, 2)) stream_frame(s, r, FRAME_PONG, 0, 0, gen_seq(r, ping_seq), time_us, NULL);
    else stream_frame(s, r, FRAME_BROADCAST, 0, rng_one_in(r, 4) ? gen_echo_length(r) : (uint16_t)rng_below(r, 64),
                      (uint32_t)rng_next(r), time_us, NULL);
  }
}

void gen_valid(struct rng *r, struct stream *s, enum side side, uint32_t ping_seq, size_t budget_bytes) {
  size_t end = s->len + budget_bytes;
  do gen_frame(r, s, side, ping_seq);
  while (s->len < end);
}

static size_t gen_budget(struct rng *r) {
  switch (rng_below(r, 8)) {
    case 0: return rng_range(r, 1, 64);
    case 1:
    case 2: return rng_range(r, 64, 4096);
    case 7: return rng_range(r, 65536, 1 << 20);
    default: return rng_range(r, 4096, 1 << 17);
  }
}

/* A header that breaks one rule: wrong side, nonzero flags, PING/PONG with a payload,
 * or a type that does not exist. */
static void gen_bad_frame(struct rng *r, struct stream *s, enum side side) {
  uint32_t seq = (uint32_t)rng_next(r);
  uint8_t mine = side == SIDE_SERVER ? FRAME_PING : FRAME_PONG;
  uint8_t theirs[] = {side == SIDE_SERVER ? FRAME_PONG : FRAME_PING, side == SIDE_SERVER ? FRAME_BROADCAST : FRAME_ECHO};
  switch (rng_below(r, 4)) {
    case 0: stream_frame(s, r, theirs[rng_below(r, 2)], 0, (uint16_t)rng_below(r, 8), seq, 0, NULL); break;
    case 1: stream_frame(s, r, mine, (uint8_t)rng_range(r, 1, 255), 0, seq, 0, NULL); break;
    case 2: stream_frame(s, r, mine, 0, (uint16_t)(rng_one_in(r, 2) ? rng_range(r, 1, 3) : rng_range(r, 1, 65535)), seq, 0, NULL); break;
    default: {
      uint8_t type;
      do type = (uint8_t)rng_next(r);
      while (type == FRAME_PING || type == FRAME_PONG || type == FRAME_ECHO || type == FRAME_BROADCAST);
      stream_frame(s, r, type, 0, (uint16_t)rng_below(r, 32), seq, 0, NULL);
    }
  }
}

void gen_garbage(struct rng *r, struct stream *s, enum side side, uint32_t ping_seq) {
  switch (rng_below(r, 4)) {
    case 0: { /* noise: an HTTP request, a TLS hello, anything */
      size_t n = rng_range(r, 1, rng_one_in(r, 4) ? 70000 : 512);
      uint8_t *tmp = malloc(n);
      rng_fill(r, tmp, n);
      stream_bytes(s, tmp, n);
      free(tmp);
      break;
    }
    case 1: { /* valid frames with a few bytes flipped anywhere, headers included */
      gen_valid(r, s, side, ping_seq, gen_budget(r));
      for (uint64_t i = rng_range(r, 1, 8); i > 0; i--) s->p[rng_below(r, s->len)] ^= (uint8_t)rng_range(r, 1, 255);
      break;
    }
    case 2: /* valid frames, then one that breaks a rule, then more */
      gen_valid(r, s, side, ping_seq, gen_budget(r) / 4);
      gen_bad_frame(r, s, side);
      gen_valid(r, s, side, ping_seq, rng_below(r, 256));
      break;
    default: /* headers of random types and flags with valid lengths */
      for (uint64_t i = rng_range(r, 1, 16); i > 0; i--) {
        if (rng_one_in(r, 3)) gen_bad_frame(r, s, side);
        else gen_frame(r, s, side, ping_seq);
      }
  }
}

/* A few PINGs and short ECHOs, so the attack's own reads stay where they are. */
static void gen_small(struct rng *r, struct stream *s) {
  for (uint64_t i = rng_below(r, 5); i > 0; i--) {
    if (rng_one_in(r, 2)) stream_frame(s, r, FRAME_PING, 0, 0, (uint32_t)rng_next(r), clock_real_us(), NULL);
    else stream_frame(s, r, FRAME_ECHO, 0, (uint16_t)rng_below(r, 40), (uint32_t)rng_next(r), clock_real_us(), NULL);
  }
}

size_t gen_attack(struct rng *r, struct stream *s, size_t cut) {
  gen_small(r, s);
  size_t at = s->len + cut;
  stream_frame(s, r, FRAME_ECHO, 0, 65535, (uint32_t)rng_next(r), clock_real_us(), NULL);
  gen_small(r, s);
  return at;
}

void gen_any(struct rng *r, struct stream *s, enum side side, uint32_t ping_seq) {
  uint64_t pick = rng_below(r, 8);
  if (pick < 5) gen_valid(r, s, side, ping_seq, gen_budget(r));
  else if (pick < 7 || side == SIDE_CLIENT) gen_garbage(r, s, side, ping_seq);
  else gen_attack(r, s, rng_range(r, 1, FRAME_HEADER_BYTES - 1));
}

/* ---- read splits ---- */

/* The first frame start after `pos`, or the end. */
static size_t next_start(const struct stream *s, size_t pos) {
  size_t lo = 0, hi = s->n_starts;
  while (lo < hi) {
    size_t mid = (lo + hi) / 2;
    if (s->starts[mid] <= pos) lo = mid + 1;
    else hi = mid;
  }
  return lo < s->n_starts ? s->starts[lo] : s->len;
}

/* Read sizes chosen to hit the edges: single bytes, a header short by a few, a full
 * scratch buffer (the issue-8 read), and cuts a few bytes either side of a frame start. */
static size_t gen_read(struct rng *r, const struct stream *s, size_t pos, int style) {
  size_t n;
  switch (style) {
    case 0: n = rng_range(r, 1, FRAME_HEADER_BYTES + 1); break;
    case 1: n = rng_range(r, 1, SCRATCH_BYTES); break;
    case 2: n = SCRATCH_BYTES - rng_below(r, rng_one_in(r, 2) ? 1 : 32); break;
    default: {
      size_t target = next_start(s, pos + (rng_one_in(r, 2) ? 0 : FRAME_HEADER_BYTES)) + rng_below(r, 33);
      n = target > pos + 16 ? target - pos - 16 : 1;
    }
  }
  if (n > SCRATCH_BYTES) n = SCRATCH_BYTES;
  if (n > s->len - pos) n = s->len - pos;
  return n ? n : 1;
}

size_t gen_reads(struct rng *r, const struct stream *s, size_t *reads, size_t max) {
  int fixed = rng_one_in(r, 2) ? (int)rng_below(r, 4) : -1; /* one style throughout, or a mix */
  size_t count = 0;
  for (size_t pos = 0; pos < s->len && count < max; count++) {
    size_t n = gen_read(r, s, pos, fixed >= 0 ? fixed : (int)rng_below(r, 4));
    reads[count] = n;
    pos += n;
  }
  return count;
}

/* ---- the reference model ---- */

static int valid_header(const uint8_t *hdr, enum side side) {
  uint16_t len = (uint16_t)(hdr[2] << 8 | hdr[3]);
  if (hdr[1] != 0) return 0;
  if (side == SIDE_SERVER) return (hdr[0] == FRAME_PING && len == 0) || hdr[0] == FRAME_ECHO;
  return (hdr[0] == FRAME_PONG && len == 0) || hdr[0] == FRAME_BROADCAST;
}

struct tally {
  uint32_t due, pongs, broadcasts, verified;
};

static void record(struct model *m, size_t k, const struct tally *t) {
  m->due[k] = t->due;
  m->pongs[k] = t->pongs;
  m->broadcasts[k] = t->broadcasts;
  m->verified[k] = t->verified;
}

static void answer(struct model *m, const uint8_t *p, size_t n) {
  m->answer = grow(m->answer, &m->answer_cap, m->answer_len + n, 1);
  memcpy(m->answer + m->answer_len, p, n);
  m->answer_len += n;
}

void model_build(struct model *m, const struct stream *s, enum side side, uint32_t ping_seq) {
  size_t need = s->len + 1;
  if (need > m->cap) {
    free(m->due), free(m->pongs), free(m->broadcasts), free(m->verified);
    m->due = malloc(need * 4), m->pongs = malloc(need * 4), m->broadcasts = malloc(need * 4), m->verified = malloc(need * 4);
    if (!m->due || !m->pongs || !m->broadcasts || !m->verified) abort();
    m->cap = need;
  }
  m->answer_len = 0;
  m->close_at = SIZE_MAX;
  struct tally t = {0};
  size_t k = 0, o = 0;
  record(m, k++, &t);
  while (o + FRAME_HEADER_BYTES <= s->len) {
    const uint8_t *hdr = s->p + o;
    for (; k < o + FRAME_HEADER_BYTES; k++) record(m, k, &t);
    if (!valid_header(hdr, side)) {
      m->close_at = o + FRAME_HEADER_BYTES;
      break;
    }
    size_t len = (size_t)(hdr[2] << 8 | hdr[3]);
    if (side == SIDE_SERVER) { /* PONG for PING (seq and time kept), the identical frame for ECHO */
      uint8_t reply[FRAME_HEADER_BYTES];
      memcpy(reply, hdr, sizeof reply);
      if (hdr[0] == FRAME_PING) reply[0] = FRAME_PONG;
      answer(m, reply, sizeof reply);
      t.due += FRAME_HEADER_BYTES;
    } else if (hdr[0] == FRAME_PONG) {
      t.pongs++;
      if (frame_seq(hdr) == ping_seq) t.verified = 1;
    } else {
      t.broadcasts++;
    }
    record(m, k++, &t);
    size_t have = s->len - (o + FRAME_HEADER_BYTES);
    size_t body = len < have ? len : have;
    if (side == SIDE_SERVER) answer(m, hdr + FRAME_HEADER_BYTES, body);
    for (size_t i = 1; i <= body; i++) {
      if (side == SIDE_SERVER) t.due++;
      record(m, k++, &t);
    }
    o += FRAME_HEADER_BYTES + len;
  }
  for (; k <= s->len; k++) record(m, k, &t);
}

void model_free(struct model *m) {
  free(m->answer), free(m->due), free(m->pongs), free(m->broadcasts), free(m->verified);
  memset(m, 0, sizeof *m);
}
