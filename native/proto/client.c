/* The client protocols inside the holder (tcp, http, ws, mqtt): client_ops, the table
 * conn.c calls, glue between socket events and the pure parsers of this directory. Per-connection protocol state lives in a side
 * table indexed by fd (one anonymous mapping, proto.state_bytes per descriptor, grown
 * by mremap like the conn table), so a connlab or tcp connection costs its 32-byte
 * record only. All socket I/O here goes through conn_send (all-or-nothing writes); calls
 * down only (conn.c, the parsers, stats.c, clock.c). */
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include "../holder.h"
#include "proto.h"

#define OPEN_BYTES 2048 /* a request, an upgrade or a CONNECT must fit */

static void client_release(struct holder *h) {
  if (h->pstate) munmap(h->pstate, (size_t)h->pstate_cap * h->proto.state_bytes);
  h->pstate = NULL;
  h->pstate_cap = 0;
}

/* The fd's protocol state, zeroed, with the table grown to hold it; NULL when out of memory. */
static void *state_reset(struct holder *h, int fd) {
  size_t bytes = h->proto.state_bytes;
  if (fd >= h->pstate_cap) {
    int cap = h->conns_cap > fd ? h->conns_cap : fd + 1;
    void *p = h->pstate == NULL
                  ? mmap(NULL, (size_t)cap * bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0)
                  : mremap(h->pstate, (size_t)h->pstate_cap * bytes, (size_t)cap * bytes, MREMAP_MAYMOVE);
    if (p == MAP_FAILED) return NULL;
    h->pstate = p;
    h->pstate_cap = cap;
  }
  void *s = h->pstate + (size_t)fd * bytes;
  memset(s, 0, bytes);
  return s;
}

static void *state_of(struct holder *h, int fd) { return h->pstate + (size_t)fd * h->proto.state_bytes; }

/* splitmix64: ws nonces and masks from the holder's seed, no per-connection storage. */
static uint64_t mix(uint64_t x) {
  x += 0x9E3779B97F4A7C15ull;
  x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
  x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
  return x ^ (x >> 31);
}

/* The key sent on fd and the accept its answer must carry: a function of (seed, fd). */
static void ws_key_of(struct holder *h, int fd, char key[25], char accept[29]) {
  uint8_t nonce[16];
  uint64_t a = mix(h->proto.seed ^ (uint64_t)fd), b = mix(a);
  for (int i = 0; i < 8; i++) nonce[i] = (uint8_t)(a >> (8 * i)), nonce[8 + i] = (uint8_t)(b >> (8 * i));
  ws_key_for(nonce, key, accept);
}

/* ---- the sink: what a parser reports becomes counters and samples ---- */

struct sink_ctx {
  struct holder *h;
  int fd;
  int bad_noted; /* the parser pointed at the offending bytes itself */
};

static void on_answer(void *ctx, uint32_t gen, uint64_t sent_us) {
  struct sink_ctx *x = ctx;
  struct holder *h = x->h;
  uint64_t now = clock_mono_us();
  STAT_ADD(h, ST_PONGS_RECEIVED, 1);
  stats_sample(h, &h->rtt_us, now > sent_us ? now - sent_us : 0);
  struct conn *c = &h->conns[x->fd];
  if (h->ping_gen != 0 && gen == h->ping_gen && c->ping_gen != gen) {
    c->ping_gen = gen;
    STAT_ADD(h, ST_VERIFIED, 1);
  }
}

static void on_message(void *ctx, uint64_t stamp_us) {
  struct holder *h = ((struct sink_ctx *)ctx)->h;
  STAT_ADD(h, ST_BROADCASTS_RECEIVED, 1);
  if (stamp_us) {
    uint64_t now = clock_real_us();
    stats_sample(h, &h->broadcast_us, now > stamp_us ? now - stamp_us : 0);
  }
}

static void on_code(void *ctx, int kind, uint32_t code) { stats_code(((struct sink_ctx *)ctx)->h, kind, code); }

static void on_bad(void *ctx, const uint8_t *p, size_t n) {
  struct sink_ctx *x = ctx;
  stats_bad(x->h, p, n);
  x->bad_noted = 1;
}

/* ---- hooks ---- */

static int open_bytes(struct holder *h, int fd, void *s, struct proto_out *out) {
  struct proto_cfg *cfg = &h->proto;
  switch (cfg->kind) {
    case PROTO_HTTP: {
      struct http_client *hc = s;
      hc->outstanding = 1;
      hc->gen = h->ping_gen;
      hc->sent_us = clock_mono_us();
      return proto_out_append(out, cfg->request, cfg->request_len);
    }
    case PROTO_WS: {
      char key[25], accept[29];
      ws_key_of(h, fd, key, accept);
      ((struct ws_client *)s)->mask = (uint32_t)mix(cfg->seed ^ ((uint64_t)fd << 32) ^ clock_mono_us());
      return proto_out_append(out, cfg->request, cfg->request_len) || proto_out_append(out, "Sec-WebSocket-Key: ", 19) ||
                     proto_out_append(out, key, 24) || proto_out_append(out, "\r\n\r\n", 4)
                 ? -1
                 : 0;
    }
    case PROTO_MQTT: {
      char id[256];
      snprintf(id, sizeof id, "%s%d-%d", cfg->client_prefix ? cfg->client_prefix : "connlab-", (int)getpid(), fd);
      struct mqtt_connect_opts o = {id, cfg->username, cfg->password, cfg->keepalive_s};
      return mqtt_connect_write(out, &o);
    }
    default:
      return 0;
  }
}

/* A close this soon after the handshake, before any byte, is `early` (holder.h). */
#define EARLY_CLOSE_US 1000000

static int proto_open(struct holder *h, int fd) {
  struct proto_cfg *cfg = &h->proto;
  h->conns[fd].u.start_us = clock_mono_us(); /* frames are not parsed here: the header buffer is free */
  if (cfg->kind == PROTO_TCP) {
    if (cfg->tcp_keepalive_s == 0) return 0;
    int one = 1, secs = (int)cfg->tcp_keepalive_s, count = 3;
    if (setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &one, sizeof one) != 0 ||
        setsockopt(fd, IPPROTO_TCP, TCP_KEEPIDLE, &secs, sizeof secs) != 0 ||
        setsockopt(fd, IPPROTO_TCP, TCP_KEEPINTVL, &secs, sizeof secs) != 0 ||
        setsockopt(fd, IPPROTO_TCP, TCP_KEEPCNT, &count, sizeof count) != 0) {
      stats_error(h, errno);
      conn_close(h, fd, CR_LOCAL);
      return -1;
    }
    return 0;
  }
  void *s = state_reset(h, fd);
  uint8_t buf[OPEN_BYTES];
  struct proto_out out = {buf, 0, sizeof buf};
  if (!s || open_bytes(h, fd, s, &out) != 0) {
    stats_error(h, ENOMEM);
    conn_close(h, fd, CR_LOCAL);
    return -1;
  }
  return out.len ? conn_send(h, fd, buf, out.len) : 0;
}

static int proto_ping_if_wanted(struct holder *h, int fd);
static int proto_ping(struct holder *h, int fd);

static int proto_input(struct holder *h, int fd, const uint8_t *p, size_t n) {
  struct sink_ctx ctx = {h, fd, 0};
  struct proto_sink sink = {&ctx, on_answer, on_message, on_code, on_bad};
  uint8_t buf[256];
  struct proto_out out = {buf, 0, sizeof buf};
  int v = PV_OK;
  switch (h->proto.kind) {
    case PROTO_HTTP:
      v = http_client_feed(state_of(h, fd), p, n, &sink);
      break;
    case PROTO_WS: {
      struct ws_client *s = state_of(h, fd);
      char key[25], accept[29];
      if (!s->open) ws_key_of(h, fd, key, accept);
      v = ws_client_feed(s, p, n, s->open ? NULL : accept, &sink, &out);
      break;
    }
    case PROTO_MQTT:
      v = mqtt_client_feed(state_of(h, fd), p, n, &sink);
      break;
    default:
      return -1; /* tcp: whatever a server says is counted (bytesIn) and dropped */
  }
  if (out.len && conn_send(h, fd, buf, out.len) != 0) return -1; /* closed already */
  if (v == PV_OK) return proto_ping_if_wanted(h, fd);
  switch (v) {
    case PV_PROTOCOL:
      if (!ctx.bad_noted) stats_bad(h, p, n); /* mqtt: the read that broke it */
      return CR_PROTOCOL;
    case PV_REFUSED: return CR_REFUSED;
    case PV_HEADERS_TOO_LARGE: return CR_HTTP_HEADERS;
    case PV_BODY_TOO_LARGE: return CR_HTTP_BODY;
    default: return CR_SERVER;
  }
}

static int proto_eof_reason(struct holder *h, int fd) {
  switch (h->proto.kind) {
    case PROTO_HTTP: {
      struct http_client *s = state_of(h, fd);
      if (!s->outstanding) return CR_IDLE;
      if (!http_resp_until_eof(&s->r)) return CR_PEER;
      struct sink_ctx ctx = {h, fd, 0};
      stats_code(h, PC_HTTP_STATUS, s->r.status);
      on_answer(&ctx, s->gen, s->sent_us); /* the body ended with the connection */
      return CR_SERVER;
    }
    case PROTO_WS:
      return ((struct ws_client *)state_of(h, fd))->closing ? CR_SERVER : CR_PEER;
    default:
      return CR_PEER;
  }
}

/* tcp: what the kernel can prove. ESTABLISHED means no FIN or RST arrived; with
 * --keepalive, an ACK from the peer within the last keepalive period and no probe
 * outstanding means the peer's kernel answered our probes. */
static void tcp_verify(struct holder *h, int fd) {
  struct tcp_info ti;
  socklen_t len = sizeof ti;
  if (getsockopt(fd, IPPROTO_TCP, TCP_INFO, &ti, &len) != 0 || ti.tcpi_state != 1 /* TCP_ESTABLISHED */) return;
  uint32_t period_ms = h->proto.tcp_keepalive_s * 1000u;
  if (period_ms && (ti.tcpi_probes != 0 || ti.tcpi_last_ack_recv > 2 * period_ms)) return;
  struct conn *c = &h->conns[fd];
  if (c->ping_gen != h->ping_gen) {
    c->ping_gen = h->ping_gen;
    STAT_ADD(h, ST_VERIFIED, 1);
  }
}

/* A ping round found this connection busy (handshake or answer pending); now it may be free. */
static int proto_ping_if_wanted(struct holder *h, int fd) {
  uint8_t *want = NULL;
  if (h->proto.kind == PROTO_HTTP) want = &((struct http_client *)state_of(h, fd))->want_ping;
  else if (h->proto.kind == PROTO_WS) want = &((struct ws_client *)state_of(h, fd))->want_ping;
  else if (h->proto.kind == PROTO_MQTT) want = &((struct mqtt_client *)state_of(h, fd))->want_ping;
  if (!want || !*want) return -1;
  *want = 0;
  if (proto_ping(h, fd) > 0) STAT_ADD(h, ST_PINGS_SENT, 1);
  return -1;
}

static int proto_ping(struct holder *h, int fd) {
  uint8_t buf[64];
  struct proto_out out = {buf, 0, sizeof buf};
  uint64_t now = clock_mono_us();
  switch (h->proto.kind) {
    case PROTO_TCP:
      tcp_verify(h, fd);
      return 0;
    case PROTO_HTTP: {
      struct http_client *s = state_of(h, fd);
      if (s->outstanding) return (s->want_ping = 1), 0; /* one request at a time: send it after this answer */
      s->outstanding = 1;
      s->gen = h->ping_gen;
      s->sent_us = now;
      return conn_send(h, fd, h->proto.request, h->proto.request_len) == 0;
    }
    case PROTO_WS: {
      struct ws_client *s = state_of(h, fd);
      if (s->closing) return 0;
      if (!s->open) return (s->want_ping = 1), 0;
      uint8_t payload[12];
      for (int i = 0; i < 4; i++) payload[i] = (uint8_t)(h->ping_gen >> (24 - 8 * i));
      for (int i = 0; i < 8; i++) payload[4 + i] = (uint8_t)(now >> (56 - 8 * i));
      s->mask = s->mask * 1664525u + 1013904223u;
      ws_frame_write(&out, 9, payload, sizeof payload, s->mask);
      break;
    }
    case PROTO_MQTT: {
      struct mqtt_client *s = state_of(h, fd);
      if (!s->connected || s->outstanding) return (s->want_ping = 1), 0;
      s->outstanding = 1;
      s->gen = h->ping_gen;
      s->sent_us = now;
      static const uint8_t pingreq[2] = {0xC0, 0};
      proto_out_append(&out, pingreq, 2);
      break;
    }
    default:
      return 0;
  }
  return conn_send(h, fd, buf, out.len) == 0;
}

/* A clean close says goodbye: MQTT DISCONNECT, a WebSocket close 1000. Peer and reset
 * closes before any byte arrived and within a second of the handshake are counted
 * `early`: a server out of descriptors accepts and closes (or resets) exactly like that
 * (frames.c counts its own). */
static void proto_on_close(struct holder *h, int fd, int reason) {
  struct conn *c = &h->conns[fd];
  if (fd >= h->pstate_cap && h->proto.state_bytes) return; /* proto_open failed before its state */
  int early = clock_mono_us() - c->u.start_us < EARLY_CLOSE_US;
  if ((reason == CR_PEER || reason == CR_RESET) && !(c->flags & CF_GOT_BYTES) && early) {
    STAT_ADD(h, ST_CLOSED_EARLY, 1);
  }
  if (reason != CR_LOCAL || h->proto.kind == PROTO_TCP) return;
  if (USES_TLS(h, c) && !(c->flags & CF_TLS_OPEN)) return; /* no protocol state yet: the handshake never finished */
  uint8_t buf[16];
  struct proto_out out = {buf, 0, sizeof buf};
  if (h->proto.kind == PROTO_MQTT && ((struct mqtt_client *)state_of(h, fd))->connected) {
    static const uint8_t disconnect[2] = {0xE0, 0};
    proto_out_append(&out, disconnect, 2);
  } else if (h->proto.kind == PROTO_WS) {
    struct ws_client *s = state_of(h, fd);
    static const uint8_t normal[2] = {0x03, 0xE8};
    if (s->open && !s->closing) ws_frame_write(&out, 8, normal, 2, s->mask);
  }
  if (USES_TLS(h, c)) h->tls->goodbye(h, fd, buf, out.len); /* and TLS close_notify */
  else if (out.len) (void)send(fd, buf, out.len, MSG_NOSIGNAL | MSG_DONTWAIT); /* best effort: we close next */
}

/* One table for tcp, http, ws and mqtt: each hook switches on h->proto.kind. */
const struct proto_ops client_ops = {proto_open, proto_input, proto_eof_reason, proto_ping, NULL, proto_on_close, client_release};
