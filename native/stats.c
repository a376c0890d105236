/* Every counter of a holder in one place: the named stats (in enum stat_index order,
 * which the N-API binding and the C worker both export), errno counts, protocol codes,
 * the first bytes of reads that broke a protocol, and the latency sample buffers.
 * Written by the loop thread, read by the JS thread or the worker's main thread. Sample
 * buffers grow by doubling up to max_samples; past that, samples are dropped and counted,
 * so a reader that never drains cannot make memory grow without bound. Calls nothing. */
#include <stdlib.h>
#include <string.h>

#include "holder.h"

const char *const stat_names[ST_COUNT] = {
    "established",     "peakEstablished", "pending",       "queued",
    "accepted",        "connected",       "closedPeer",    "closedReset",
    "closedProtocol",  "closedSlow",      "closedLocal",   "closedTimeout",
    "closedChurn",
    "acceptBackoffs",  "pingsSent",       "pongsReceived", "verified",
    "broadcastsSent",  "broadcastsReceived", "bytesIn",    "bytesOut",
    "samplesDropped",  "listeners",       "closedServer",  "closedIdle",
    "closedRefused",   "closedKeepalive", "closedEarly",   "silent",
    "closedTls",       "tlsHandshakes",
    "closedHttpHeaders", "closedHttpBody", "closedPending",
};

void stats_error(struct holder *h, int err) {
  if (err <= 0 || err >= ERRNO_SLOTS) err = 0;
  __atomic_fetch_add(&h->errors[err], 1, __ATOMIC_RELAXED);
}

void stats_bad(struct holder *h, const uint8_t *p, size_t n) {
  uint32_t i = h->bad_count;
  if (i >= BAD_SAMPLES) return;
  size_t k = n < BAD_BYTES ? n : BAD_BYTES;
  memcpy(h->bad[i], p, k);
  h->bad_len[i] = (uint8_t)k;
  __atomic_store_n(&h->bad_count, i + 1, __ATOMIC_RELEASE);
}

void stats_code(struct holder *h, int kind, uint32_t code) {
  uint32_t key = (uint32_t)kind << 16 | (code & 0xffff);
  for (uint32_t i = 0, at = (key * 2654435761u) % CODE_SLOTS; i < CODE_SLOTS; i++, at = (at + 1) % CODE_SLOTS) {
    struct code_count *slot = &h->codes[at];
    if (slot->key == 0) __atomic_store_n(&slot->key, key, __ATOMIC_RELEASE);
    if (slot->key == key) {
      __atomic_fetch_add(&slot->count, 1, __ATOMIC_RELAXED);
      return;
    }
  }
}

void stats_sample(struct holder *h, struct sample_buf *b, uint64_t value) {
  uint32_t v = value > UINT32_MAX ? UINT32_MAX : (uint32_t)value;
  pthread_mutex_lock(&h->sample_lock);
  if (b->len == b->cap && b->cap < h->max_samples) {
    size_t cap = b->cap ? b->cap * 2 : 1024;
    if (cap > h->max_samples) cap = h->max_samples;
    uint32_t *data = realloc(b->data, cap * sizeof *data);
    if (data) {
      b->data = data;
      b->cap = cap;
    }
  }
  if (b->len < b->cap) {
    b->data[b->len++] = v;
  } else {
    STAT_ADD(h, ST_SAMPLES_DROPPED, 1);
  }
  pthread_mutex_unlock(&h->sample_lock);
}

void stats_free_samples(struct holder *h) {
  struct sample_buf *bufs[] = {&h->connect_us, &h->rtt_us, &h->broadcast_us};
  for (size_t i = 0; i < 3; i++) {
    free(bufs[i]->data);
    bufs[i]->data = NULL;
    bufs[i]->len = bufs[i]->cap = 0;
  }
}
