/* Target "proto-http": http_client_feed() over HTTP/1.1 responses (RFC 9112): status
 * lines of both versions, headers in any case with optional whitespace and bare-LF line
 * ends, Content-Length and chunked bodies (sizes in either case with leading zeros,
 * extensions, trailers), interim 1xx before a final response, 204/304 with a
 * Content-Length that names no body, bodies that end at EOF, Connection: close and
 * HTTP/1.0 without keep-alive, several responses back to back, status lines and headers
 * up to HTTP_LINE_MAX, and (invalid) lines, header blocks and bodies past the limits of
 * proto.h, each due at its first byte over. The client is re-armed
 * on every answer as if its next request had gone out (test-binding.c's protoFeedForTest
 * does the same), for as many requests as the run draws: a response nobody asked for is
 * a protocol error at its first byte. */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "proto-fuzz.h"

#define SENT_STEP_US 1000 /* request i left at sent0 + i * SENT_STEP_US */

static struct http_client hc;
static uint32_t answered, requests, gen0;
static uint64_t sent0;

static void reset(const struct pmodel *m) {
  memset(&hc, 0, sizeof hc);
  answered = 0;
  requests = m->requests;
  gen0 = m->gen0;
  sent0 = m->sent0;
  hc.outstanding = requests > 0;
  hc.gen = gen0;
  hc.sent_us = sent0;
}

static void on_answer(void) {
  if (++answered >= requests) return;
  hc.outstanding = 1;
  hc.gen = gen0 + answered;
  hc.sent_us = sent0 + (uint64_t)answered * SENT_STEP_US;
}

static int feed(const uint8_t *p, size_t n, const struct proto_sink *sink, struct proto_out *out) {
  (void)out;
  return http_client_feed(&hc, p, n, sink);
}

static void at_end(const struct pmodel *m) {
  FUZZ_CHECK(http_resp_until_eof(&hc.r) == m->eof_body, "until-EOF %d, model %d", http_resp_until_eof(&hc.r), m->eof_body);
}

static const struct pclient client = {"http", reset, feed, on_answer, at_end, 0}; /* unasked bytes: no sample */

/* ---- generators ---- */

/* What a generated stream exercised, so the sweep can pick small streams that cover all. */
enum {
  F_LENGTH = 1, F_CHUNKED = 2, F_EXT = 4, F_TRAILER = 8, F_INTERIM = 16, F_NOBODY = 32, F_MULTI = 64,
  F_CLOSE = 128, F_EOF = 256, F_HTTP10 = 512, F_UNASKED = 1024, F_ALL = 2047
};
static unsigned features;
static int forced_requests = -1; /* http_gen_for_conn */

static void random_body(struct pmodel *m, struct rng *r, size_t n) {
  static uint8_t buf[4096];
  while (n > 0) {
    size_t k = n < sizeof buf ? n : sizeof buf;
    rng_fill(r, buf, k);
    pm_bytes(m, buf, k);
    n -= k;
  }
}

static size_t body_length(struct rng *r, int small) {
  if (small) return rng_below(r, 6);
  switch (rng_below(r, 6)) {
    case 0: return 0;
    case 1:
    case 2: return rng_range(r, 1, 64);
    case 3:
    case 4: return rng_range(r, 65, 8192);
    default: return rng_range(r, 8193, 200000);
  }
}

static void random_line_text(struct rng *r, char *dst, size_t n) {
  for (size_t i = 0; i < n; i++) dst[i] = (char)(' ' + rng_below(r, 95));
  dst[n] = 0;
}

static void status_line(struct pmodel *m, struct rng *r, int http10, unsigned status) {
  static const char *const reasons[] = {"", " ", " OK", " Continue", " Not Modified", " No Content", " Whatever it says"};
  static char reason[HTTP_LINE_MAX];
  char line[64];
  snprintf(line, sizeof line, "HTTP/1.%d %03u%s", http10 ? 0 : 1, status, rng_one_in(r, 8) ? " " : reasons[rng_below(r, 7)]);
  pm_str(m, line);
  if (line[strlen(line) - 1] == ' ') { /* a long reason phrase: any length a line may have */
    random_line_text(r, reason, rng_one_in(r, 4) ? rng_range(r, HTTP_LINE_MAX - 40, HTTP_LINE_MAX - 16) : rng_range(r, 50, 300));
    pm_str(m, reason);
  }
  pm_line_end(m, r);
}

/* Chunked body: chunks, the last-chunk, trailers, the blank line. */
static void chunked_body(struct pmodel *m, struct rng *r, int small) {
  char line[64];
  for (uint64_t k = rng_below(r, small ? 3 : 5); k > 0; k--) {
    size_t n = small ? rng_range(r, 1, 4) : body_length(r, 0) + 1;
    int zeros = rng_one_in(r, 4) ? (int)rng_range(r, 1, 6) : 0;
    snprintf(line, sizeof line, rng_one_in(r, 2) ? "%0*zx" : "%0*zX", zeros + 1, n);
    pm_str(m, line);
    if (rng_one_in(r, 3)) {
      features |= F_EXT;
      pm_str(m, rng_one_in(r, 3) ? " ;ext=1" : rng_one_in(r, 2) ? ";x" : ";name=\"a b\"");
    }
    pm_line_end(m, r);
    random_body(m, r, n);
    pm_line_end(m, r);
  }
  pm_str(m, rng_one_in(r, 4) ? "000" : "0");
  if (rng_one_in(r, 4)) features |= F_EXT, pm_str(m, ";last");
  pm_line_end(m, r);
  for (uint64_t k = rng_one_in(r, 3) ? rng_range(r, 1, 3) : 0; k > 0; k--) {
    features |= F_TRAILER;
    if (!small && rng_one_in(r, 3)) pm_filler_headers(m, r); /* long ones too: trailers are never read */
    else pm_header(m, r, "X-Trailer", "t");
  }
  pm_line_end(m, r);
}

/* One response to request i (the last if it closes or runs to EOF); returns 1 when no
 * more may follow. */
static int gen_response(struct pmodel *m, struct rng *r, uint32_t i, int small) {
  size_t start = m->s.len;
  pm_mark(m);
  for (uint64_t k = rng_one_in(r, 5) ? rng_range(r, 1, 2) : 0; k > 0; k--) { /* interim responses */
    static const unsigned interim[] = {100, 102, 103, 199};
    features |= F_INTERIM;
    status_line(m, r, 0, interim[rng_below(r, 4)]);
    if (!small) pm_filler_headers(m, r);
    pm_line_end(m, r);
  }
  int http10 = rng_one_in(r, 6);
  unsigned status;
  switch (rng_below(r, 8)) {
    case 0: status = 204; break;
    case 1: status = 304; break;
    case 2: status = (unsigned)rng_range(r, 200, 599); break;
    default: status = 200;
  }
  if (status == 204 || status == 304) features |= F_NOBODY;
  if (http10) features |= F_HTTP10;
  int nobody = status == 204 || status == 304;
  int kind = nobody ? 0 : (int)rng_below(r, 9); /* 0 length, 1 chunked, 8 EOF */
  if (kind > 1 && kind < 8) kind = kind & 1;
  int closes = kind == 8;
  status_line(m, r, http10, status);
  if (!small) pm_filler_headers(m, r);
  if (http10) {
    if (rng_one_in(r, 4)) closes = 1;
    else pm_header(m, r, "Connection", rng_one_in(r, 2) ? "keep-alive" : "Keep-Alive");
  } else if (rng_one_in(r, 8)) {
    closes = 1;
    pm_header(m, r, "Connection", rng_one_in(r, 2) ? "close" : "keep-alive, Close");
  } else if (rng_one_in(r, 4)) {
    pm_header(m, r, "Connection", "keep-alive");
  }
  size_t length = 0;
  char value[40];
  if (kind == 0 && (!nobody || rng_one_in(r, 2))) { /* 204/304 may name a length they do not send */
    length = body_length(r, small);
    snprintf(value, sizeof value, "%0*zu", rng_one_in(r, 5) ? 4 : 1, length);
    pm_header(m, r, "Content-Length", value);
  } else if (kind == 1) {
    pm_header(m, r, "Transfer-Encoding", rng_one_in(r, 3) ? "gzip, chunked" : rng_one_in(r, 2) ? "Chunked" : "chunked");
  }
  if (!small) pm_filler_headers(m, r);
  pm_line_end(m, r);
  if (m->s.len - start > HTTP_HEADERS_MAX && i < m->requests) { /* long lines by chance: past the block's limit */
    pm_verdict(m, PV_HEADERS_TOO_LARGE, start + HTTP_HEADERS_MAX + 1);
    return 1;
  }
  if (kind == 0 && !nobody) random_body(m, r, length), features |= F_LENGTH;
  if (kind == 1) chunked_body(m, r, small), features |= F_CHUNKED;
  if (kind == 8) {
    features |= F_EOF;
    random_body(m, r, body_length(r, small));
    if (rng_one_in(r, 2)) pm_str(m, "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"); /* still the body */
  }
  if (i >= m->requests) { /* nobody asked: the client refuses its first byte */
    features |= F_UNASKED;
    pm_verdict(m, PV_PROTOCOL, start + 1);
    return 1;
  }
  if (kind == 8) { /* no event: the body, and so the answer, ends with the connection */
    m->eof_body = pm_open(m);
    m->eof_status = status;
    return 1;
  }
  pm_event(m, EV_CODE, PC_HTTP_STATUS, status, 0);
  pm_event(m, EV_ANSWER, 0, m->gen0 + i, m->sent0 + (uint64_t)i * SENT_STEP_US);
  if (closes) features |= F_CLOSE, pm_verdict(m, PV_SERVER_CLOSE, m->s.len);
  return closes;
}

static void gen_ok(struct pmodel *m, struct rng *r, int small) {
  pm_clear(m);
  uint32_t n = (uint32_t)rng_range(r, 1, small ? 3 : 6);
  if (n > 1) features |= F_MULTI;
  m->requests = rng_one_in(r, 5) ? n - 1 : n; /* sometimes one response too many */
  if (forced_requests >= 0) m->requests = (uint32_t)forced_requests;
  m->gen0 = (uint32_t)rng_next(r);
  m->sent0 = rng_next(r) >> 8;
  for (uint32_t i = 0; i < n; i++) {
    if (gen_response(m, r, i, small)) break;
  }
  if (!pm_open(m) && rng_one_in(r, 2)) pm_str(m, "HTTP/1.1 200 OK\r\n\r\n"); /* after the end: never read */
}

static void filler_lines(struct pmodel *m, struct rng *r, size_t at_least) {
  static char text[1100];
  for (size_t n = 0; n < at_least;) {
    size_t k = rng_range(r, 20, sizeof text - 1);
    random_line_text(r, text, k);
    pm_str(m, "X-Filler: ");
    pm_str(m, text);
    pm_str(m, "\r\n");
    n += k + 12;
  }
}

/* A response that passes one of proto.h's limits, due at its first byte over: 0 a line,
 * 1 the header block (after interim responses), 2 a Content-Length, 3 a chunked body,
 * 4 a body to EOF. The last two cost 4 MiB: rarely. Returns 0 when it chose not to. */
static int gen_over_limit(struct pmodel *m, struct rng *r, unsigned which, size_t start) {
  static char text[HTTP_LINE_MAX + 64];
  if (which >= 3 && !rng_one_in(r, 24)) return 0;
  switch (which) {
    case 0: { /* a status line or a header line with no room left for its LF */
      int status = rng_one_in(r, 2);
      pm_str(m, status ? "HTTP/1.1 200 " : "HTTP/1.1 200 OK\r\nX-Long: ");
      size_t line_start = status ? start : start + 17;
      random_line_text(r, text, HTTP_LINE_MAX + rng_below(r, 60));
      pm_str(m, text);
      pm_verdict(m, PV_HEADERS_TOO_LARGE, line_start + HTTP_LINE_MAX);
      pm_line_end(m, r);
      return 1;
    }
    case 1:
      if (rng_one_in(r, 2)) pm_str(m, "HTTP/1.1 100 Continue\r\n\r\n");
      pm_str(m, "HTTP/1.1 200 OK\r\n");
      filler_lines(m, r, HTTP_HEADERS_MAX + 10 - (m->s.len - start));
      pm_verdict(m, PV_HEADERS_TOO_LARGE, start + HTTP_HEADERS_MAX + 1);
      pm_str(m, "\r\n");
      return 1;
    case 2:
      snprintf(text, sizeof text, "HTTP/1.1 200 OK\r\nContent-Length: %llu\r\n\r\n",
               (unsigned long long)(HTTP_BODY_MAX + 1 + rng_below(r, 1000000)));
      pm_str(m, text);
      pm_verdict(m, PV_BODY_TOO_LARGE, m->s.len);
      pm_str(m, "the body");
      return 1;
    case 3: { /* chunks without end */
      pm_str(m, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n");
      size_t body = m->s.len;
      while (m->s.len - body <= HTTP_BODY_MAX) {
        size_t n = rng_range(r, 1, 70000);
        snprintf(text, sizeof text, "%zx\r\n", n);
        pm_str(m, text);
        random_body(m, r, n);
        pm_str(m, "\r\n");
      }
      pm_verdict(m, PV_BODY_TOO_LARGE, body + HTTP_BODY_MAX + 1);
      return 1;
    }
    default: /* no length: the body runs to EOF */
      pm_str(m, "HTTP/1.1 200 OK\r\n\r\n");
      size_t body = m->s.len;
      random_body(m, r, HTTP_BODY_MAX + 1 + rng_below(r, 1000));
      pm_verdict(m, PV_BODY_TOO_LARGE, body + HTTP_BODY_MAX + 1);
      return 1;
  }
}

/* Valid responses, then one broken line whose verdict falls due at its newline (or, in
 * the status line's "HTTP/1." prefix, at the first wrong byte). */
static void gen_bad(struct pmodel *m, struct rng *r) {
  pm_clear(m);
  m->requests = forced_requests >= 0 ? (uint32_t)forced_requests : 100;
  m->gen0 = (uint32_t)rng_next(r);
  m->sent0 = rng_next(r) >> 8;
  uint32_t i = 0;
  for (uint64_t k = rng_below(r, 3); k > 0; k--) {
    if (gen_response(m, r, i++, 0) || !pm_open(m)) return; /* it ended by itself */
  }
  size_t start = m->s.len;
  if (i >= m->requests) pm_verdict(m, PV_PROTOCOL, start + 1); /* nobody asked for it: its first byte is refused */
  char line[200];
  unsigned pick = (unsigned)rng_below(r, 13);
  if (pick >= 8 && i >= m->requests) pick = 4; /* the limits below are for a response that was asked for */
  if (pick >= 8 && gen_over_limit(m, r, pick - 8, start)) return;
  switch (pick) {
    case 0: { /* a wrong byte in "HTTP/1." */
      size_t j = rng_below(r, 7);
      memcpy(line, "HTTP/1.1 200 OK\r\n", 18);
      do line[j] = (char)rng_next(r);
      while (line[j] == "HTTP/1."[j]);
      pm_bytes(m, line, j + 1); /* only the bytes up to the wrong one are read */
      pm_str(m, "1 200 OK\r\n\r\n");
      pm_verdict(m, PV_PROTOCOL, start + j + 1);
      return;
    }
    case 1: { /* a status line that is not one */
      static const char *const bad[] = {"HTTP/1.2 200 OK", "HTTP/1.1 2x0 OK", "HTTP/1.1 099 Low", "HTTP/1.1 20", "HTTP/1.1 200OK",
                                        "HTTP/1.1 2000 and a reason phrase much longer than a line that is kept"};
      pm_str(m, bad[rng_below(r, 6)]);
      pm_line_end(m, r);
      break;
    }
    case 2: /* 101 that nobody asked for */
      pm_str(m, "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade");
      pm_line_end(m, r);
      pm_line_end(m, r);
      break;
    case 3: { /* a length that is not a number, or on a line too long to read */
      static const char *const bad[] = {"12a", "", "-1", "1 2", "0x10", "99999999999999999999999"};
      pm_str(m, "HTTP/1.1 200 OK\r\n");
      if (rng_one_in(r, 3)) {
        pm_str(m, "Content-Length: 00000000000000000000000000000000000000000000000000000005");
        pm_line_end(m, r);
      } else {
        pm_header(m, r, "Content-Length", bad[rng_below(r, 6)]);
      }
      break;
    }
    case 4: /* a header line with no colon */
      pm_str(m, "HTTP/1.1 200 OK\r\nno colon here");
      pm_line_end(m, r);
      break;
    case 5: { /* a chunk size that is not one */
      static const char *const bad[] = {"xyz", "", ";ext", "5 x", "g", "10000000000000000",
                                        "1;an extension that runs longer than the kept part of a line ......."};
      pm_str(m, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n");
      if (rng_one_in(r, 2)) pm_str(m, "3\r\nabc\r\n");
      pm_str(m, bad[rng_below(r, 7)]);
      pm_line_end(m, r);
      break;
    }
    default: /* chunk data longer than its size said */
      pm_str(m, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabcd");
      pm_line_end(m, r);
  }
  pm_verdict(m, PV_PROTOCOL, m->s.len);
  pm_str(m, "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n");
}

void http_gen_for_conn(struct pmodel *m, struct rng *r, int bad) {
  forced_requests = 1;
  if (bad) gen_bad(m, r);
  else gen_ok(m, r, rng_one_in(r, 3));
  forced_requests = -1;
}

/* ---- cases ---- */

static struct pmodel md;

static void case_valid(struct rng *r) {
  gen_ok(&md, r, 0);
  pc_check_random(&client, &md, r);
}

static void case_small(struct rng *r) {
  gen_ok(&md, r, 1);
  pc_check_random(&client, &md, r);
}

static void case_invalid(struct rng *r) {
  gen_bad(&md, r);
  pc_check_random(&client, &md, r);
}

static void case_mutated(struct rng *r) {
  if (rng_one_in(r, 2)) gen_ok(&md, r, rng_one_in(r, 2));
  else gen_bad(&md, r);
  pm_mutate(&md, r);
  pc_check_any(&client, &md, r);
}

static void case_garbage(struct rng *r) {
  pm_clear(&md);
  md.requests = (uint32_t)rng_below(r, 4);
  if (rng_one_in(r, 2)) pm_str(&md, "HTTP/1.1 "); /* past the prefix check, into the line parser */
  uint8_t junk[512];
  size_t n = rng_range(r, 1, sizeof junk);
  rng_fill(r, junk, n);
  if (rng_one_in(r, 2)) { /* text-like: mostly printable, with newlines */
    for (size_t i = 0; i < n; i++) junk[i] = rng_one_in(r, 12) ? '\n' : (uint8_t)(' ' + junk[i] % 95);
  }
  pm_bytes(&md, junk, n);
  pc_check_any(&client, &md, r);
}

/* Weights 4x the frame targets': an iteration here costs a tenth of one there. */
static const struct fuzz_case cases[] = {
    {"responses", 16, case_valid},
    {"small-responses", 8, case_small},
    {"invalid", 8, case_invalid},
    {"mutated", 12, case_mutated},
    {"garbage", 4, case_garbage},
};

static void gen_small(struct pmodel *m, struct rng *r) { gen_ok(m, r, 1); }

/* Every one- and two-cut split of small streams that together exercise every feature
 * the generator has, and of streams that break a rule. */
static uint64_t exhaustive(void) {
  return pc_sweep_generated(&client, &md, gen_small, &features, F_ALL, 140, 40) +
         pc_sweep_generated(&client, &md, gen_bad, NULL, 0, 160, 20);
}

/* libFuzzer: byte 0 is how many requests, bytes 1-8 seed the cuts, the rest the stream. */
static void one_input(const uint8_t *data, size_t size) {
  if (size < 9) return;
  pm_clear(&md);
  md.requests = data[0] % 8;
  struct rng r = {0};
  memcpy(&r.s, data + 1, 8);
  pm_bytes(&md, data + 9, size - 9);
  pc_check_any(&client, &md, &r);
}

static void teardown(void) { pm_free(&md); }

const struct fuzz_target proto_http_target = {
    .name = "proto-http",
    .about = "http_client_feed(): HTTP/1.1 responses at random and every split point, against the model",
    .teardown = teardown,
    .exhaustive = exhaustive,
    .one_input = one_input,
    .cases = cases,
    .n_cases = sizeof cases / sizeof cases[0],
};
