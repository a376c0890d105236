/* base64 in and out, strict on input: only the standard alphabet, length a multiple of
 * four, '=' only as the final padding. */
#include "base64.h"

static const char ALPHABET[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

void b64_append(struct jbuf *b, const uint8_t *data, size_t len) {
  char quad[4];
  for (size_t i = 0; i < len; i += 3) {
    uint32_t v = (uint32_t)data[i] << 16;
    if (i + 1 < len) v |= (uint32_t)data[i + 1] << 8;
    if (i + 2 < len) v |= data[i + 2];
    quad[0] = ALPHABET[v >> 18 & 63];
    quad[1] = ALPHABET[v >> 12 & 63];
    quad[2] = i + 1 < len ? ALPHABET[v >> 6 & 63] : '=';
    quad[3] = i + 2 < len ? ALPHABET[v & 63] : '=';
    jb_raw(b, quad, 4);
  }
}

static int value_of(char c) {
  if (c >= 'A' && c <= 'Z') return c - 'A';
  if (c >= 'a' && c <= 'z') return c - 'a' + 26;
  if (c >= '0' && c <= '9') return c - '0' + 52;
  if (c == '+') return 62;
  if (c == '/') return 63;
  return -1;
}

long b64_decode(const char *in, size_t len, uint8_t *out) {
  if (len % 4 != 0) return -1;
  long n = 0;
  for (size_t i = 0; i < len; i += 4) {
    int pad = (in[i + 3] == '=') + (in[i + 2] == '=' && in[i + 3] == '=');
    if (pad && i + 4 != len) return -1;
    uint32_t v = 0;
    for (int k = 0; k < 4; k++) {
      int x = k >= 4 - pad ? 0 : value_of(in[i + k]);
      if (x < 0) return -1;
      v = v << 6 | (uint32_t)x;
    }
    out[n++] = (uint8_t)(v >> 16);
    if (pad < 2) out[n++] = (uint8_t)(v >> 8);
    if (pad < 1) out[n++] = (uint8_t)v;
  }
  return n;
}
