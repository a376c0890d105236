/* Per-connection I/O on the loop thread: accept, connect, frame parsing and
 * answers, closes by reason. Writes are all-or-nothing: a write that would block
 * or is short closes the connection as "slow", so no output is ever queued and
 * every frame starts on a frame boundary. Input is parsed from one shared scratch
 * buffer; the only per-connection parse state is the 16-byte header buffer and a
 * remaining-payload counter. */
#include <errno.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include "holder.h"

#define SCRATCH_BYTES 65536
#define ACCEPT_BURST 4096 /* per readiness event, so one busy listener cannot starve the rest */

/* The per-descriptor table is one anonymous mapping sized for the descriptor limit.
 * The kernel zero-fills its pages on first touch, so it costs 32 B per descriptor in
 * use, never more, and growing past the limit (raised later) is an mremap, not a copy.
 * Doubling with realloc + memset touched up to twice what was used: 1 MiB for a load
 * worker's 16,667 connections instead of 521 KiB. */
#define CONNS_INITIAL_MAX (1 << 20) /* records reserved up front at most: 32 MiB of address space */

static size_t conns_bytes(int cap) { return (size_t)cap * sizeof(struct conn); }

void conns_release(struct holder *h) {
  if (h->conns) munmap(h->conns, conns_bytes(h->conns_cap));
  h->conns = NULL;
  h->conns_cap = 0;
}

int conn_reserve(struct holder *h, int fd) {
  if (fd >= h->conns_cap) {
    int cap = h->conns_cap;
    if (cap == 0) {
      struct rlimit rl;
      rlim_t limit = getrlimit(RLIMIT_NOFILE, &rl) == 0 ? rl.rlim_max : 1024;
      cap = limit >= CONNS_INITIAL_MAX ? CONNS_INITIAL_MAX : limit < 1024 ? 1024 : (int)limit;
    }
    while (cap <= fd) cap *= 2;
    void *conns = h->conns == NULL
                      ? mmap(NULL, conns_bytes(cap), PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0)
                      : mremap(h->conns, conns_bytes(h->conns_cap), conns_bytes(cap), MREMAP_MAYMOVE);
    if (conns == MAP_FAILED) return -1;
    h->conns = conns;
    h->conns_cap = cap;
  }
  if (fd > h->max_fd) h->max_fd = fd;
  memset(&h->conns[fd], 0, sizeof h->conns[fd]);
  return 0;
}

static void established(struct holder *h, int fd, int state) {
  h->conns[fd].state = (uint8_t)state;
  uint64_t now = STAT_ADD(h, ST_ESTABLISHED, 1) + 1;
  if (now > STAT_GET(h, ST_PEAK_ESTABLISHED)) STAT_SET(h, ST_PEAK_ESTABLISHED, now);
}

void conn_close(struct holder *h, int fd, int reason) {
  struct conn *c = &h->conns[fd];
  if (c->state == CS_CONNECTING) {
    STAT_SUB(h, ST_PENDING, 1);
  } else if (c->state == CS_CLIENT || c->state == CS_SERVER) {
    STAT_SUB(h, ST_ESTABLISHED, 1);
    if (c->state == CS_CLIENT && h->ping_gen != 0 && c->ping_gen == h->ping_gen) {
      STAT_SUB(h, ST_VERIFIED, 1);
    }
  } else {
    return;
  }
  STAT_ADD(h, reason, 1);
  memset(c, 0, sizeof *c);
  close(fd);
}

/* Writes all of buf or closes fd; returns 0 when written. */
static int write_all_or_close(struct holder *h, int fd, const uint8_t *buf, size_t len) {
  ssize_t n = send(fd, buf, len, MSG_NOSIGNAL | MSG_DONTWAIT);
  if (n == (ssize_t)len) {
    STAT_ADD(h, ST_BYTES_OUT, len);
    return 0;
  }
  if (n > 0) STAT_ADD(h, ST_BYTES_OUT, (size_t)n);
  int slow = n >= 0 || errno == EAGAIN || errno == EWOULDBLOCK;
  conn_close(h, fd, slow ? CR_SLOW : CR_RESET);
  return -1;
}

/* ---- accept ---- */

static void on_acceptable(struct holder *h, int lfd) {
  for (int i = 0; i < ACCEPT_BURST; i++) {
    int fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0) {
      int err = errno;
      if (err == EAGAIN || err == EWOULDBLOCK) return;
      if (err == EINTR || err == ECONNABORTED) continue;
      holder_count_error(h, err);
      if (err == EMFILE || err == ENFILE || err == ENOBUFS || err == ENOMEM) loop_pause_accept(h);
      return;
    }
    struct epoll_event ev = {.events = EPOLLIN, .data.fd = fd};
    if (conn_reserve(h, fd) != 0 || epoll_ctl(h->epfd, EPOLL_CTL_ADD, fd, &ev) != 0) {
      holder_count_error(h, errno ? errno : ENOMEM);
      close(fd);
      continue;
    }
    STAT_ADD(h, ST_ACCEPTED, 1);
    established(h, fd, CS_SERVER);
  }
}

/* ---- connect ---- */

static int bind_source(int fd, uint32_t ip, uint32_t port) {
  int one = 1;
  if (port != 0) {
    /* Lets one (ip, port) carry connections to several destinations. */
    if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) != 0) return -1;
  } else if (ip != 0) {
    /* Defer the port choice to connect(), so the pool is per destination. */
    if (setsockopt(fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof one) != 0) return -1;
  } else {
    return 0;
  }
  struct sockaddr_in sa = {.sin_family = AF_INET};
  sa.sin_addr.s_addr = htonl(ip);
  sa.sin_port = htons((uint16_t)port);
  return bind(fd, (struct sockaddr *)&sa, sizeof sa);
}

static void connect_done(struct holder *h, int fd) {
  struct conn *c = &h->conns[fd];
  samples_push(h, &h->connect_us, now_mono_us() - c->u.start_us);
  memset(c, 0, sizeof *c);
  STAT_ADD(h, ST_CONNECTED, 1);
  established(h, fd, CS_CLIENT);
}

void conn_issue_connect(struct holder *h, const uint32_t *t) {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    holder_count_error(h, errno);
    return;
  }
  struct sockaddr_in dst = {.sin_family = AF_INET};
  dst.sin_addr.s_addr = htonl(t[2]);
  dst.sin_port = htons((uint16_t)t[3]);
  int rc = bind_source(fd, t[0], t[1]);
  if (rc == 0 && conn_reserve(h, fd) != 0) {
    errno = ENOMEM;
    rc = -1;
  }
  uint64_t start = now_mono_us();
  if (rc == 0) rc = connect(fd, (struct sockaddr *)&dst, sizeof dst);
  if (rc != 0 && errno != EINPROGRESS) {
    holder_count_error(h, errno);
    close(fd);
    return;
  }
  struct conn *c = &h->conns[fd];
  c->state = CS_CONNECTING;
  c->u.start_us = start;
  STAT_ADD(h, ST_PENDING, 1);
  struct epoll_event ev = {.events = rc == 0 ? EPOLLIN : EPOLLOUT, .data.fd = fd};
  if (epoll_ctl(h->epfd, EPOLL_CTL_ADD, fd, &ev) != 0) {
    holder_count_error(h, errno);
    STAT_SUB(h, ST_PENDING, 1);
    memset(c, 0, sizeof *c);
    close(fd);
    return;
  }
  if (rc == 0) {
    STAT_SUB(h, ST_PENDING, 1);
    connect_done(h, fd);
  }
  loop_arm_tick(h);
}

static void on_connect_ready(struct holder *h, int fd) {
  int err = 0;
  socklen_t len = sizeof err;
  if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0) err = errno;
  if (err == 0) {
    struct epoll_event ev = {.events = EPOLLIN, .data.fd = fd};
    if (epoll_ctl(h->epfd, EPOLL_CTL_MOD, fd, &ev) != 0) err = errno;
  }
  STAT_SUB(h, ST_PENDING, 1);
  if (err != 0) {
    holder_count_error(h, err);
    memset(&h->conns[fd], 0, sizeof h->conns[fd]);
    close(fd);
    return;
  }
  connect_done(h, fd);
}

void conn_expire_connects(struct holder *h, uint64_t now) {
  if (h->connect_timeout_us == 0 || STAT_GET(h, ST_PENDING) == 0) return;
  for (int fd = 0; fd <= h->max_fd && fd < h->conns_cap; fd++) {
    struct conn *c = &h->conns[fd];
    if (c->state == CS_CONNECTING && now - c->u.start_us >= h->connect_timeout_us) {
      holder_count_error(h, ETIMEDOUT);
      conn_close(h, fd, CR_TIMEOUT);
    }
  }
}

/* ---- frames ---- */

/* A complete header arrived on an accepted connection. Returns a close reason or -1;
 * appends the answer to out. */
static int server_header(struct conn *c, uint8_t *out, size_t *out_len) {
  uint8_t *hdr = c->u.hdr;
  uint16_t len = frame_length(hdr);
  if (hdr[1] != 0) return CR_PROTOCOL;
  if (hdr[0] == FRAME_PING && len == 0) {
    memcpy(out + *out_len, hdr, FRAME_HEADER_BYTES);
    out[*out_len] = FRAME_PONG;
    *out_len += FRAME_HEADER_BYTES;
    return -1;
  }
  if (hdr[0] == FRAME_ECHO) {
    memcpy(out + *out_len, hdr, FRAME_HEADER_BYTES);
    *out_len += FRAME_HEADER_BYTES;
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
  uint64_t now = now_real_us();
  uint64_t sent = frame_time_us(hdr);
  uint64_t elapsed = now > sent ? now - sent : 0;
  if (hdr[1] != 0) return CR_PROTOCOL;
  if (hdr[0] == FRAME_PONG && len == 0) {
    STAT_ADD(h, ST_PONGS_RECEIVED, 1);
    samples_push(h, &h->rtt_us, elapsed);
    if (h->ping_gen != 0 && frame_seq(hdr) == h->ping_seq && c->ping_gen != h->ping_gen) {
      c->ping_gen = h->ping_gen;
      STAT_ADD(h, ST_VERIFIED, 1);
    }
    return -1;
  }
  if (hdr[0] == FRAME_BROADCAST) {
    STAT_ADD(h, ST_BROADCASTS_RECEIVED, 1);
    samples_push(h, &h->broadcast_us, elapsed);
    c->remaining = len;
    c->mode = len ? PM_SKIP : PM_HEADER;
    return -1;
  }
  return CR_PROTOCOL;
}

/* Feeds n received bytes through the connection's frame state. Every input byte
 * produces at most one output byte, so out (the size of in) cannot overflow. */
static int parse(struct holder *h, struct conn *c, const uint8_t *p, size_t n, size_t *out_len) {
  while (n > 0) {
    if (c->mode != PM_HEADER) {
      size_t take = n < c->remaining ? n : c->remaining;
      if (c->mode == PM_ECHO) {
        memcpy(h->out + *out_len, p, take);
        *out_len += take;
      }
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
    int reason = c->state == CS_SERVER ? server_header(c, h->out, out_len) : client_header(h, c);
    if (reason >= 0) return reason;
  }
  return -1;
}

static void on_readable(struct holder *h, int fd) {
  ssize_t n = recv(fd, h->in, SCRATCH_BYTES, 0);
  if (n == 0) {
    conn_close(h, fd, CR_PEER);
    return;
  }
  if (n < 0) {
    if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) conn_close(h, fd, CR_RESET);
    return;
  }
  STAT_ADD(h, ST_BYTES_IN, (size_t)n);
  size_t out_len = 0;
  int reason = parse(h, &h->conns[fd], h->in, (size_t)n, &out_len);
  if (out_len > 0 && write_all_or_close(h, fd, h->out, out_len) != 0) return;
  if (reason >= 0) conn_close(h, fd, reason);
}

void conn_on_event(struct holder *h, int fd, uint32_t events) {
  if (fd >= h->conns_cap) return;
  switch (h->conns[fd].state) {
    case CS_LISTEN:
      on_acceptable(h, fd);
      break;
    case CS_CONNECTING:
      on_connect_ready(h, fd);
      break;
    case CS_CLIENT:
    case CS_SERVER:
      if (events & (EPOLLIN | EPOLLERR | EPOLLHUP)) on_readable(h, fd);
      break;
    default:
      break;
  }
}

/* ---- commands over all connections ---- */

int64_t conn_ping_all(struct holder *h, uint32_t seq) {
  uint8_t frame[FRAME_HEADER_BYTES];
  int64_t sent = 0;
  h->ping_seq = seq;
  h->ping_gen = h->ping_gen + 1 ? h->ping_gen + 1 : 1;
  STAT_SET(h, ST_VERIFIED, 0);
  for (int fd = 0; fd <= h->max_fd && fd < h->conns_cap; fd++) {
    if (h->conns[fd].state != CS_CLIENT) continue;
    frame_header_write(frame, FRAME_PING, 0, seq, now_real_us());
    if (write_all_or_close(h, fd, frame, sizeof frame) == 0) sent++;
  }
  STAT_ADD(h, ST_PINGS_SENT, sent);
  return sent;
}

int64_t conn_broadcast(struct holder *h, uint32_t seq, const uint8_t *payload, size_t len) {
  size_t total = FRAME_HEADER_BYTES + len;
  uint8_t *frame = total <= SCRATCH_BYTES ? h->out : malloc(total);
  int64_t sent = 0;
  if (!frame) return -ENOMEM;
  frame_header_write(frame, FRAME_BROADCAST, (uint16_t)len, seq, now_real_us());
  if (len) memcpy(frame + FRAME_HEADER_BYTES, payload, len);
  for (int fd = 0; fd <= h->max_fd && fd < h->conns_cap; fd++) {
    if (h->conns[fd].state != CS_SERVER) continue;
    if (write_all_or_close(h, fd, frame, total) == 0) sent++;
  }
  if (frame != h->out) free(frame);
  STAT_ADD(h, ST_BROADCASTS_SENT, sent);
  return sent;
}

void conn_close_all(struct holder *h) {
  for (int fd = 0; fd <= h->max_fd && fd < h->conns_cap; fd++) {
    struct conn *c = &h->conns[fd];
    if (c->state == CS_LISTEN) {
      memset(c, 0, sizeof *c);
      close(fd);
      STAT_SUB(h, ST_LISTENERS, 1);
    } else if (c->state != CS_FREE) {
      conn_close(h, fd, CR_LOCAL);
    }
  }
  h->accept_paused = 0;
}
