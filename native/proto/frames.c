/* connlab's own protocol, one protocol of proto/ like the others: the 16-byte frame
 * header (big-endian: type u8 | flags u8 | length u16 | seq u32 | timeUs u64, see
 * src/protocol/frame.ts), the parser of both ends (a server answers pings with pongs
 * and echoes echo frames; a client counts pongs and broadcasts), and frames_ops, the
 * table conn.c calls. The only per-connection parse state is the conn record's 16-byte
 * header buffer and a remaining-payload counter: no side table. Writes go through
 * conn_send (all-or-nothing); calls down only (conn.c, stats.c, clock.c). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "../holder.h"

void frame_header_write(uint8_t *p, uint8_t type, uint16_t length, uint32_t seq, uint64_t time_us) {
  p[0] = type;
  p[1] = 0;
  p[2] = (uint8_t)(length >> 8);
  p[3] = (uint8_t)length;
  for (int i = 0; i < 4; i++) p[4 + i] = (uint8_t)(seq >> (24 - 8 * i));
  for (int i = 0; i < 8; i++) p[8 + i] = (uint8_t)(time_us >> (56 - 8 * i));
}

uint16_t frame_length(const uint8_t *hdr) { return (uint16_t)((hdr[2] << 8) | hdr[3]); }

uint32_t frame_seq(const uint8_t *hdr) {
  return ((uint32_t)hdr[4] << 24) | ((uint32_t)hdr[5] << 16) | ((uint32_t)hdr[6] << 8) | hdr[7];
}

uint64_t frame_time_us(const uint8_t *hdr) {
  uint64_t v = 0;
  for (int i = 0; i < 8; i++) v = (v << 8) | hdr[8 + i];
  return v;
}

/* Appends len bytes to the answer being built, or returns -1 where that would pass
 * OUT_BYTES. The bound in holder.h says it never does; the check makes a broken bound a
 * protocol close instead of heap corruption (and the fuzz build aborts on it). */
static int out_append(struct holder *h, size_t *out_len, const uint8_t *p, size_t len) {
  if (len > OUT_BYTES - *out_len) {
#ifdef CONNLAB_FUZZ
    abort();
#endif
    return -1;
  }
  memcpy(h->out + *out_len, p, len);
  *out_len += len;
  return 0;
}

/* A complete header arrived on an accepted connection. Returns a close reason or -1;
 * appends the answer to h->out. */
static int server_header(struct holder *h, struct conn *c, size_t *out_len) {
  uint8_t *hdr = c->u.hdr;
  uint16_t len = frame_length(hdr);
  if (hdr[1] != 0) return CR_PROTOCOL;
  if (hdr[0] == FRAME_PING && len == 0) {
    size_t at = *out_len;
    if (out_append(h, out_len, hdr, FRAME_HEADER_BYTES) != 0) return CR_PROTOCOL;
    h->out[at] = FRAME_PONG;
    return -1;
  }
  if (hdr[0] == FRAME_ECHO) {
    if (out_append(h, out_len, hdr, FRAME_HEADER_BYTES) != 0) return CR_PROTOCOL;
    c->remaining = len;
    c->mode = len ? PM_ECHO : PM_HEADER;
    return -1;
  }
  return CR_PROTOCOL;
}

/* A complete header arrived on a connection this holder opened. */
static int client_header(struct holder *h, struct conn *c) {
  uint8_t *hdr = c->u.hdr;
  uint16_t len = frame_length(hdr);
  uint64_t now = clock_real_us();
  uint64_t sent = frame_time_us(hdr);
  uint64_t elapsed = now > sent ? now - sent : 0;
  if (hdr[1] != 0) return CR_PROTOCOL;
  if (hdr[0] == FRAME_PONG && len == 0) {
    STAT_ADD(h, ST_PONGS_RECEIVED, 1);
    stats_sample(h, &h->rtt_us, elapsed);
    if (h->ping_gen != 0 && frame_seq(hdr) == h->ping_seq && c->ping_gen != h->ping_gen) {
      c->ping_gen = h->ping_gen;
      STAT_ADD(h, ST_VERIFIED, 1);
    }
    return -1;
  }
  if (hdr[0] == FRAME_BROADCAST) {
    STAT_ADD(h, ST_BROADCASTS_RECEIVED, 1);
    stats_sample(h, &h->broadcast_us, elapsed);
    c->remaining = len;
    c->mode = len ? PM_SKIP : PM_HEADER;
    return -1;
  }
  return CR_PROTOCOL;
}

/* Feeds n received bytes (n <= SCRATCH_BYTES) through the connection's frame state and
 * builds the answer in h->out: at most n + FRAME_HEADER_BYTES - 1 bytes (holder.h).
 * Returns a close reason, or -1 to keep the connection. */
int frames_parse(struct holder *h, struct conn *c, const uint8_t *p, size_t n, size_t *out_len) {
  while (n > 0) {
    if (c->mode != PM_HEADER) {
      size_t take = n < c->remaining ? n : c->remaining;
      if (c->mode == PM_ECHO && out_append(h, out_len, p, take) != 0) return CR_PROTOCOL;
      p += take;
      n -= take;
      c->remaining = (uint16_t)(c->remaining - take);
      if (c->remaining == 0) c->mode = PM_HEADER;
      continue;
    }
    size_t take = FRAME_HEADER_BYTES - c->hdr_len;
    if (take > n) take = n;
    memcpy(c->u.hdr + c->hdr_len, p, take);
    c->hdr_len = (uint8_t)(c->hdr_len + take);
    p += take;
    n -= take;
    if (c->hdr_len < FRAME_HEADER_BYTES) break;
    c->hdr_len = 0;
    int reason = c->state == CS_SERVER ? server_header(h, c, out_len) : client_header(h, c);
    if (reason >= 0) return reason;
  }
  return -1;
}


static int64_t frames_broadcast(struct holder *h, uint32_t seq, const uint8_t *payload, size_t len) {
  size_t total = FRAME_HEADER_BYTES + len;
  uint8_t *frame = total <= SCRATCH_BYTES ? h->out : malloc(total);
  int64_t sent = 0;
  if (!frame) return -ENOMEM;
  frame_header_write(frame, FRAME_BROADCAST, (uint16_t)len, seq, clock_real_us());
  if (len) memcpy(frame + FRAME_HEADER_BYTES, payload, len);
  for (int fd = 0; fd <= h->max_fd && fd < h->conns_cap; fd++) {
    if (h->conns[fd].state != CS_SERVER) continue;
    if (USES_TLS(h, &h->conns[fd]) && !(h->conns[fd].flags & CF_TLS_OPEN)) continue; /* still in its handshake */
    if (conn_send(h, fd, frame, total) == 0) sent++;
  }
  if (frame != h->out) free(frame);
  STAT_ADD(h, ST_BROADCASTS_SENT, sent);
  return sent;
}

static int frames_open(struct holder *h, int fd) {
  (void)h, (void)fd; /* nothing to say first: the header buffer is zero and ready */
  return 0;
}

static int frames_input(struct holder *h, int fd, const uint8_t *p, size_t n) {
  size_t out_len = 0;
  int reason = frames_parse(h, &h->conns[fd], p, n, &out_len);
  if (out_len > 0 && conn_send(h, fd, h->out, out_len) != 0) return -1; /* closed already */
  if (reason == CR_PROTOCOL) stats_bad(h, p, n);
  return reason;
}

static int frames_eof_reason(struct holder *h, int fd) {
  (void)h, (void)fd;
  return CR_PEER;
}

static int frames_ping(struct holder *h, int fd) {
  uint8_t frame[FRAME_HEADER_BYTES];
  frame_header_write(frame, FRAME_PING, 0, h->ping_seq, clock_real_us());
  return conn_send(h, fd, frame, sizeof frame) == 0;
}

/* Peer and reset closes of a client connection before any byte arrived and before a
 * round verified it are counted `early`: a server out of descriptors accepts and closes
 * (or resets) exactly like that. */
static void frames_on_close(struct holder *h, int fd, int reason) {
  struct conn *c = &h->conns[fd];
  if ((reason == CR_PEER || reason == CR_RESET) && !(c->flags & CF_GOT_BYTES) && c->ping_gen == 0) {
    STAT_ADD(h, ST_CLOSED_EARLY, 1);
  }
}

const struct proto_ops frames_ops = {frames_open, frames_input, frames_eof_reason, frames_ping, frames_broadcast, frames_on_close, NULL};
