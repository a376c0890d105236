/* Target "proto-conn": the client protocols through the holder's real read path, as
 * frames-conn does for connlab frames. Three client holders (http, ws, mqtt) each open
 * connections over socketpairs: proto_open() sends the request, the upgrade with its
 * key or the CONNECT (read back and checked by the peer), then the peer writes a
 * generated server stream in generated reads and conn_on_event() runs recv, client.c's
 * proto_input (its side table, its 256-byte answer buffer, the sink that turns events
 * into counters and the code table) and the close by reason. Checked after every read
 * against the model: the close and its reason, pongs (answers) and broadcasts
 * (messages) received, the code table, and the answer bytes the peer got. A stream the
 * model leaves open ends with the peer's EOF, whose reason client.c decides (idle after
 * an answered request, server for a body that ends at EOF, else peer).
 *
 * What client.c adds that the parser-level targets cannot see: no second HTTP request
 * without a ping round (so a second response in the stream is refused), no PINGREQ
 * before one (so PINGRESPs are ignored), a WebSocket key and mask of its own, and an
 * answer buffer of 256 bytes: a read owing more pongs keeps only those after the last
 * one that did not fit (ws.c, RFC 6455 5.5.3). Ping rounds themselves are not driven
 * here (test/load covers them against real servers). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "proto-fuzz.h"

#define MAX_READS 4096
#define GLUE_OUT_BYTES 256 /* client.c's proto_input answer buffer */

enum { K_HTTP, K_WS, K_MQTT, K_COUNT };
static const int kinds[K_COUNT] = {PROTO_HTTP, PROTO_WS, PROTO_MQTT};
static struct holder hs[K_COUNT];
static struct pmodel md;
static size_t reads[MAX_READS + 256];

/* Random reads, then whole scratch buffers for whatever they left: the stream always
 * goes in to its end, so the EOF's reason is the model's. */
static size_t all_reads(struct rng *r) {
  size_t n = gen_reads(r, &md.s, reads, MAX_READS), fed = 0;
  for (size_t i = 0; i < n; i++) fed += reads[i];
  for (; fed < md.s.len; n++) {
    FUZZ_CHECK(n < sizeof reads / sizeof reads[0], "a stream of %zu bytes needs too many reads", md.s.len);
    reads[n] = md.s.len - fed < SCRATCH_BYTES ? md.s.len - fed : SCRATCH_BYTES;
    fed += reads[n];
  }
  return n;
}

static const char HTTP_REQUEST[] = "GET /fuzz HTTP/1.1\r\nHost: connlab\r\n\r\n";
static const char WS_REQUEST[] =
    "GET /ws HTTP/1.1\r\nHost: connlab\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\n";
static const char WS_GUID[] = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

static int setup(void) {
  for (int k = 0; k < K_COUNT; k++) {
    int rc = holder_init(&hs[k], &conn_io, 0, 1024);
    if (rc != 0) return rc;
    struct proto_cfg *cfg = &hs[k].proto; /* as binding.c's setProtocol fills it */
    const char *request = k == K_HTTP ? HTTP_REQUEST : k == K_WS ? WS_REQUEST : NULL;
    if (request) {
      cfg->request = malloc(strlen(request));
      if (!cfg->request) return ENOMEM;
      memcpy(cfg->request, request, strlen(request));
      cfg->request_len = strlen(request);
    }
    if (k == K_MQTT) cfg->client_prefix = strdup("fuzz-"), cfg->keepalive_s = 30;
    proto_configure(&hs[k], kinds[k]);
    cfg->seed = 0x5eed0000u + (uint64_t)k; /* fixed: a failure replays */
  }
  return 0;
}

static void teardown(void) {
  for (int k = 0; k < K_COUNT; k++) holder_free(&hs[k]); /* closes anything left open */
  pm_free(&md);
}

struct link {
  struct holder *h;
  int k, hfd, pfd, closed;
  uint8_t *got; /* what the peer received after the opening bytes */
  size_t got_len, got_cap;
  uint8_t *want; /* the answers the model says it must have received */
  size_t want_len, want_cap, answers_due;
  uint64_t base[ST_COUNT];
};

static uint64_t delta(const struct link *l, int stat) { return STAT_GET(l->h, stat) - l->base[stat]; }

static void grow(uint8_t **p, size_t *cap, size_t need) {
  if (need <= *cap) return;
  *cap = need * 2 + 4096;
  *p = realloc(*p, *cap);
  FUZZ_CHECK(*p != NULL, "out of memory");
}

/* Everything the peer can read now. */
static size_t drain(struct link *l, uint8_t **buf, size_t *len, size_t *cap) {
  size_t before = *len;
  for (;;) {
    grow(buf, cap, *len + 65536);
    ssize_t n = recv(l->pfd, *buf + *len, *cap - *len, MSG_DONTWAIT);
    if (n <= 0) {
      FUZZ_CHECK(n == 0 || errno == EAGAIN || errno == EWOULDBLOCK, "peer recv: errno %d", errno);
      return *len - before;
    }
    *len += (size_t)n;
  }
}

/* The accept for the key the upgrade carried: SHA-1 and base64 from ws.c, whose
 * output proto-ws's setup checks against RFC 6455's example. */
static void accept_for(const uint8_t *key, char accept[29]) {
  uint8_t input[24 + sizeof WS_GUID - 1], digest[20];
  memcpy(input, key, 24);
  memcpy(input + 24, WS_GUID, sizeof WS_GUID - 1);
  sha1(input, sizeof input, digest);
  base64_encode(digest, 20, accept);
}

/* Opens a connection as connect_done would, and checks what proto_open sent. */
static void open_link(struct link *l, char accept[29], uint32_t *mask) {
  int sv[2];
  FUZZ_CHECK(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv) == 0, "socketpair: %d", errno);
  l->hfd = sv[0], l->pfd = sv[1];
  struct holder *h = l->h;
  FUZZ_CHECK(conn_reserve(h, l->hfd) == 0, "conn_reserve(%d)", l->hfd);
  memset(h->codes, 0, sizeof h->codes); /* the table keeps 256 codes: these runs draw more */
  for (int i = 0; i < ST_COUNT; i++) l->base[i] = STAT_GET(h, i);
  h->conns[l->hfd].state = CS_CLIENT;
  STAT_ADD(h, ST_ESTABLISHED, 1);
  FUZZ_CHECK(h->pops->open(h, l->hfd) == 0, "the protocol's open failed");
  static uint8_t *open;
  static size_t open_cap;
  size_t n = 0;
  drain(l, &open, &n, &open_cap);
  if (l->k == K_HTTP) {
    FUZZ_CHECK(n == strlen(HTTP_REQUEST) && memcmp(open, HTTP_REQUEST, n) == 0, "the request: %zu bytes", n);
  } else if (l->k == K_WS) {
    size_t head = strlen(WS_REQUEST);
    FUZZ_CHECK(n == head + 19 + 24 + 4 && memcmp(open, WS_REQUEST, head) == 0 &&
                   memcmp(open + head, "Sec-WebSocket-Key: ", 19) == 0 && memcmp(open + n - 4, "\r\n\r\n", 4) == 0,
               "the upgrade: %zu bytes", n);
    accept_for(open + head + 19, accept);
    const struct ws_client *s = (const void *)(h->pstate + (size_t)l->hfd * h->proto.state_bytes);
    *mask = s->mask;
  } else { /* CONNECT: fixed header, "MQTT" level 4, clean session */
    FUZZ_CHECK(n >= 14 && open[0] == 0x10 && open[1] == n - 2 && memcmp(open + 2, "\0\4MQTT\4\2", 8) == 0, "CONNECT: %zu bytes", n);
  }
}

/* The code table's count for (kind, code): a scan, not client.c's probe order. */
static uint64_t table_count(const struct holder *h, uint32_t kind, uint32_t code) {
  uint64_t n = 0;
  for (int i = 0; i < CODE_SLOTS; i++) {
    if (h->codes[i].key == (kind << 16 | (code & 0xffff))) n += h->codes[i].count;
  }
  return n;
}

static uint64_t table_total(const struct holder *h) {
  uint64_t n = 0;
  for (int i = 0; i < CODE_SLOTS; i++) n += h->codes[i].count;
  return n;
}

/* The answers one read owes, as client.c's buffer sends them: when one does not fit,
 * the read's earlier ones are dropped (ws.c's answer()). */
static void owe(struct link *l, size_t stop) {
  size_t from = l->want_len, used = 0;
  for (; l->answers_due < md.n_out && md.out_at[l->answers_due] <= stop; l->answers_due++) {
    size_t i = l->answers_due, start = i ? md.out_end[i - 1] : 0, n = md.out_end[i] - start;
    if (used + n > GLUE_OUT_BYTES) l->want_len = from, used = 0;
    grow(&l->want, &l->want_cap, l->want_len + n);
    memcpy(l->want + l->want_len, md.out + start, n);
    l->want_len += n, used += n;
  }
}

static int reason_of(int verdict) {
  return verdict == PV_PROTOCOL             ? CR_PROTOCOL
         : verdict == PV_REFUSED            ? CR_REFUSED
         : verdict == PV_HEADERS_TOO_LARGE  ? CR_HTTP_HEADERS
         : verdict == PV_BODY_TOO_LARGE     ? CR_HTTP_BODY
                                            : CR_SERVER;
}

/* The counters against the model's events due by `stop`, plus `extra` answers and one
 * `extra_code` (the HTTP status counted at EOF). */
static void check_counts(const struct link *l, size_t stop, uint32_t extra_answers, const struct pev *extra_code) {
  uint64_t answers = extra_answers, messages = 0, codes = extra_code != NULL;
  for (size_t i = 0; i < md.n_ev && md.ev[i].at <= stop; i++) {
    const struct pev *e = &md.ev[i];
    answers += e->kind == EV_ANSWER, messages += e->kind == EV_MESSAGE;
    if (e->kind != EV_CODE) continue;
    codes++;
    uint64_t want = extra_code && extra_code->code_kind == e->code_kind && extra_code->a == e->a;
    for (size_t j = 0; j < md.n_ev && md.ev[j].at <= stop; j++) {
      want += md.ev[j].kind == EV_CODE && md.ev[j].code_kind == e->code_kind && md.ev[j].a == e->a;
    }
    FUZZ_CHECK(table_count(l->h, e->code_kind, e->a) == want, "code %u/%u counted %llu times, model %llu", e->code_kind,
               e->a, (unsigned long long)table_count(l->h, e->code_kind, e->a), (unsigned long long)want);
  }
  FUZZ_CHECK(table_total(l->h) == codes, "%llu codes counted, model %llu", (unsigned long long)table_total(l->h),
             (unsigned long long)codes);
  FUZZ_CHECK(delta(l, ST_PONGS_RECEIVED) == answers, "answers %llu, model %llu",
             (unsigned long long)delta(l, ST_PONGS_RECEIVED), (unsigned long long)answers);
  FUZZ_CHECK(delta(l, ST_BROADCASTS_RECEIVED) == messages, "messages %llu, model %llu",
             (unsigned long long)delta(l, ST_BROADCASTS_RECEIVED), (unsigned long long)messages);
}

static void check_answers(struct link *l) {
  drain(l, &l->got, &l->got_len, &l->got_cap);
  FUZZ_CHECK(l->got_len == l->want_len, "the peer got %zu answer bytes, model %zu", l->got_len, l->want_len);
  FUZZ_CHECK(l->got_len == 0 || memcmp(l->got, l->want, l->got_len) == 0, "the answer bytes differ");
}

/* Exactly one close, for `reason`; nothing left established; no byte lost. */
static void check_closed(const struct link *l, int reason, size_t consumed) {
  FUZZ_CHECK(l->h->conns[l->hfd].state == CS_FREE, "still open");
  for (int i = ST_CLOSED_PEER; i <= ST_CLOSED_KEEPALIVE; i++) {
    if (i > ST_CLOSED_CHURN && i < ST_CLOSED_SERVER) continue; /* not close reasons */
    FUZZ_CHECK(delta(l, i) == (uint64_t)(i == reason), "close counter %d moved by %llu, expected reason %d", i,
               (unsigned long long)delta(l, i), reason);
  }
  for (int i = ST_CLOSED_HTTP_HEADERS; i <= ST_CLOSED_HTTP_BODY; i++) {
    FUZZ_CHECK(delta(l, i) == (uint64_t)(i == reason), "close counter %d moved by %llu, expected reason %d", i,
               (unsigned long long)delta(l, i), reason);
  }
  FUZZ_CHECK(delta(l, ST_CLOSED_EARLY) == 0, "an early close after bytes");
  FUZZ_CHECK(STAT_GET(l->h, ST_ESTABLISHED) == 0, "established %llu", (unsigned long long)STAT_GET(l->h, ST_ESTABLISHED));
  FUZZ_CHECK(delta(l, ST_BYTES_IN) == consumed, "bytesIn %llu, fed %zu", (unsigned long long)delta(l, ST_BYTES_IN), consumed);
}

/* One read: the peer writes it, the holder reads it whole (a socketpair hands one
 * write to one recv). */
static void feed(struct link *l, const uint8_t *p, size_t n) {
  ssize_t w = send(l->pfd, p, n, MSG_DONTWAIT | MSG_NOSIGNAL);
  FUZZ_CHECK(w == (ssize_t)n, "peer send of %zu: %zd (errno %d)", n, w, errno);
  uint64_t in = STAT_GET(l->h, ST_BYTES_IN);
  conn_on_event(l->h, l->hfd, EPOLLIN);
  FUZZ_CHECK(STAT_GET(l->h, ST_BYTES_IN) - in == n, "a read took %llu of %zu bytes",
             (unsigned long long)(STAT_GET(l->h, ST_BYTES_IN) - in), n);
  l->closed = l->h->conns[l->hfd].state == CS_FREE;
}

static void end_link(struct link *l) {
  close(l->pfd);
  free(l->got), free(l->want);
}

static void run(struct rng *r, int k, int bad) {
  struct link l = {.h = &hs[k], .k = k};
  char accept[29] = "";
  uint32_t mask = 0;
  open_link(&l, accept, &mask);
  if (k == K_HTTP) http_gen_for_conn(&md, r, bad);
  else if (k == K_WS) ws_gen_for_conn(&md, r, bad, accept, mask);
  else mqtt_gen_for_conn(&md, r, bad);
  size_t n_reads = all_reads(r), pos = 0;
  for (size_t i = 0; i < n_reads && !l.closed; i++) { /* the model covers any prefix: reads of any size */
    feed(&l, md.s.p + pos, reads[i]);
    pos += reads[i];
    int due = md.verdict_at <= pos;
    size_t stop = due ? md.verdict_at : pos;
    FUZZ_CHECK(l.closed == due, "after %zu bytes the holder %s (protocol %llu, server %llu, refused %llu); the model closes at %zu",
               pos, l.closed ? "closed" : "kept it open", (unsigned long long)delta(&l, CR_PROTOCOL),
               (unsigned long long)delta(&l, CR_SERVER), (unsigned long long)delta(&l, CR_REFUSED), md.verdict_at);
    owe(&l, stop);
    check_answers(&l);
    check_counts(&l, stop, 0, NULL);
  }
  if (l.closed) {
    check_closed(&l, reason_of(md.verdict), pos);
  } else { /* the peer's EOF: client.c names the reason */
    shutdown(l.pfd, SHUT_WR);
    conn_on_event(l.h, l.hfd, EPOLLIN);
    size_t answered = 0;
    for (size_t i = 0; i < md.n_ev; i++) answered += md.ev[i].kind == EV_ANSWER;
    int reason = CR_PEER;
    struct pev eof_code = {EV_CODE, PC_HTTP_STATUS, md.eof_status, 0, 0};
    if (k == K_HTTP) reason = md.eof_body ? CR_SERVER : answered ? CR_IDLE : CR_PEER;
    check_counts(&l, SIZE_MAX, md.eof_body, md.eof_body ? &eof_code : NULL);
    check_closed(&l, reason, pos);
  }
  check_answers(&l);
  end_link(&l);
}

/* Damaged streams: no model, but one close with a reason a protocol can give, answers
 * that are whole client frames, and the holder's books balanced. */
static void run_mutated(struct rng *r, int k) {
  struct link l = {.h = &hs[k], .k = k};
  char accept[29] = "";
  uint32_t mask = 0;
  open_link(&l, accept, &mask);
  if (k == K_HTTP) http_gen_for_conn(&md, r, rng_one_in(r, 2));
  else if (k == K_WS) ws_gen_for_conn(&md, r, rng_one_in(r, 2), accept, mask);
  else mqtt_gen_for_conn(&md, r, rng_one_in(r, 2));
  pm_mutate(&md, r);
  size_t n_reads = all_reads(r), pos = 0;
  for (size_t i = 0; i < n_reads && !l.closed; i++) feed(&l, md.s.p + pos, reads[i]), pos += reads[i];
  if (!l.closed) {
    shutdown(l.pfd, SHUT_WR);
    conn_on_event(l.h, l.hfd, EPOLLIN);
  }
  FUZZ_CHECK(l.h->conns[l.hfd].state == CS_FREE, "still open after EOF");
  uint64_t closes = 0;
  static const int reasons[] = {CR_PEER, CR_PROTOCOL, CR_SERVER, CR_REFUSED, CR_IDLE, CR_HTTP_HEADERS, CR_HTTP_BODY};
  for (size_t i = 0; i < sizeof reasons / sizeof reasons[0]; i++) closes += delta(&l, reasons[i]);
  FUZZ_CHECK(closes == 1, "%llu closes", (unsigned long long)closes);
  FUZZ_CHECK(STAT_GET(l.h, ST_ESTABLISHED) == 0, "still established");
  drain(&l, &l.got, &l.got_len, &l.got_cap);
  for (size_t o = 0; o < l.got_len;) { /* only ws answers, each a whole masked control frame */
    FUZZ_CHECK(k == K_WS && l.got_len - o >= 6 && (l.got[o] == 0x8A || l.got[o] == 0x88) && (l.got[o + 1] & 0x80),
               "answer byte %zu: %02x", o, l.got[o]);
    o += 6 + (l.got[o + 1] & 0x7f);
    FUZZ_CHECK(o <= l.got_len, "a cut answer frame");
  }
  end_link(&l);
}

static void case_http(struct rng *r) { run(r, K_HTTP, rng_one_in(r, 4)); }
static void case_ws(struct rng *r) { run(r, K_WS, rng_one_in(r, 4) ? (int)rng_range(r, 1, 2) : 0); }
static void case_mqtt(struct rng *r) { run(r, K_MQTT, rng_one_in(r, 4)); }
static void case_mutated(struct rng *r) { run_mutated(r, (int)rng_below(r, K_COUNT)); }

static const struct fuzz_case cases[] = {
    {"http", 4, case_http},
    {"ws", 4, case_ws},
    {"mqtt", 4, case_mqtt},
    {"mutated", 4, case_mutated},
};

const struct fuzz_target proto_conn_target = {
    .name = "proto-conn",
    .about = "client holders over socketpairs: proto_open, conn_on_event, client.c's glue and counters, against the model",
    .setup = setup,
    .teardown = teardown,
    .cases = cases,
    .n_cases = sizeof cases / sizeof cases[0],
};
