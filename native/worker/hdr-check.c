/* Test-only (test/engine/c-worker-latency.test.ts builds it under sanitizers; it is in
 * no production target): reads decimal µs samples from stdin, writes what the worker's
 * report would carry for them (hdr.h), so the test compares it with hdr-histogram-js. */
#include <stdio.h>
#include <stdlib.h>

#include "hdr.h"

int main(void) {
  size_t n = 0, cap = 1024;
  uint32_t *samples = malloc(cap * sizeof *samples);
  unsigned long v;
  while (samples && scanf("%lu", &v) == 1) {
    if (n == cap) samples = realloc(samples, (cap *= 2) * sizeof *samples);
    if (samples) samples[n++] = (uint32_t)v;
  }
  struct jbuf b = {0};
  if (!samples || hdr_append_b64(&b, samples, n) != 0 || b.failed) return 1;
  fwrite(b.p ? b.p : "", 1, b.len, stdout);
  jb_free(&b);
  free(samples);
  return 0;
}
