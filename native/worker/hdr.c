/* HDR histograms of latency samples (see hdr.h). The encoding follows hdr-histogram-js
 * (JsHistogram.encoding.js) byte for byte: a 40-byte big-endian header, then the counts
 * array up to the largest value's bucket as ZigZag LEB128-64b9B words, where a run of
 * two or more empty buckets is one negative word. Samples are sorted so that equal
 * buckets are adjacent: no 23,552-entry counts array is ever allocated. */
#include "hdr.h"

#include <stdlib.h>

#include "base64.h"

#define SUB_HALF_MAGNITUDE 10 /* log2(1024): 2 * 10^3 values need 2,048 sub-buckets */
#define SUB_HALF_COUNT (1u << SUB_HALF_MAGNITUDE)
#define COUNTS_LENGTH 23552u /* (22 buckets + 1) * 1,024 for 1 .. 3,600,000,000 */
#define V2_COOKIE 0x1c849313u /* V2EncodingCookieBase | 0x10 */
#define V2_COMPRESSED_COOKIE 0x1c849314u
#define HEADER_BYTES 40
#define STORED_MAX 65535u

static uint32_t clamp(uint32_t v) { return v < 1 ? 1 : v > HDR_HIGHEST_US ? HDR_HIGHEST_US : v; }

uint32_t hdr_index(uint32_t value_us) {
  uint32_t v = clamp(value_us);
  int log2 = 31 - __builtin_clz(v);
  uint32_t bucket = log2 > SUB_HALF_MAGNITUDE ? (uint32_t)(log2 - SUB_HALF_MAGNITUDE) : 0;
  return ((bucket + 1) << SUB_HALF_MAGNITUDE) + (v >> bucket) - SUB_HALF_COUNT;
}

static int by_value(const void *a, const void *b) {
  uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
  return x < y ? -1 : x > y;
}

static uint8_t *put_be(uint8_t *p, uint64_t v, int bytes) {
  for (int i = bytes - 1; i >= 0; i--) *p++ = (uint8_t)(v >> (8 * i));
  return p;
}

/* ZigZag, then LEB128 with at most 9 bytes (the 9th carries 8 bits): counts and runs
 * here are far below 2^56, so the 9-byte form never occurs, but it is written right. */
static uint8_t *put_word(uint8_t *p, int64_t value) {
  uint64_t v = value >= 0 ? (uint64_t)value * 2 : (uint64_t)(-value) * 2 - 1;
  for (int i = 0; i < 8; i++) {
    if (v < 0x80) {
      *p++ = (uint8_t)v;
      return p;
    }
    *p++ = (uint8_t)(v | 0x80);
    v >>= 7;
  }
  *p++ = (uint8_t)v;
  return p;
}

size_t hdr_encoded_max(size_t n) {
  size_t distinct = n < COUNTS_LENGTH ? n : COUNTS_LENGTH;
  return HEADER_BYTES + 20 * distinct; /* a zero run and a count per bucket, 10 bytes each at most */
}

size_t hdr_encode(uint32_t *samples, size_t n, uint8_t *out, size_t cap) {
  if (n == 0 || cap < hdr_encoded_max(n)) return 0;
  qsort(samples, n, sizeof *samples, by_value);
  uint8_t *p = out + HEADER_BYTES;
  uint32_t next = 0; /* the first bucket not yet written */
  for (size_t i = 0; i < n;) {
    uint32_t at = hdr_index(samples[i]);
    size_t count = 0;
    while (i < n && hdr_index(samples[i]) == at) i++, count++;
    uint32_t zeros = at - next;
    if (zeros > 1) p = put_word(p, -(int64_t)zeros);
    else if (zeros == 1) p = put_word(p, 0);
    p = put_word(p, (int64_t)count);
    next = at + 1;
  }
  size_t payload = (size_t)(p - out) - HEADER_BYTES;
  uint8_t *h = put_be(out, V2_COOKIE, 4);
  h = put_be(h, payload, 4);
  h = put_be(h, 1, 4); /* normalizing index offset: hdr-histogram-js writes 1, readers skip it */
  h = put_be(h, 3, 4); /* significant digits */
  h = put_be(h, 1, 8); /* lowest discernible value */
  h = put_be(h, HDR_HIGHEST_US, 8);
  put_be(h, 1, 8); /* integer to double conversion ratio, as hdr-histogram-js writes it */
  return (size_t)(p - out);
}

static uint32_t adler32(const uint8_t *p, size_t n) {
  uint32_t a = 1, b = 0;
  for (size_t i = 0; i < n; i++) {
    a = (a + p[i]) % 65521u;
    b = (b + a) % 65521u;
  }
  return b << 16 | a;
}

/* A zlib stream of stored blocks around raw; its length (out holds raw_len + 6 + 5 per block). */
static size_t zlib_stored(const uint8_t *raw, size_t raw_len, uint8_t *out) {
  uint8_t *p = out;
  *p++ = 0x78; /* deflate, 32 KiB window */
  *p++ = 0x01; /* (0x78 << 8 | 0x01) % 31 == 0, no dictionary, "fastest" */
  size_t done = 0;
  do {
    size_t len = raw_len - done < STORED_MAX ? raw_len - done : STORED_MAX;
    *p++ = done + len == raw_len; /* BFINAL, BTYPE 00: stored */
    *p++ = (uint8_t)len, *p++ = (uint8_t)(len >> 8);
    *p++ = (uint8_t)~len, *p++ = (uint8_t)(~len >> 8);
    for (size_t i = 0; i < len; i++) *p++ = raw[done + i];
    done += len;
  } while (done < raw_len);
  return (size_t)(put_be(p, adler32(raw, raw_len), 4) - out);
}

int hdr_append_b64(struct jbuf *b, uint32_t *samples, size_t n) {
  size_t raw_cap = hdr_encoded_max(n);
  size_t blocks = raw_cap / STORED_MAX + 1;
  uint8_t *raw = malloc(raw_cap), *out = malloc(8 + 2 + 5 * blocks + raw_cap + 4);
  size_t raw_len = raw && out ? hdr_encode(samples, n, raw, raw_cap) : 0;
  if (raw_len == 0) {
    free(raw);
    free(out);
    return n == 0 ? 0 : -1;
  }
  size_t z = zlib_stored(raw, raw_len, out + 8);
  put_be(put_be(out, V2_COMPRESSED_COOKIE, 4), z, 4);
  b64_append(b, out, 8 + z);
  free(raw);
  free(out);
  return 0;
}
