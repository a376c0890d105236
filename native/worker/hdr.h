/* Latency samples leave the C worker as HDR histograms, in the one configuration the
 * supervisor merges (src/engine/latency.ts: 1 µs .. 1 hour, 3 significant digits) and in
 * HdrHistogram's compressed V2 encoding, base64: what hdr-histogram-js
 * encodeIntoCompressedBase64 writes, so a C worker's report is a Node worker's report.
 * A report's histogram is a few hundred bytes whatever the count, and the supervisor adds
 * buckets instead of recording each sample. */
#ifndef CONNLAB_HDR_H
#define CONNLAB_HDR_H

#include <stddef.h>
#include <stdint.h>

#include "json.h"

#define HDR_HIGHEST_US 3600000000u /* one hour: larger samples are clamped to it, 0 to 1 */

/* Counts-array index of a value (lowest 1, 3 digits: 1,024 half sub-buckets). */
uint32_t hdr_index(uint32_t value_us);
/* The uncompressed V2 encoding of samples (sorted in place) into out; its length, or 0
 * when n is 0 or out (cap bytes) is too small: hdr_encoded_max(n) is always enough. */
size_t hdr_encode(uint32_t *samples, size_t n, uint8_t *out, size_t cap);
size_t hdr_encoded_max(size_t n);
/* Appends the compressed V2 encoding of samples (sorted in place), base64, to b: the
 * zlib stream uses stored blocks (RFC 1950/1951), which every inflater reads, so no
 * compression library is linked. 0, or -1 when out of memory. */
int hdr_append_b64(struct jbuf *b, uint32_t *samples, size_t n);

#endif
