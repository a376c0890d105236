/* HTTP/1.1 response parser (client side): status line, headers, Content-Length and
 * chunked bodies with trailers, the no-body statuses (1xx, 204, 304), bodies that end
 * at EOF, and the WebSocket upgrade answer. Streaming: any split of the input gives the
 * same result; the only per-connection buffer is the current line's first
 * HTTP_LINE_KEEP bytes (every line this parser reads a value from fits in it; a longer
 * one of those is an error, any other line up to HTTP_LINE_MAX is skipped). Bounded:
 * a line past HTTP_LINE_MAX or a header block past HTTP_HEADERS_MAX ends the response
 * as HTTP_HEADERS_TOO_LARGE, more than HTTP_BODY_MAX bytes after the header block (a
 * Content-Length past it at once) as HTTP_BODY_TOO_LARGE, each at its first byte over:
 * an endless header block or chunked body costs a connection, not a worker's time. */
#include <string.h>

#include "proto.h"

enum http_phase { HP_STATUS = 0, HP_HEADERS, HP_BODY, HP_CHUNK_SIZE, HP_CHUNK_DATA, HP_CHUNK_END, HP_TRAILERS, HP_EOF };

#define HF_CHUNKED 1
#define HF_LENGTH 2
#define HF_CLOSE 4
#define HF_KEEPALIVE 8
#define HF_HTTP10 16

void http_resp_reset(struct http_resp *r) { memset(r, 0, sizeof *r); }

int http_verdict(int done) {
  return done == HTTP_HEADERS_TOO_LARGE ? PV_HEADERS_TOO_LARGE : done == HTTP_BODY_TOO_LARGE ? PV_BODY_TOO_LARGE : PV_PROTOCOL;
}

static size_t kept(const struct http_resp *r) { return r->line_len < HTTP_LINE_KEEP ? r->line_len : HTTP_LINE_KEEP; }
static int line_over(const struct http_resp *r) { return r->line_len > HTTP_LINE_KEEP; }

void http_report_bad(const struct http_resp *r, int extra, const struct proto_sink *sink) {
  if (!sink->bad) return;
  uint8_t b[PROTO_BAD_BYTES];
  size_t n = kept(r) < PROTO_BAD_BYTES ? kept(r) : PROTO_BAD_BYTES;
  memcpy(b, r->line, n);
  if (extra >= 0 && n < PROTO_BAD_BYTES) b[n++] = (uint8_t)extra;
  sink->bad(sink->ctx, b, n);
}

int http_resp_until_eof(const struct http_resp *r) { return r->phase == HP_EOF; }

int http_resp_wants_close(const struct http_resp *r) {
  return (r->flags & HF_CLOSE) || ((r->flags & HF_HTTP10) && !(r->flags & HF_KEEPALIVE));
}

static int lower(int c) { return c >= 'A' && c <= 'Z' ? c + 32 : c; }

static int name_is(const uint8_t *name, size_t len, const char *want) {
  size_t n = strlen(want);
  if (len != n) return 0;
  for (size_t i = 0; i < n; i++) {
    if (lower(name[i]) != want[i]) return 0;
  }
  return 1;
}

/* Whether the comma-separated value holds `token` (case-insensitive). */
static int has_token(const uint8_t *v, size_t len, const char *token) {
  size_t n = strlen(token);
  size_t i = 0;
  while (i < len) {
    while (i < len && (v[i] == ' ' || v[i] == '\t' || v[i] == ',')) i++;
    size_t start = i;
    while (i < len && v[i] != ',') i++;
    size_t end = i;
    while (end > start && (v[end - 1] == ' ' || v[end - 1] == '\t')) end--;
    if (end - start == n && name_is(v + start, n, token)) return 1;
  }
  return 0;
}

static int parse_status(struct http_resp *r) {
  const uint8_t *l = r->line;
  if (r->line_len < 12 || memcmp(l, "HTTP/1.", 7) != 0 || (l[7] != '0' && l[7] != '1') || l[8] != ' ') return -1;
  for (int i = 9; i < 12; i++) {
    if (l[i] < '0' || l[i] > '9') return -1;
  }
  if (r->line_len > 12 && l[12] != ' ') return -1;
  r->status = (uint16_t)((l[9] - '0') * 100 + (l[10] - '0') * 10 + (l[11] - '0'));
  if (r->status < 100) return -1;
  if (l[7] == '0') r->flags |= HF_HTTP10;
  return 0;
}

static int parse_decimal(const uint8_t *v, size_t len, uint64_t *out) {
  uint64_t x = 0;
  if (len == 0) return -1;
  for (size_t i = 0; i < len; i++) {
    if (v[i] < '0' || v[i] > '9' || x > (UINT64_MAX >> 4)) return -1;
    x = x * 10 + (uint64_t)(v[i] - '0');
  }
  *out = x;
  return 0;
}

static int parse_header(struct http_resp *r, const char *expect_accept) {
  const uint8_t *l = r->line;
  size_t len = kept(r);
  const uint8_t *colon = memchr(l, ':', len);
  if (!colon || colon == l) return line_over(r) ? 0 : -1; /* a long line we do not read */
  size_t name_len = (size_t)(colon - l);
  const uint8_t *v = colon + 1;
  size_t vlen = len - name_len - 1;
  while (vlen && (*v == ' ' || *v == '\t')) v++, vlen--;
  while (vlen && (v[vlen - 1] == ' ' || v[vlen - 1] == '\t')) vlen--;
  int ours = name_is(l, name_len, "content-length") || name_is(l, name_len, "transfer-encoding") ||
             name_is(l, name_len, "sec-websocket-accept");
  if (ours && line_over(r)) return -1;
  if (name_is(l, name_len, "content-length")) {
    if (parse_decimal(v, vlen, &r->remaining) != 0) return -1;
    r->flags |= HF_LENGTH;
  } else if (name_is(l, name_len, "transfer-encoding")) {
    if (has_token(v, vlen, "chunked")) r->flags |= HF_CHUNKED;
  } else if (name_is(l, name_len, "connection")) {
    if (has_token(v, vlen, "close")) r->flags |= HF_CLOSE;
    if (has_token(v, vlen, "keep-alive")) r->flags |= HF_KEEPALIVE;
    if (has_token(v, vlen, "upgrade")) r->ws_ok |= WS_OK_CONNECTION;
  } else if (name_is(l, name_len, "upgrade")) {
    if (has_token(v, vlen, "websocket")) r->ws_ok |= WS_OK_UPGRADE;
  } else if (name_is(l, name_len, "sec-websocket-accept") && expect_accept) {
    r->ws_ok |= vlen == 28 && memcmp(v, expect_accept, 28) == 0 ? WS_OK_ACCEPT : WS_OK_BAD_ACCEPT;
  }
  return 0;
}

/* The blank line after the headers: what follows, or HTTP_COMPLETE. */
static int end_of_headers(struct http_resp *r, const char *expect_accept) {
  uint16_t s = r->status;
  if (expect_accept) return HTTP_COMPLETE; /* an upgrade answer: 101 or a refusal, the body is not read */
  if (s == 101) return HTTP_ERROR;         /* an upgrade nobody asked for */
  if (s < 200) { /* interim (100 Continue, 103 Early Hints): the final one follows, in the same header budget */
    uint32_t head = r->head_bytes;
    http_resp_reset(r);
    r->head_bytes = head;
    return HTTP_MORE;
  }
  if (s == 204 || s == 304) return HTTP_COMPLETE;
  if (r->flags & HF_CHUNKED) {
    r->phase = HP_CHUNK_SIZE;
    return HTTP_MORE;
  }
  if (r->flags & HF_LENGTH) {
    if (r->remaining > HTTP_BODY_MAX) return HTTP_BODY_TOO_LARGE; /* more than we drain: refuse it now */
    if (r->remaining == 0) return HTTP_COMPLETE;
    r->phase = HP_BODY;
    return HTTP_MORE;
  }
  r->phase = HP_EOF;
  return HTTP_MORE;
}

static int chunk_size(struct http_resp *r) {
  uint64_t x = 0;
  size_t i = 0;
  if (line_over(r)) return -1;
  for (; i < r->line_len; i++) {
    int c = lower(r->line[i]);
    int d = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
    if (d < 0) break;
    if (x >> 59) return -1;
    x = (x << 4) | (uint64_t)d;
  }
  if (i == 0) return -1;
  while (i < r->line_len && (r->line[i] == ' ' || r->line[i] == '\t')) i++;
  if (i < r->line_len && r->line[i] != ';') return -1;
  r->remaining = x;
  return 0;
}

/* One whole line is in r->line. Returns HTTP_MORE, HTTP_COMPLETE or HTTP_ERROR. */
static int on_line(struct http_resp *r, const char *expect_accept) {
  int empty = r->line_len == 0;
  switch (r->phase) {
    case HP_STATUS: /* only "HTTP/1.x NNN " is read; the reason phrase may be as long as any line */
      if (parse_status(r) != 0) return HTTP_ERROR;
      r->phase = HP_HEADERS;
      return HTTP_MORE;
    case HP_HEADERS:
      if (empty) return end_of_headers(r, expect_accept);
      return parse_header(r, expect_accept) == 0 ? HTTP_MORE : HTTP_ERROR;
    case HP_CHUNK_SIZE:
      if (chunk_size(r) != 0) return HTTP_ERROR;
      r->phase = r->remaining ? HP_CHUNK_DATA : HP_TRAILERS;
      return HTTP_MORE;
    case HP_CHUNK_END:
      if (!empty) return HTTP_ERROR;
      r->phase = HP_CHUNK_SIZE;
      return HTTP_MORE;
    case HP_TRAILERS:
      return empty ? HTTP_COMPLETE : HTTP_MORE;
    default:
      return HTTP_ERROR;
  }
}

/* Body phases (every phase from HP_BODY on) count against HTTP_BODY_MAX, the others
 * against HTTP_HEADERS_MAX; either is checked at the byte that would pass it. */
static int in_body(const struct http_resp *r) { return r->phase >= HP_BODY; }

/* Skips body bytes the phase does not read (a Content-Length body, chunk data, a body
 * that ends at EOF) within what the body budget has left. Returns how many. */
static size_t skip_body(struct http_resp *r, size_t avail) {
  size_t room = HTTP_BODY_MAX - r->body_bytes;
  size_t take = avail < room ? avail : room;
  if (r->phase != HP_EOF && take > r->remaining) take = (size_t)r->remaining;
  r->body_bytes += (uint32_t)take;
  if (r->phase != HP_EOF) r->remaining -= take;
  return take;
}

int http_resp_feed(struct http_resp *r, const uint8_t *p, size_t n, size_t *used, const char *expect_accept) {
  size_t i = 0;
  while (i < n) {
    if (in_body(r) && r->body_bytes >= HTTP_BODY_MAX) {
      *used = i + 1;
      return HTTP_BODY_TOO_LARGE;
    }
    if (r->phase == HP_EOF || r->phase == HP_BODY || r->phase == HP_CHUNK_DATA) {
      i += skip_body(r, n - i);
      if (r->phase == HP_EOF || r->remaining > 0) continue;
      if (r->phase == HP_BODY) {
        *used = i;
        return HTTP_COMPLETE;
      }
      r->phase = HP_CHUNK_END;
      continue;
    }
    uint8_t c = p[i++];
    if (in_body(r)) r->body_bytes++;
    else if (++r->head_bytes > HTTP_HEADERS_MAX) {
      *used = i;
      return HTTP_HEADERS_TOO_LARGE;
    }
    if (c != '\n') {
      /* A status line must start "HTTP/1.": say so at the first wrong byte, not at a newline
       * that a binary answer (a connlab PONG, TLS) may never send. */
      if (r->phase == HP_STATUS && r->line_len < 7 && c != (uint8_t)"HTTP/1."[r->line_len]) {
        *used = i;
        return HTTP_ERROR;
      }
      if (r->line_len < HTTP_LINE_KEEP) r->line[r->line_len] = c;
      if (++r->line_len >= HTTP_LINE_MAX) { /* no room left for its LF */
        *used = i;
        return in_body(r) ? HTTP_BODY_TOO_LARGE : HTTP_HEADERS_TOO_LARGE;
      }
      continue;
    }
    if (r->line_len > 0 && !line_over(r) && r->line[r->line_len - 1] == '\r') r->line_len--;
    int done = on_line(r, expect_accept);
    if (done != HTTP_ERROR) r->line_len = 0; /* an error keeps its line for the report */
    if (done != HTTP_MORE) {
      *used = i;
      return done;
    }
  }
  *used = i;
  return HTTP_MORE;
}

/* The http client: a response is an answer to the request sent with it. */
int http_client_feed(struct http_client *s, const uint8_t *p, size_t n, const struct proto_sink *sink) {
  while (n > 0) {
    if (!s->outstanding) return PV_PROTOCOL; /* bytes nobody asked for: client.c samples the read */
    size_t used = 0;
    int done = http_resp_feed(&s->r, p, n, &used, NULL);
    if (done == HTTP_MORE) return PV_OK;
    if (done != HTTP_COMPLETE) {
      if (done == HTTP_ERROR) http_report_bad(&s->r, used ? p[used - 1] : -1, sink);
      return http_verdict(done);
    }
    s->outstanding = 0;
    sink->code(sink->ctx, PC_HTTP_STATUS, s->r.status);
    sink->answer(sink->ctx, s->gen, s->sent_us);
    int close = http_resp_wants_close(&s->r);
    http_resp_reset(&s->r);
    if (close) return PV_SERVER_CLOSE;
    p += used;
    n -= used;
  }
  return PV_OK;
}
