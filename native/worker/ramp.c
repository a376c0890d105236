/* The client ramp (see ramp.h). Pacing lives here, next to the holder, rather than in
 * the supervisor: the queue's fill and the window need `queued` and `pending` as they
 * are now, which only this process knows without a round trip, and a hundred workers
 * ticking every 5 ms would put 20,000 messages a second through the supervisor's one thread. The plan
 * itself (which tuples) stays in TypeScript: the supervisor sends them in chunks. */
#include "ramp.h"

#include <stdlib.h>
#include <string.h>

#include "base64.h"

static int valid_tuples(const uint32_t *t, size_t count) {
  for (size_t i = 0; i < count; i++, t += 4) {
    uint32_t dst_port = t[3] & ~0x10000u; /* TUPLE_IPV6 (conn.c) may ride above the port */
    if (t[1] > 0xffff || dst_port > 0xffff || dst_port == 0) return 0;
  }
  return 1;
}

int ramp_add(struct ramp *r, const char *b64, size_t len, int last) {
  if (r->last) return -1; /* nothing may follow the final chunk */
  size_t max_bytes = len / 4 * 3;
  struct chunk *c = malloc(sizeof *c + max_bytes + 16);
  if (!c) return -1;
  long bytes = b64_decode(b64, len, (uint8_t *)c->tuples);
  if (bytes < 0 || bytes % 16 != 0 || !valid_tuples(c->tuples, (size_t)bytes / 16)) {
    free(c);
    return -1;
  }
  r->last = last;
  r->wanted = 0;
  if (bytes == 0) {
    free(c);
    return 0;
  }
  c->next = NULL;
  c->count = (size_t)bytes / 16;
  c->used = 0;
  if (r->tail) r->tail->next = c;
  else r->head = c;
  r->tail = c;
  r->buffered += c->count;
  return 0;
}

/* Moves n tuples from the chunks into one holder command. */
static void issue(struct ramp *r, struct holder *h, size_t n) {
  struct cmd *c = calloc(1, sizeof *c);
  uint32_t *tuples = malloc(n * 4 * sizeof *tuples);
  if (!c || !tuples) {
    free(c);
    free(tuples);
    return; /* try again next tick */
  }
  for (size_t done = 0; done < n;) {
    struct chunk *k = r->head;
    size_t take = k->count - k->used < n - done ? k->count - k->used : n - done;
    memcpy(tuples + 4 * done, k->tuples + 4 * k->used, take * 4 * sizeof *tuples);
    k->used += take;
    done += take;
    if (k->used == k->count) {
      r->head = k->next;
      if (!r->head) r->tail = NULL;
      free(k);
    }
  }
  r->buffered -= n;
  c->type = CMD_CONNECT;
  c->tuples = tuples;
  c->count = n;
  STAT_ADD(h, ST_QUEUED, n);
  holder_submit(h, c);
}

int ramp_finished(const struct ramp *r, struct holder *h) {
  return r->last && r->buffered == 0 && STAT_GET(h, ST_PENDING) == 0 && STAT_GET(h, ST_QUEUED) == 0;
}

/* Unrated (ramp.h): when the queue will be about half drained at the rate it drained
 * since the last tick. */
static uint64_t unrated_interval(const struct ramp *r, uint64_t queued_before, uint64_t queued_after, uint64_t elapsed_us) {
  if (queued_before == 0 || (r->last && r->buffered == 0)) return RAMP_TICK_UNRATED_US;
  uint64_t drained = r->queued_after_tick > queued_before ? r->queued_after_tick - queued_before : 0;
  if (drained == 0) return RAMP_TICK_UNRATED_MAX_US; /* a stalled window: nothing to refill */
  uint64_t half_drained_us = queued_after * elapsed_us / (2 * drained);
  return half_drained_us < RAMP_TICK_UNRATED_US ? RAMP_TICK_UNRATED_US : half_drained_us > RAMP_TICK_UNRATED_MAX_US ? RAMP_TICK_UNRATED_MAX_US : half_drained_us;
}

int ramp_tick(struct ramp *r, struct holder *h, uint64_t now_us) {
  if (r->done) return 0;
  uint64_t elapsed_us = now_us - r->last_tick_us;
  if (r->rated) {
    double refill = (double)elapsed_us / 1e6 * r->rate_per_sec;
    r->tokens = r->tokens + refill < r->rate_per_sec ? r->tokens + refill : r->rate_per_sec;
  }
  r->last_tick_us = now_us;
  uint64_t queued_before = STAT_GET(h, ST_QUEUED);
  int events = 0;
  if (r->buffered > 0) {
    /* The loop holds pending connects to max_pending; unrated, this keeps as many queued
     * behind them. Rated, tokens are spent only on connects the window lets start now, so
     * a stalled window cannot bank a burst past the rate. */
    int64_t room = (int64_t)h->max_pending - (int64_t)STAT_GET(h, ST_QUEUED) - (r->rated ? (int64_t)STAT_GET(h, ST_PENDING) : 0);
    int64_t budget = (int64_t)r->buffered < room ? (int64_t)r->buffered : room;
    if (r->rated && budget > (int64_t)r->tokens) budget = (int64_t)r->tokens; /* tokens >= 0: truncation is floor */
    if (budget > 0) {
      r->tokens -= (double)budget;
      issue(r, h, (size_t)budget);
    }
  }
  uint64_t queued_after = STAT_GET(h, ST_QUEUED);
  r->interval_us = r->rated ? RAMP_TICK_US : unrated_interval(r, queued_before, queued_after, elapsed_us);
  r->queued_after_tick = queued_after;
  if (!r->last && !r->wanted && r->buffered < TUPLES_PER_CHUNK) {
    r->wanted = 1;
    events |= RAMP_WANT;
  }
  if (ramp_finished(r, h)) {
    r->done = 1;
    events |= RAMP_DONE;
  }
  return events;
}

void ramp_free(struct ramp *r) {
  while (r->head) {
    struct chunk *k = r->head;
    r->head = k->next;
    free(k);
  }
  r->tail = NULL;
  r->buffered = 0;
}
