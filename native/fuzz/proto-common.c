/* The client protocol targets' model, recorder and drivers (proto-fuzz.h says why). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proto-fuzz.h"

void *grow_to(void *p, size_t *cap, size_t need, size_t item) {
  if (need <= *cap) return p;
  size_t cap2 = *cap ? *cap : 64;
  while (cap2 < need) cap2 *= 2;
  void *q = realloc(p, cap2 * item);
  if (!q) abort();
  *cap = cap2;
  return q;
}

/* ---- the model ---- */

void pm_clear(struct pmodel *m) {
  stream_clear(&m->s);
  m->n_ev = m->out_len = m->n_out = 0;
  m->verdict = PV_OK;
  m->verdict_at = SIZE_MAX;
  m->requests = m->gen0 = m->mask = 0;
  m->sent0 = 0;
  m->closing = m->eof_body = 0;
}

void pm_free(struct pmodel *m) {
  stream_free(&m->s);
  free(m->ev), free(m->out), free(m->out_at), free(m->out_end);
  memset(m, 0, sizeof *m);
}

void pm_bytes(struct pmodel *m, const void *p, size_t n) { stream_bytes(&m->s, p, n); }
void pm_str(struct pmodel *m, const char *s) { stream_bytes(&m->s, (const uint8_t *)s, strlen(s)); }

void pm_mark(struct pmodel *m) {
  struct stream *s = &m->s;
  s->starts = grow_to(s->starts, &s->cap_starts, s->n_starts + 1, sizeof *s->starts);
  s->starts[s->n_starts++] = s->len;
}

void pm_event(struct pmodel *m, uint32_t kind, uint32_t code_kind, uint32_t a, uint64_t b) {
  if (!pm_open(m)) return;
  m->ev = grow_to(m->ev, &m->cap_ev, m->n_ev + 1, sizeof *m->ev);
  m->ev[m->n_ev++] = (struct pev){kind, code_kind, a, b, m->s.len};
}

void pm_answer(struct pmodel *m, const uint8_t *p, size_t n) {
  if (!pm_open(m)) return;
  m->out = grow_to(m->out, &m->out_cap, m->out_len + n, 1);
  memcpy(m->out + m->out_len, p, n);
  m->out_len += n;
  size_t cap = m->cap_out;
  m->out_at = grow_to(m->out_at, &cap, m->n_out + 1, sizeof *m->out_at);
  m->out_end = grow_to(m->out_end, &m->cap_out, m->n_out + 1, sizeof *m->out_end);
  m->out_at[m->n_out] = m->s.len;
  m->out_end[m->n_out++] = m->out_len;
}

void pm_verdict(struct pmodel *m, int verdict, size_t at) {
  if (!pm_open(m)) return;
  m->verdict = verdict;
  m->verdict_at = at;
}

void ws_client_frame(uint8_t *dst, uint8_t opcode, const uint8_t *payload, size_t len, uint32_t mask) {
  uint8_t key[4] = {(uint8_t)(mask >> 24), (uint8_t)(mask >> 16), (uint8_t)(mask >> 8), (uint8_t)mask};
  dst[0] = (uint8_t)(0x80 | opcode); /* FIN, no RSV */
  dst[1] = (uint8_t)(0x80 | len);    /* a client masks every frame (RFC 6455 5.3) */
  memcpy(dst + 2, key, 4);
  for (size_t i = 0; i < len; i++) dst[6 + i] = payload[i] ^ key[i % 4];
}

/* ---- HTTP header helpers ---- */

void pm_line_end(struct pmodel *m, struct rng *r) { pm_str(m, rng_one_in(r, 8) ? "\n" : "\r\n"); }

static void ows(struct pmodel *m, struct rng *r) {
  for (uint64_t i = rng_one_in(r, 3) ? rng_below(r, 3) : 0; i > 0; i--) pm_str(m, rng_one_in(r, 2) ? " " : "\t");
}

void pm_header(struct pmodel *m, struct rng *r, const char *name, const char *value) {
  int style = (int)rng_below(r, 3); /* as written, lower case, random case */
  for (const char *c = name; *c; c++) {
    char ch = *c;
    if (ch >= 'A' && ch <= 'Z' && (style == 1 || (style == 2 && rng_one_in(r, 2)))) ch = (char)(ch + 32);
    else if (ch >= 'a' && ch <= 'z' && style == 2 && rng_one_in(r, 2)) ch = (char)(ch - 32);
    pm_bytes(m, &ch, 1);
  }
  pm_str(m, ":");
  ows(m, r);
  pm_str(m, value);
  ows(m, r);
  pm_line_end(m, r);
}

static void random_text(struct rng *r, char *dst, size_t n) {
  static const char A[] = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789 -_.,;=/\"()";
  for (size_t i = 0; i < n; i++) dst[i] = A[rng_below(r, sizeof A - 1)];
  dst[n] = 0;
}

void pm_filler_headers(struct pmodel *m, struct rng *r) {
  static const char *const names[] = {"Server", "Date", "Content-Type", "Cache-Control", "Set-Cookie", "Vary", "X-Request-Id", "Keep-Alive"};
  char value[400];
  for (uint64_t i = rng_below(r, 5); i > 0; i--) {
    switch (rng_below(r, 6)) {
      case 0: { /* longer than HTTP_LINE_KEEP: skipped unread; rarely near HTTP_LINE_MAX */
        static char big[HTTP_LINE_MAX];
        if (rng_one_in(r, 16)) { /* "X-Long:" + the value + CRLF may take the whole line */
          random_text(r, big, rng_range(r, HTTP_LINE_MAX - 64, HTTP_LINE_MAX - 10));
          pm_str(m, "X-Long: ");
          pm_str(m, big);
          pm_str(m, "\r\n");
          break;
        }
        random_text(r, value, rng_range(r, HTTP_LINE_KEEP, 300));
        pm_header(m, r, "X-Long", value);
        break;
      }
      case 1: { /* a name longer than HTTP_LINE_KEEP: its colon is past what the parser keeps */
        char name[120];
        memset(name, 'n', sizeof name);
        name[rng_range(r, HTTP_LINE_KEEP, sizeof name - 1)] = 0;
        pm_header(m, r, name, "v");
        break;
      }
      default:
        random_text(r, value, rng_below(r, 30));
        pm_header(m, r, names[rng_below(r, sizeof names / sizeof names[0])], value);
    }
  }
}

/* ---- recording what the parser reports ---- */

static struct {
  struct pev *ev;
  size_t n, cap;
  const struct pclient *c;
} rec;

static void rec_add(struct pev e) {
  rec.ev = grow_to(rec.ev, &rec.cap, rec.n + 1, sizeof *rec.ev);
  rec.ev[rec.n++] = e;
}

static void on_answer(void *ctx, uint32_t gen, uint64_t sent_us) {
  (void)ctx;
  rec_add((struct pev){EV_ANSWER, 0, gen, sent_us, 0});
  if (rec.c->on_answer) rec.c->on_answer();
}

static void on_message(void *ctx, uint64_t stamp_us) {
  (void)ctx;
  rec_add((struct pev){EV_MESSAGE, 0, 0, stamp_us, 0});
}

static void on_code(void *ctx, int kind, uint32_t code) {
  (void)ctx;
  rec_add((struct pev){EV_CODE, (uint32_t)kind, code, 0, 0});
}

/* The bad sample: bounded, and (pc_check_any) the same however the input is cut. */
static uint8_t bad_got[PROTO_BAD_BYTES];
static size_t bad_len, bad_calls;

static void on_bad(void *ctx, const uint8_t *p, size_t n) {
  (void)ctx;
  FUZZ_CHECK(n <= PROTO_BAD_BYTES, "a bad sample of %zu bytes", n);
  memcpy(bad_got, p, n);
  bad_len = n;
  bad_calls++;
}

static const struct proto_sink sink = {NULL, on_answer, on_message, on_code, on_bad};

/* Each read sits at the very end of its allocation, and so does the answer buffer, so
 * ASan reports a parser that reads or writes one byte past either. */
struct tail_buf {
  uint8_t *p;
  size_t cap;
};

static uint8_t *tail(struct tail_buf *b, size_t n) {
  if (n > b->cap) {
    free(b->p);
    b->p = malloc(n);
    if (!b->p) abort();
    b->cap = n;
  }
  return b->p + b->cap - n;
}

static struct tail_buf in_buf, out_buf;
static uint8_t *got; /* the answers received, all reads together */
static size_t got_len, got_cap;

/* Generous: a read that completes a ping begun in earlier reads owes its whole pong (up
 * to 6 + WS_HEAD_KEEP bytes) and then at most 3 answer bytes per input byte (a 2-byte
 * empty ping is answered by a 6-byte pong). */
static size_t out_cap_for(size_t n) { return 3 * n + 6 + WS_HEAD_KEEP + 8; }

/* client.c answers from a buffer of this size. */
#define GLUE_OUT_BYTES 256

static int feed_one(const struct pclient *c, const uint8_t *p, size_t n, size_t out_cap) {
  size_t bad_before = bad_calls;
  uint8_t *in = tail(&in_buf, n);
  memcpy(in, p, n);
  struct proto_out out = {tail(&out_buf, out_cap), 0, out_cap};
  int v = c->feed(in, n, &sink, &out);
  FUZZ_CHECK(out.len <= out_cap, "%zu answer bytes in a %zu-byte buffer", out.len, out_cap);
  FUZZ_CHECK(v == PV_OK || v == PV_PROTOCOL || v == PV_SERVER_CLOSE || v == PV_REFUSED || v == PV_HEADERS_TOO_LARGE ||
                 v == PV_BODY_TOO_LARGE,
             "verdict %d", v);
  FUZZ_CHECK(bad_calls <= 1 && (bad_calls == 0 || v == PV_PROTOCOL), "%zu bad samples, verdict %d", bad_calls, v);
  /* http and ws point at what broke them (mqtt leaves it to client.c: the read) */
  FUZZ_CHECK(v != PV_PROTOCOL || c->feed_reports_bad == 0 || bad_calls == bad_before + 1, "a protocol verdict without its bad sample");
  got = grow_to(got, &got_cap, got_len + out.len + 1, 1);
  if (out.len) memcpy(got + got_len, out.buf, out.len);
  got_len += out.len;
  return v;
}

static void start(const struct pclient *c, const struct pmodel *m) {
  c->reset(m);
  rec.c = c;
  rec.n = 0;
  got_len = 0;
  bad_len = bad_calls = 0;
}

/* The stream bytes before `pos`, in hex, for a report. */
static const char *bytes_before(const struct pmodel *m, size_t pos) {
  static char hex[3 * 24 + 1];
  size_t from = pos > 24 ? pos - 24 : 0, o = 0;
  for (size_t i = from; i < pos && i < m->s.len; i++) o += (size_t)snprintf(hex + o, sizeof hex - o, "%02x ", m->s.p[i]);
  hex[o] = 0;
  return hex;
}

static const char *verdict_name(int v) {
  return v == PV_OK             ? "open"
         : v == PV_PROTOCOL     ? "protocol"
         : v == PV_SERVER_CLOSE ? "server close"
         : v == PV_REFUSED      ? "refused"
         : v == PV_HEADERS_TOO_LARGE ? "headers too large"
         : v == PV_BODY_TOO_LARGE    ? "body too large"
                                     : "?";
}

static const char *ev_name(uint32_t kind) { return kind == EV_ANSWER ? "answer" : kind == EV_MESSAGE ? "message" : "code"; }

void pc_check(const struct pclient *c, const struct pmodel *m, const size_t *reads, size_t n_reads) {
  start(c, m);
  size_t pos = 0, want_ev = 0, want_out = 0;
  int v = PV_OK;
  for (size_t i = 0; i < n_reads && v == PV_OK; i++) {
    size_t n = reads[i];
    v = feed_one(c, m->s.p + pos, n, out_cap_for(n));
    pos += n;
    int due = m->verdict_at <= pos;
    size_t stop = due ? m->verdict_at : pos;
    FUZZ_CHECK(v == (due ? m->verdict : PV_OK), "read %zu (%zu bytes) to %zu: %s, the model %s at %zu; the read ends ... %s", i,
               n, pos, verdict_name(v), verdict_name(m->verdict), pm_open(m) ? m->s.len : m->verdict_at, bytes_before(m, pos));
    size_t from = want_ev;
    while (want_ev < m->n_ev && m->ev[want_ev].at <= stop) want_ev++;
    FUZZ_CHECK(rec.n == want_ev, "read %zu to %zu: %zu events reported, the model %zu (of %zu)", i, pos, rec.n, want_ev, m->n_ev);
    for (size_t k = from; k < want_ev; k++) {
      const struct pev *g = &rec.ev[k], *w = &m->ev[k];
      FUZZ_CHECK(g->kind == w->kind && g->code_kind == w->code_kind && g->a == w->a && g->b == w->b,
                 "event %zu (due at %zu): %s %u/%u/%llu, model %s %u/%u/%llu", k, w->at, ev_name(g->kind), g->code_kind,
                 g->a, (unsigned long long)g->b, ev_name(w->kind), w->code_kind, w->a, (unsigned long long)w->b);
    }
    while (want_out < m->n_out && m->out_at[want_out] <= stop) want_out++;
    size_t out_due = want_out ? m->out_end[want_out - 1] : 0;
    FUZZ_CHECK(got_len == out_due, "read %zu to %zu: %zu answer bytes, model %zu", i, pos, got_len, out_due);
    FUZZ_CHECK(got_len == 0 || memcmp(got, m->out, got_len) == 0, "read %zu to %zu: the answer bytes differ", i, pos);
  }
  if (v == PV_OK && pos == m->s.len && c->at_end) c->at_end(m);
}

void pc_check_random(const struct pclient *c, const struct pmodel *m, struct rng *r) {
  static size_t *reads;
  static size_t cap;
  reads = grow_to(reads, &cap, m->s.len + 1, sizeof *reads);
  pc_check(c, m, reads, gen_reads(r, &m->s, reads, m->s.len + 1));
}

/* Answers must be whole masked client frames: pongs and close echoes, <= 125 bytes. */
static void check_answer_frames(void) {
  size_t o = 0;
  while (o < got_len) {
    FUZZ_CHECK(got_len - o >= 6, "a cut answer frame at %zu", o);
    size_t len = got[o + 1] & 0x7f;
    FUZZ_CHECK((got[o] == 0x8A || got[o] == 0x88) && (got[o + 1] & 0x80) && len <= 125, "answer frame %02x %02x", got[o],
               got[o + 1]);
    FUZZ_CHECK(got_len - o >= 6 + len, "a cut answer frame at %zu", o);
    o += 6 + len;
  }
}

int pc_check_any(const struct pclient *c, const struct pmodel *m, struct rng *r) {
  static struct pev *whole_ev;
  static size_t whole_cap;
  static uint8_t *whole_out;
  static size_t whole_out_cap;
  size_t len = m->s.len;
  if (len == 0) return PV_OK;
  start(c, m);
  int whole = feed_one(c, m->s.p, len, out_cap_for(len));
  check_answer_frames();
  size_t whole_n = rec.n, whole_out_len = got_len, whole_bad_len = bad_len;
  uint8_t whole_bad[PROTO_BAD_BYTES];
  memcpy(whole_bad, bad_got, bad_len);
  whole_ev = grow_to(whole_ev, &whole_cap, whole_n + 1, sizeof *whole_ev);
  if (whole_n) memcpy(whole_ev, rec.ev, whole_n * sizeof *whole_ev);
  whole_out = grow_to(whole_out, &whole_out_cap, whole_out_len + 1, 1);
  if (whole_out_len) memcpy(whole_out, got, whole_out_len);

  int glue = rng_one_in(r, 3); /* client.c's answer buffer: a full one may end it early */
  static size_t *reads;
  static size_t cap;
  reads = grow_to(reads, &cap, len + 1, sizeof *reads);
  size_t n_reads = gen_reads(r, &m->s, reads, len + 1);
  start(c, m);
  int v = PV_OK;
  size_t pos = 0;
  for (size_t i = 0; i < n_reads && v == PV_OK; pos += reads[i++]) {
    v = feed_one(c, m->s.p + pos, reads[i], glue ? GLUE_OUT_BYTES : out_cap_for(reads[i]));
  }
  check_answer_frames();
  /* With client.c's buffer the answers may differ (older pongs dropped), nothing else. */
  FUZZ_CHECK(v == whole, "cut in %zu reads%s: %s, whole: %s", n_reads, glue ? " with client.c's answer buffer" : "",
             verdict_name(v), verdict_name(whole));
  FUZZ_CHECK(rec.n == whole_n, "cut in %zu reads: %zu events, whole: %zu", n_reads, rec.n, whole_n);
  FUZZ_CHECK(bad_len == whole_bad_len && memcmp(bad_got, whole_bad, bad_len) == 0, "cut: the bad sample differs (%zu bytes, whole %zu)",
             bad_len, whole_bad_len);
  for (size_t k = 0; k < whole_n; k++) {
    const struct pev *g = &rec.ev[k], *w = &whole_ev[k];
    FUZZ_CHECK(g->kind == w->kind && g->code_kind == w->code_kind && g->a == w->a && g->b == w->b,
               "cut: event %zu differs from the whole stream's", k);
  }
  FUZZ_CHECK(glue || (got_len == whole_out_len && memcmp(got, whole_out, got_len) == 0), "cut: %zu answer bytes, whole: %zu",
             got_len, whole_out_len);
  return v;
}

uint64_t pc_sweep(const struct pclient *c, const struct pmodel *m) {
  size_t len = m->s.len;
  uint64_t checked = 1;
  size_t whole[] = {len};
  pc_check(c, m, whole, 1);
  for (size_t i = 1; i < len; i++) {
    size_t one[] = {i, len - i};
    pc_check(c, m, one, 2);
    checked++;
    for (size_t j = i + 1; j < len; j++) {
      size_t two[] = {i, j - i, len - j};
      pc_check(c, m, two, 3);
      checked++;
    }
  }
  return checked;
}

uint64_t pc_sweep_generated(const struct pclient *c, struct pmodel *m, void (*gen)(struct pmodel *, struct rng *),
                            unsigned *features, unsigned all, size_t max_len, unsigned streams) {
  static unsigned none;
  unsigned covered = 0, swept = 0;
  uint64_t checked = 0;
  if (!features) features = &none;
  for (uint64_t seed = 1; seed < 100000 && (covered != all || swept < streams); seed++) {
    struct rng r = {seed};
    *features = 0;
    gen(m, &r);
    if (m->s.len > max_len || (covered != all && !(*features & ~covered))) continue;
    covered |= *features;
    swept++;
    checked += pc_sweep(c, m);
  }
  FUZZ_CHECK(covered == all, "the sweep's streams miss features %#x", all & ~covered);
  return checked;
}

void pm_mutate(struct pmodel *m, struct rng *r) {
  struct stream *s = &m->s;
  s->n_starts = 0; /* the element starts no longer mean anything */
  for (uint64_t k = rng_range(r, 1, 8); k > 0 && s->len > 0; k--) {
    size_t at = rng_below(r, s->len);
    switch (rng_below(r, 6)) {
      case 0: s->p[at] ^= (uint8_t)(1u << rng_below(r, 8)); break;
      case 1: s->p[at] = (uint8_t)rng_next(r); break;
      case 2: { /* insert a few random bytes */
        uint8_t add[8];
        size_t n = rng_range(r, 1, sizeof add);
        rng_fill(r, add, n);
        size_t tail_len = s->len - at;
        stream_bytes(s, add, n); /* grows; then move the tail up */
        memmove(s->p + at + n, s->p + at, tail_len);
        memcpy(s->p + at, add, n);
        break;
      }
      case 3: { /* drop a range */
        size_t n = rng_range(r, 1, s->len - at < 16 ? s->len - at : 16);
        memmove(s->p + at, s->p + at + n, s->len - at - n);
        s->len -= n;
        break;
      }
      case 4: s->len = at; break; /* truncate */
      default: { /* copy a range of itself over another place */
        size_t from = rng_below(r, s->len), n = rng_range(r, 1, 64);
        if (n > s->len - from) n = s->len - from;
        if (n > s->len - at) n = s->len - at;
        memmove(s->p + at, s->p + from, n);
      }
    }
  }
}
