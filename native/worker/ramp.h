/* A client worker's ramp: the tuples its supervisor sent (in chunks, on request) and
 * the pacing that hands them to the holder. The holder's loop keeps the in-flight window
 * (at most holder.max_pending connects pending); every tick tops its queue up to as many
 * tuples, and when a rate is set, spends at most the tokens of a bucket holding one
 * second of burst. The same rules as src/engine/worker.ts, where one thread does both. */
#ifndef CONNLAB_RAMP_H
#define CONNLAB_RAMP_H

#include <stddef.h>
#include <stdint.h>

#include "../holder.h"

#define RAMP_TICK_US 5000
/* Unrated, a tick only refills a queue that lasts far longer (max_pending connects) and
 * notices the end: waking 51 workers every 5 ms for that cost 10,000 context switches a
 * second at 1M, on two cores the ramp needs. So the next tick comes when the queue is
 * about half drained at the rate it drained since the last one, between these bounds;
 * at the shortest while the queue ran dry (the rate is then unknown) and once every
 * tuple has been handed over (to notice the end). At 1M a load worker drains ~400
 * connects a second, so its queue of 1,024 lasts seconds: the longest interval. */
#define RAMP_TICK_UNRATED_US 20000
#define RAMP_TICK_UNRATED_MAX_US 250000
/* Tuples per chunk the supervisor sends; asked for again when fewer are buffered. */
#define TUPLES_PER_CHUNK 2048

struct chunk {
  struct chunk *next;
  size_t count, used; /* tuples */
  uint32_t tuples[];  /* 4 u32 per tuple: srcIp, srcPort, dstIp, dstPort */
};

struct ramp {
  struct chunk *head, *tail;
  size_t buffered;   /* tuples received and not yet handed to the holder */
  int last;          /* the supervisor sent the final chunk */
  int wanted;        /* a `want` is outstanding */
  int done;          /* `ramped` was sent */
  int rated;
  double rate_per_sec, tokens;
  uint64_t last_tick_us;
  uint64_t queued_after_tick; /* the holder's queue as the last tick left it */
  uint64_t interval_us;       /* until the next tick, as the last tick decided */
};

enum ramp_events { RAMP_WANT = 1, RAMP_DONE = 2 };

/* Adds a chunk from base64 text; 0, or -1 when it is not whole tuples of valid ports. */
int ramp_add(struct ramp *r, const char *b64, size_t len, int last);
/* One tick: issues what the window and the bucket allow, and sets r->interval_us; returns
 * RAMP_* flags saying whether to ask for more tuples and whether the ramp just finished. */
int ramp_tick(struct ramp *r, struct holder *h, uint64_t now_us);
/* Every tuple tried and none in flight. */
int ramp_finished(const struct ramp *r, struct holder *h);
void ramp_free(struct ramp *r);

#endif
