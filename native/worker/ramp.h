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
 * second at 1M, on two cores the ramp needs. */
#define RAMP_TICK_UNRATED_US 20000
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
};

enum ramp_events { RAMP_WANT = 1, RAMP_DONE = 2 };

/* Adds a chunk from base64 text; 0, or -1 when it is not whole tuples of valid ports. */
int ramp_add(struct ramp *r, const char *b64, size_t len, int last);
/* One tick: issues what the window and the bucket allow; returns RAMP_* flags saying
 * whether to ask for more tuples and whether the ramp just finished. */
int ramp_tick(struct ramp *r, struct holder *h, uint64_t now_us);
/* Every tuple tried and none in flight. */
int ramp_finished(const struct ramp *r, struct holder *h);
void ramp_free(struct ramp *r);

#endif
