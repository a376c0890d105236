/* The strict JSON reader and the append-only writer (see json.h). The reader is a
 * recursive descent bounded by JSON_MAX_DEPTH and JSON_MAX_TOKENS, so no input can
 * exhaust the stack or memory; native/worker/fuzz-json.c drives it with random bytes. */
#include "json.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct parser {
  struct jdoc *d;
  size_t pos;
};

static void skip_ws(struct parser *p) {
  const char *s = p->d->text;
  while (p->pos < p->d->len && (s[p->pos] == ' ' || s[p->pos] == '\t' || s[p->pos] == '\n' || s[p->pos] == '\r')) p->pos++;
}

static int fail(struct parser *p, const char *why) {
  if (!p->d->error) p->d->error = why;
  return -1;
}

static int peek(const struct parser *p) {
  return p->pos < p->d->len ? (unsigned char)p->d->text[p->pos] : -1;
}

static int new_tok(struct parser *p, int type) {
  if (p->d->count >= JSON_MAX_TOKENS) return fail(p, "too many values");
  int i = (int)p->d->count++;
  p->d->tok[i] = (struct jtok){.type = (uint8_t)type, .start = (uint32_t)p->pos};
  return i;
}

static int hexval(int c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

static int parse_string(struct parser *p) {
  p->pos++; /* opening quote */
  int t = new_tok(p, J_STRING);
  if (t < 0) return -1;
  const char *s = p->d->text;
  while (p->pos < p->d->len) {
    unsigned char c = (unsigned char)s[p->pos];
    if (c == '"') {
      p->d->tok[t].end = (uint32_t)p->pos++;
      return t;
    }
    if (c < 0x20) return fail(p, "control character in a string");
    if (c == '\\') {
      if (p->pos + 1 >= p->d->len) break;
      char e = s[p->pos + 1];
      if (e == 'u') {
        if (p->pos + 6 > p->d->len) break;
        for (int k = 2; k < 6; k++) {
          if (hexval((unsigned char)s[p->pos + k]) < 0) return fail(p, "bad \\u escape");
        }
        p->pos += 6;
        continue;
      }
      if (!strchr("\"\\/bfnrt", e) || e == 0) return fail(p, "bad escape");
      p->pos += 2;
      continue;
    }
    p->pos++;
  }
  return fail(p, "unterminated string");
}

static int digits(struct parser *p) {
  size_t from = p->pos;
  while (peek(p) >= '0' && peek(p) <= '9') p->pos++;
  return p->pos > from ? 0 : -1;
}

static int parse_number(struct parser *p) {
  int t = new_tok(p, J_NUMBER);
  if (t < 0) return -1;
  if (peek(p) == '-') p->pos++;
  if (peek(p) == '0') p->pos++;
  else if (digits(p) != 0) return fail(p, "bad number");
  if (peek(p) == '.') {
    p->pos++;
    if (digits(p) != 0) return fail(p, "bad fraction");
  }
  if (peek(p) == 'e' || peek(p) == 'E') {
    p->pos++;
    if (peek(p) == '+' || peek(p) == '-') p->pos++;
    if (digits(p) != 0) return fail(p, "bad exponent");
  }
  p->d->tok[t].end = (uint32_t)p->pos;
  return t;
}

static int parse_word(struct parser *p, const char *word, int type) {
  size_t n = strlen(word);
  if (p->pos + n > p->d->len || memcmp(p->d->text + p->pos, word, n) != 0) return fail(p, "unexpected character");
  int t = new_tok(p, type);
  if (t < 0) return -1;
  p->pos += n;
  p->d->tok[t].end = (uint32_t)p->pos;
  return t;
}

static int parse_value(struct parser *p, int depth);

/* Arrays and objects: `close` ends them; objects alternate string keys and values. */
static int parse_container(struct parser *p, int depth, int type, char close) {
  if (depth >= JSON_MAX_DEPTH) return fail(p, "nested too deeply");
  int t = new_tok(p, type);
  if (t < 0) return -1;
  p->pos++;
  skip_ws(p);
  if (peek(p) == close) {
    p->pos++;
  } else {
    for (;;) {
      skip_ws(p);
      if (type == J_OBJECT) {
        if (peek(p) != '"') return fail(p, "expected a key");
        int key = parse_string(p);
        if (key < 0) return -1;
        p->d->tok[key].next = p->d->count;
        skip_ws(p);
        if (peek(p) != ':') return fail(p, "expected ':'");
        p->pos++;
      }
      if (parse_value(p, depth + 1) < 0) return -1;
      skip_ws(p);
      int c = peek(p);
      p->pos++;
      if (c == close) break;
      if (c != ',') return fail(p, "expected ',' or the end of a container");
    }
  }
  p->d->tok[t].end = (uint32_t)p->pos;
  return t;
}

static int parse_value(struct parser *p, int depth) {
  skip_ws(p);
  int t;
  switch (peek(p)) {
    case '{': t = parse_container(p, depth, J_OBJECT, '}'); break;
    case '[': t = parse_container(p, depth, J_ARRAY, ']'); break;
    case '"': t = parse_string(p); break;
    case 't': t = parse_word(p, "true", J_TRUE); break;
    case 'f': t = parse_word(p, "false", J_FALSE); break;
    case 'n': t = parse_word(p, "null", J_NULL); break;
    case -1: return fail(p, "unexpected end");
    default:
      if (peek(p) == '-' || (peek(p) >= '0' && peek(p) <= '9')) t = parse_number(p);
      else return fail(p, "unexpected character");
  }
  if (t >= 0) p->d->tok[t].next = p->d->count;
  return t;
}

int json_parse(struct jdoc *d, const char *text, size_t len) {
  d->text = text;
  d->len = len;
  d->count = 0;
  d->error = NULL;
  struct parser p = {.d = d, .pos = 0};
  if (parse_value(&p, 0) < 0) return -1;
  skip_ws(&p);
  if (p.pos != len) return fail(&p, "text after the value");
  return 0;
}

int json_string_is(const struct jdoc *d, int t, const char *s) {
  if (t < 0 || (uint32_t)t >= d->count || d->tok[t].type != J_STRING) return 0;
  size_t n = d->tok[t].end - d->tok[t].start;
  return strlen(s) == n && memcmp(d->text + d->tok[t].start, s, n) == 0;
}

int json_get(const struct jdoc *d, int obj, const char *key) {
  if (obj < 0 || (uint32_t)obj >= d->count || d->tok[obj].type != J_OBJECT) return -1;
  uint32_t end = d->tok[obj].next;
  for (uint32_t k = (uint32_t)obj + 1; k < end;) {
    uint32_t v = d->tok[k].next; /* a key is a string: its value follows at once */
    if (json_string_is(d, (int)k, key)) return (int)v;
    k = d->tok[v].next;
  }
  return -1;
}

int json_number(const struct jdoc *d, int t, double *out) {
  if (t < 0 || (uint32_t)t >= d->count || d->tok[t].type != J_NUMBER) return -1;
  char buf[64];
  size_t n = d->tok[t].end - d->tok[t].start;
  if (n >= sizeof buf) return -1;
  memcpy(buf, d->text + d->tok[t].start, n);
  buf[n] = 0;
  *out = strtod(buf, NULL);
  return 0;
}

int json_uint(const struct jdoc *d, int t, uint64_t max, uint64_t *out) {
  double v;
  if (json_number(d, t, &v) != 0 || v < 0 || v > (double)max || v != (double)(uint64_t)v) return -1;
  *out = (uint64_t)v;
  return 0;
}

int json_bool(const struct jdoc *d, int t, int *out) {
  if (t < 0 || (uint32_t)t >= d->count || (d->tok[t].type != J_TRUE && d->tok[t].type != J_FALSE)) return -1;
  *out = d->tok[t].type == J_TRUE;
  return 0;
}

static size_t put_utf8(char *o, uint32_t cp) {
  if (cp < 0x80) { o[0] = (char)cp; return 1; }
  if (cp < 0x800) { o[0] = (char)(0xC0 | (cp >> 6)); o[1] = (char)(0x80 | (cp & 0x3F)); return 2; }
  if (cp < 0x10000) {
    o[0] = (char)(0xE0 | (cp >> 12)); o[1] = (char)(0x80 | ((cp >> 6) & 0x3F)); o[2] = (char)(0x80 | (cp & 0x3F));
    return 3;
  }
  o[0] = (char)(0xF0 | (cp >> 18)); o[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
  o[2] = (char)(0x80 | ((cp >> 6) & 0x3F)); o[3] = (char)(0x80 | (cp & 0x3F));
  return 4;
}

static uint32_t hex4(const char *s) {
  uint32_t v = 0;
  for (int k = 0; k < 4; k++) v = v << 4 | (uint32_t)hexval((unsigned char)s[k]);
  return v;
}

int json_string(const struct jdoc *d, int t, char *out, size_t cap, size_t *out_len) {
  if (t < 0 || (uint32_t)t >= d->count || d->tok[t].type != J_STRING || cap == 0) return -1;
  const char *s = d->text;
  size_t n = 0;
  for (size_t i = d->tok[t].start; i < d->tok[t].end;) {
    char tmp[4];
    size_t k = 1;
    if (s[i] != '\\') {
      tmp[0] = s[i++];
    } else if (s[i + 1] == 'u') { /* the parser checked 4 hex digits follow */
      uint32_t cp = hex4(s + i + 2);
      i += 6;
      if (cp >= 0xD800 && cp < 0xDC00 && i + 6 <= d->tok[t].end && s[i] == '\\' && s[i + 1] == 'u') {
        uint32_t lo = hex4(s + i + 2);
        if (lo >= 0xDC00 && lo < 0xE000) {
          cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
          i += 6;
        }
      }
      k = put_utf8(tmp, cp);
    } else {
      static const char from[] = "\"\\/bfnrt", to[] = "\"\\/\b\f\n\r\t";
      tmp[0] = to[strchr(from, s[i + 1]) - from];
      i += 2;
    }
    if (n + k >= cap) return -1;
    memcpy(out + n, tmp, k);
    n += k;
  }
  out[n] = 0;
  if (out_len) *out_len = n;
  return 0;
}

/* ---- writer ---- */

static int reserve(struct jbuf *b, size_t more) {
  if (b->failed) return -1;
  if (b->len + more <= b->cap) return 0;
  size_t cap = b->cap ? b->cap : 1024;
  while (cap < b->len + more) cap *= 2;
  char *p = realloc(b->p, cap);
  if (!p) {
    b->failed = 1;
    return -1;
  }
  b->p = p;
  b->cap = cap;
  return 0;
}

void jb_raw(struct jbuf *b, const char *s, size_t n) {
  if (reserve(b, n) != 0) return;
  memcpy(b->p + b->len, s, n);
  b->len += n;
}

void jb_lit(struct jbuf *b, const char *s) { jb_raw(b, s, strlen(s)); }

void jb_str(struct jbuf *b, const char *s) {
  jb_raw(b, "\"", 1);
  for (; *s; s++) {
    unsigned char c = (unsigned char)*s;
    if (c == '"' || c == '\\') {
      char e[2] = {'\\', (char)c};
      jb_raw(b, e, 2);
    } else if (c < 0x20 || c == 0x7F) {
      char e[8];
      snprintf(e, sizeof e, "\\u%04x", c);
      jb_raw(b, e, 6);
    } else if (c >= 0x80) {
      jb_raw(b, "?", 1); /* only ASCII leaves: strerror text is ASCII; never emit bad UTF-8 */
    } else {
      jb_raw(b, (const char *)&c, 1);
    }
  }
  jb_raw(b, "\"", 1);
}

void jb_uint(struct jbuf *b, uint64_t v) {
  char num[24];
  int n = snprintf(num, sizeof num, "%llu", (unsigned long long)v);
  jb_raw(b, num, (size_t)n);
}

void jb_key(struct jbuf *b, const char *key) {
  jb_str(b, key);
  jb_raw(b, ":", 1);
}

void jb_free(struct jbuf *b) {
  free(b->p);
  b->p = NULL;
  b->len = b->cap = 0;
  b->failed = 0;
}
