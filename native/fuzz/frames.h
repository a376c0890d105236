/* The connlab frame target's shared parts: byte streams with their frame boundaries,
 * generators (valid frames of every type, garbage, the issue-8 attack), read splits,
 * and the reference model. frames-parse.c feeds frames_parse directly; frames-conn.c drives
 * the connection state machine through real sockets. */
#ifndef CONNLAB_FUZZ_FRAMES_H
#define CONNLAB_FUZZ_FRAMES_H

#include "holder.h" /* -I the holder sources: build.sh can point it at another tree */
#include "fuzz.h"
#ifdef CONNLAB_FUZZ_PRE_FIX /* prove-issue-8.sh: the core before the tables */
#include "pre-fix.h"
#endif

/* The documented bound (holder.h): one read's answer is at most this much longer. */
#define ANSWER_SLACK_BYTES (FRAME_HEADER_BYTES - 1)

enum side { SIDE_SERVER, SIDE_CLIENT };

struct stream {
  uint8_t *p;
  size_t len, cap;
  size_t *starts; /* offset of every generated frame, for splits near boundaries */
  size_t n_starts, cap_starts;
};

void stream_clear(struct stream *s);
void stream_free(struct stream *s);
void stream_bytes(struct stream *s, const uint8_t *p, size_t n);
/* Appends one frame; the payload is random (from r) unless `payload` is given. */
void stream_frame(struct stream *s, struct rng *r, uint8_t type, uint8_t flags, uint16_t len, uint32_t seq,
                  uint64_t time_us, const uint8_t *payload);

/* Generators. `ping_seq` is the seq of the client's current ping round. */
uint16_t gen_echo_length(struct rng *r);
void gen_valid(struct rng *r, struct stream *s, enum side side, uint32_t ping_seq, size_t budget_bytes);
void gen_garbage(struct rng *r, struct stream *s, enum side side, uint32_t ping_seq);
/* The issue-8 attack: frames before it, then an ECHO (length 65535) whose header is
 * cut after `cut` bytes; returns the offset of the cut. */
size_t gen_attack(struct rng *r, struct stream *s, size_t cut);
/* Any of the above, as the random cases mix them. */
void gen_any(struct rng *r, struct stream *s, enum side side, uint32_t ping_seq);

/* Cuts the stream into reads of 1..SCRATCH_BYTES bytes; returns how many. At most max,
 * so they may cover only a prefix: the model answers for any prefix. */
size_t gen_reads(struct rng *r, const struct stream *s, size_t *reads, size_t max);

/* What the receiver must do with the stream, per prefix: after k input bytes it has
 * answered due[k] bytes of answer[] (server), and counted pongs[k], broadcasts[k] and
 * verified[k] (client). close_at is the prefix length at which a malformed header is
 * complete and the connection closes as "protocol"; SIZE_MAX when it never does. */
struct model {
  uint8_t *answer;
  size_t answer_len, answer_cap;
  uint32_t *due, *pongs, *broadcasts, *verified;
  size_t cap; /* entries in each array */
  size_t close_at;
};

void model_build(struct model *m, const struct stream *s, enum side side, uint32_t ping_seq);
void model_free(struct model *m);
/* The prefix length the receiver stops at when it has been given `k` bytes. */
static inline size_t model_stop(const struct model *m, size_t k) { return k < m->close_at ? k : m->close_at; }

#endif
