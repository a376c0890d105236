/* A small, strict JSON reader and writer for the IPC messages of the C worker: the
 * reader turns one line into a flat token array (no allocation, bounded depth and
 * count) and refuses anything RFC 8259 refuses; the writer appends to a growable buffer.
 * It knows nothing about the messages themselves (main.c does). */
#ifndef CONNLAB_JSON_H
#define CONNLAB_JSON_H

#include <stddef.h>
#include <stdint.h>

enum jtype { J_NULL = 1, J_FALSE, J_TRUE, J_NUMBER, J_STRING, J_ARRAY, J_OBJECT };

/* One value. Strings span the text between the quotes, escapes still in place.
 * `next` is the index just past this value's subtree, so siblings are one hop apart;
 * an object's children are key, value, key, value... */
struct jtok {
  uint8_t type;
  uint32_t start, end;
  uint32_t next;
};

#define JSON_MAX_TOKENS 512
#define JSON_MAX_DEPTH 16

struct jdoc {
  const char *text;
  size_t len;
  struct jtok tok[JSON_MAX_TOKENS];
  uint32_t count;
  const char *error; /* static text, set when json_parse fails */
};

/* 0 when `text` is exactly one JSON value (whitespace around it allowed), else -1. */
int json_parse(struct jdoc *d, const char *text, size_t len);
/* The value of `key` in the object at token `obj`, or -1 (also when obj is no object). */
int json_get(const struct jdoc *d, int obj, const char *key);
/* Typed reads: 0 on success, -1 when the token is absent or of another shape. */
int json_uint(const struct jdoc *d, int t, uint64_t max, uint64_t *out); /* integers only */
int json_number(const struct jdoc *d, int t, double *out);
int json_bool(const struct jdoc *d, int t, int *out);
/* Unescapes a string into out (NUL-terminated); -1 when it does not fit or is no string. */
int json_string(const struct jdoc *d, int t, char *out, size_t cap, size_t *out_len);
/* Compares a string token (without escapes) with `s`. */
int json_string_is(const struct jdoc *d, int t, const char *s);

/* Writer: every append is a no-op once an allocation has failed (`failed` set). */
struct jbuf {
  char *p;
  size_t len, cap;
  int failed;
};

void jb_raw(struct jbuf *b, const char *s, size_t n);
void jb_lit(struct jbuf *b, const char *s);
void jb_str(struct jbuf *b, const char *s); /* a quoted, escaped JSON string */
void jb_uint(struct jbuf *b, uint64_t v);
void jb_key(struct jbuf *b, const char *key); /* "key": */
void jb_free(struct jbuf *b);

#endif
