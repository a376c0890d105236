/* Standard base64 (RFC 4648, with padding), the encoding Node's Buffer reads and writes:
 * tuples arrive in it and latency samples leave in it. */
#ifndef CONNLAB_BASE64_H
#define CONNLAB_BASE64_H

#include <stddef.h>
#include <stdint.h>

#include "json.h"

void b64_append(struct jbuf *b, const uint8_t *data, size_t len);
/* Decodes into out (capacity len / 4 * 3); returns the bytes written, or -1 if malformed. */
long b64_decode(const char *in, size_t len, uint8_t *out);

#endif
