/* The output buffer every protocol of this directory appends its answers to: bounded,
 * all or nothing. A leaf: the parsers call it, it calls nothing. */
#include <string.h>

#include "proto.h"

int proto_out_append(struct proto_out *out, const void *p, size_t len) {
  if (out->cap - out->len < len) return -1;
  memcpy(out->buf + out->len, p, len);
  out->len += len;
  return 0;
}
