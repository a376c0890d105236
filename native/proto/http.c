/* HTTP/1.1 response parser (client side): status line, headers, Content-Length and
 * chunked bodies with trailers, the no-body statuses (1xx, 204, 304), bodies that end
 * at EOF, and the WebSocket upgrade answer. Streaming: any split of the input gives the
 * same result; the only per-connection buffer is the current line's first
 * HTTP_LINE_MAX bytes (every line this parser reads a value from fits in it; a longer
 * one of those is an error, any other long header is skipped). */
#include <string.h>

#include "proto.h"

enum http_phase { HP_STATUS = 0, HP_HEADERS, HP_BODY, HP_CHUNK_SIZE, HP_CHUNK_DATA, HP_CHUNK_END, HP_TRAILERS, HP_EOF };

#define HF_CHUNKED 1
#define HF_LENGTH 2
#define HF_CLOSE 4
#define HF_KEEPALIVE 8
#define HF_HTTP10 16

void http_resp_reset(struct http_resp *r) { memset(r, 0, sizeof *r); }

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
  size_t len = r->line_len;
  const uint8_t *colon = memchr(l, ':', len);
  if (!colon || colon == l) return r->line_over ? 0 : -1; /* a long line we do not read */
  size_t name_len = (size_t)(colon - l);
  const uint8_t *v = colon + 1;
  size_t vlen = len - name_len - 1;
  while (vlen && (*v == ' ' || *v == '\t')) v++, vlen--;
  while (vlen && (v[vlen - 1] == ' ' || v[vlen - 1] == '\t')) vlen--;
  int ours = name_is(l, name_len, "content-length") || name_is(l, name_len, "transfer-encoding") ||
             name_is(l, name_len, "sec-websocket-accept");
  if (ours && r->line_over) return -1;
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
  if (s < 200) {                           /* interim (100 Continue, 103 Early Hints): the final one follows */
    http_resp_reset(r);
    return HTTP_MORE;
  }
  if (s == 204 || s == 304) return HTTP_COMPLETE;
  if (r->flags & HF_CHUNKED) {
    r->phase = HP_CHUNK_SIZE;
    return HTTP_MORE;
  }
  if (r->flags & HF_LENGTH) {
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
  if (r->line_over) return -1;
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
  int empty = r->line_len == 0 && !r->line_over;
  switch (r->phase) {
    case HP_STATUS:
      if (r->line_over || parse_status(r) != 0) return HTTP_ERROR;
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

int http_resp_feed(struct http_resp *r, const uint8_t *p, size_t n, size_t *used, const char *expect_accept) {
  size_t i = 0;
  while (i < n) {
    if (r->phase == HP_EOF) {
      i = n;
      break;
    }
    if (r->phase == HP_BODY || r->phase == HP_CHUNK_DATA) {
      size_t take = n - i < r->remaining ? n - i : (size_t)r->remaining;
      i += take;
      r->remaining -= take;
      if (r->remaining > 0) break;
      if (r->phase == HP_BODY) {
        *used = i;
        return HTTP_COMPLETE;
      }
      r->phase = HP_CHUNK_END;
      continue;
    }
    uint8_t c = p[i++];
    if (c != '\n') {
      /* A status line must start "HTTP/1.": say so at the first wrong byte, not at a newline
       * that a binary answer (a connlab PONG, TLS) may never send. */
      if (r->phase == HP_STATUS && r->line_len < 7 && c != (uint8_t)"HTTP/1."[r->line_len]) {
        *used = i;
        return HTTP_ERROR;
      }
      if (r->line_len < HTTP_LINE_MAX) r->line[r->line_len++] = c;
      else r->line_over = 1;
      continue;
    }
    if (r->line_len > 0 && r->line[r->line_len - 1] == '\r' && !r->line_over) r->line_len--;
    int done = on_line(r, expect_accept);
    r->line_len = 0;
    r->line_over = 0;
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
    if (!s->outstanding) return PV_PROTOCOL; /* bytes nobody asked for */
    size_t used = 0;
    int done = http_resp_feed(&s->r, p, n, &used, NULL);
    if (done == HTTP_ERROR) return PV_PROTOCOL;
    if (done == HTTP_MORE) return PV_OK;
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
