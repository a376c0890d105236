/* Sample buffers (connect latency, ping RTT, broadcast delivery, all in µs). They
 * grow by doubling up to max_samples; past that, samples are dropped and counted,
 * so a JS side that never drains cannot make memory grow without bound. */
#include <stdlib.h>

#include "holder.h"

void samples_push(struct holder *h, struct sample_buf *b, uint64_t value) {
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

void samples_free(struct holder *h) {
  struct sample_buf *bufs[] = {&h->connect_us, &h->rtt_us, &h->broadcast_us};
  for (size_t i = 0; i < 3; i++) {
    free(bufs[i]->data);
    bufs[i]->data = NULL;
    bufs[i]->len = bufs[i]->cap = 0;
  }
}
