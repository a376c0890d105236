/* Per-connection I/O on the loop thread: accept, connect, reads and writes, closes by
 * reason, and the commands over all connections. The loop reaches this file only through
 * conn_io (the table at the end, handed to holder_init); what the bytes mean is the
 * protocol's (h->pops: proto/frames.c for connlab frames, proto/client.c for the client
 * protocols), and TLS sits between through h->tls. Calls down only: loop_arm_tick, stats,
 * clock. One file of ~450 lines on purpose: accept, connect and the commands all close
 * through conn_close and are all dispatched from conn_on_event, so splitting them would
 * make files that call each other back. Writes are all-or-nothing: a write that would block
 * or is short closes the connection as "slow", so no output is ever queued in user
 * space and every frame starts on a frame boundary. What the kernel may queue is
 * capped per socket (conn_apply_limits), so "would block" comes early and a peer
 * that stops taking data is aborted by the kernel, also counted "slow". Input is
 * parsed from one shared scratch buffer; the only per-connection parse state is the
 * 16-byte header buffer and a remaining-payload counter. */
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <netinet/tcp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include "holder.h"

/* A connection this holder opened that speaks a protocol of proto/ rather than frames. */
#define ACCEPT_BURST 4096 /* per readiness event, so one busy listener cannot starve the rest */
#define ACCEPT_BACKOFF_US 100000

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

/* Caps what the kernel keeps for one socket, so a peer that never reads costs a
 * bounded amount of kernel memory and no per-connection timer:
 * - SO_SNDBUF bounds everything queued (unacknowledged + unsent, with the kernel's
 *   per-buffer overhead): the kernel doubles the value for that overhead and stops
 *   autotuning the socket, which otherwise grows to tcp_wmem's maximum (4 MiB here).
 * - TCP_NOTSENT_LOWAT bounds the part not yet sent: past it the next write would block
 *   (the socket is not writable), so the holder closes the connection "slow" there,
 *   whatever SO_SNDBUF allows for data in flight.
 * - TCP_USER_TIMEOUT bounds time: queued data that the peer has not taken for that long
 *   (no ACK, or a zero window whose probes it ACKs: Linux >= 5.11) makes the kernel
 *   abort the connection with ETIMEDOUT, which closes it "slow". It never fires on an
 *   idle connection (nothing queued) and needs no timer of ours.
 * The kernel checks both sizes when it starts a new segment of the queue (up to 64 KiB,
 * the loopback and TSO maximum), not byte by byte, so a queue can pass them by up to one
 * segment: whole queue < 2 * send_buffer_bytes + 64 KiB (README, Slow peers).
 * A listener's values are inherited by every socket accept() returns (the kernel
 * clones the listener), so they are set once per listener, not per accept. */
int conn_apply_limits(const struct holder *h, int fd) {
  const struct socket_limits *l = &h->limits;
  int sndbuf = (int)l->send_buffer_bytes, lowat = (int)l->notsent_lowat_bytes, stall = (int)l->stall_timeout_ms;
  if (sndbuf && setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof sndbuf) != 0) return -1;
  if (lowat && setsockopt(fd, IPPROTO_TCP, TCP_NOTSENT_LOWAT, &lowat, sizeof lowat) != 0) return -1;
  if (stall && setsockopt(fd, IPPROTO_TCP, TCP_USER_TIMEOUT, &stall, sizeof stall) != 0) return -1;
  return 0;
}

/* The close reason for a failed read or write. ETIMEDOUT is the kernel giving up on the
 * peer: with keepalive probes on (a tcp client's --keepalive) and nothing of ours queued,
 * the probes went unanswered; otherwise the peer took none of our queued data for
 * stall_timeout_ms, the same verdict as a full send buffer. */
static int failure_reason(struct holder *h, int err) {
  if (err == ETIMEDOUT) return h->proto.tcp_keepalive_s != 0 ? CR_KEEPALIVE : CR_SLOW;
  return err == EAGAIN || err == EWOULDBLOCK ? CR_SLOW : CR_RESET;
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
    STAT_ADD(h, ST_CLOSED_PENDING, 1); /* never connected: the books' `connected` leaves it out */
  } else if (c->state == CS_CLIENT || c->state == CS_SERVER) {
    STAT_SUB(h, ST_ESTABLISHED, 1);
    if (c->state == CS_CLIENT && h->ping_gen != 0 && c->ping_gen == h->ping_gen) {
      STAT_SUB(h, ST_VERIFIED, 1);
    }
    if (c->state == CS_CLIENT) h->pops->on_close(h, fd, reason);
  } else {
    return;
  }
  if (h->tls) h->tls->end(h, fd);
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
  conn_close(h, fd, n >= 0 ? CR_SLOW : failure_reason(h, errno));
  return -1;
}

int conn_send(struct holder *h, int fd, const uint8_t *buf, size_t len) {
  return USES_TLS(h, &h->conns[fd]) ? h->tls->send(h, fd, buf, len) : write_all_or_close(h, fd, buf, len);
}

/* ---- accept ---- */

static void set_listeners(struct holder *h, int op) {
  for (int fd = 0; fd <= h->max_fd && fd < h->conns_cap; fd++) {
    if (h->conns[fd].state != CS_LISTEN) continue;
    struct epoll_event ev = {.events = EPOLLIN, .data.fd = fd};
    epoll_ctl(h->epfd, op, fd, &ev);
  }
}

/* Out of descriptors at accept(): stop watching the listeners (a level-triggered
 * listener with a full queue would otherwise spin) and look again after a pause. */
static void pause_accept(struct holder *h) {
  if (h->accept_paused) return;
  set_listeners(h, EPOLL_CTL_DEL);
  h->accept_paused = 1;
  h->accept_resume_us = clock_mono_us() + ACCEPT_BACKOFF_US;
  STAT_ADD(h, ST_ACCEPT_BACKOFFS, 1);
  loop_arm_tick(h);
}

static int64_t add_listener(struct holder *h, int fd) {
  if (conn_apply_limits(h, fd) != 0) return -errno; /* accepted sockets inherit them */
  if (conn_reserve(h, fd) != 0) return -ENOMEM;
  struct epoll_event ev = {.events = EPOLLIN, .data.fd = fd};
  if (!h->accept_paused && epoll_ctl(h->epfd, EPOLL_CTL_ADD, fd, &ev) != 0) return -errno;
  h->conns[fd].state = CS_LISTEN;
  STAT_ADD(h, ST_LISTENERS, 1);
  return 0;
}

static void on_acceptable(struct holder *h, int lfd) {
  for (int i = 0; i < ACCEPT_BURST; i++) {
    int fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0) {
      int err = errno;
      if (err == EAGAIN || err == EWOULDBLOCK) return;
      if (err == EINTR || err == ECONNABORTED) continue;
      stats_error(h, err);
      if (err == EMFILE || err == ENFILE || err == ENOBUFS || err == ENOMEM) pause_accept(h);
      return;
    }
    struct epoll_event ev = {.events = EPOLLIN, .data.fd = fd};
    if (conn_reserve(h, fd) != 0 || epoll_ctl(h->epfd, EPOLL_CTL_ADD, fd, &ev) != 0) {
      stats_error(h, errno ? errno : ENOMEM);
      close(fd);
      continue;
    }
    STAT_ADD(h, ST_ACCEPTED, 1);
    h->busy_last_turn = 1;
    established(h, fd, CS_SERVER);
    if (USES_TLS(h, &h->conns[fd])) h->tls->start(h, fd); /* the protocol opens once the handshake is done */
    else h->pops->open(h, fd);
  }
}

/* ---- connect ---- */

/* IPv6 tuples carry TUPLE_IPV6 in the port word (src/tuple/plan.ts): the source word is
 * an offset from the table's base (0: the kernel's choice), the destination word an index
 * into its destinations. IPv4 tuples carry the addresses themselves. */
#define TUPLE_IPV6 0x10000u

int holder_set_addresses6(struct holder *h, const uint8_t *table, size_t len) {
  if (len < 16 || len % 16 != 0 || len / 16 - 1 > UINT32_MAX) return EINVAL;
  uint8_t *copy = malloc(len);
  if (!copy) return ENOMEM;
  memcpy(copy, table, len);
  free(h->addr6);
  h->addr6 = copy;
  h->addr6_count = (uint32_t)(len / 16 - 1);
  return 0;
}

/* The tuple's source and destination addresses; -1 with EINVAL for an IPv6 tuple the
 * table does not cover. */
static int tuple_addresses(const struct holder *h, const uint32_t *t, struct sockaddr_storage *src, struct sockaddr_storage *dst, socklen_t *len) {
  memset(src, 0, sizeof *src);
  memset(dst, 0, sizeof *dst);
  if (!(t[3] & TUPLE_IPV6)) {
    struct sockaddr_in *s = (struct sockaddr_in *)src, *d = (struct sockaddr_in *)dst;
    s->sin_family = d->sin_family = AF_INET;
    s->sin_addr.s_addr = htonl(t[0]);
    s->sin_port = htons((uint16_t)t[1]);
    d->sin_addr.s_addr = htonl(t[2]);
    d->sin_port = htons((uint16_t)t[3]);
    *len = sizeof *s;
    return 0;
  }
  if (!h->addr6 || t[2] >= h->addr6_count) {
    errno = EINVAL;
    return -1;
  }
  struct sockaddr_in6 *s = (struct sockaddr_in6 *)src, *d = (struct sockaddr_in6 *)dst;
  s->sin6_family = d->sin6_family = AF_INET6;
  uint64_t carry = t[0]; /* base + offset, 128-bit big-endian; offset 0 leaves :: (any) */
  for (int i = 15; i >= 0 && t[0]; i--) {
    carry += h->addr6[i];
    s->sin6_addr.s6_addr[i] = (uint8_t)carry;
    carry >>= 8;
  }
  s->sin6_port = htons((uint16_t)t[1]);
  memcpy(d->sin6_addr.s6_addr, h->addr6 + 16 * (1 + (size_t)t[2]), 16);
  d->sin6_port = htons((uint16_t)t[3]);
  *len = sizeof *s;
  return 0;
}

static int bind_source(int fd, const struct sockaddr_storage *src, socklen_t len, uint32_t ip, uint32_t port) {
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
  /* An IPv6 source from a prefix routed to this host (ip -6 route add local P dev lo)
   * is not an address of any interface, and IPv6 bind() checks that, unlike IPv4's. */
  if (ip != 0 && src->ss_family == AF_INET6 && setsockopt(fd, IPPROTO_IP, IP_FREEBIND, &one, sizeof one) != 0) return -1;
  return bind(fd, (const struct sockaddr *)src, len);
}

static void connect_done(struct holder *h, int fd) {
  struct conn *c = &h->conns[fd];
  uint8_t planned = c->planned;
  stats_sample(h, &h->connect_us, clock_mono_us() - c->u.start_us);
  memset(c, 0, sizeof *c);
  c->planned = planned;
  STAT_ADD(h, ST_CONNECTED, 1);
  established(h, fd, CS_CLIENT);
  if (USES_TLS(h, c)) h->tls->start(h, fd); /* the protocol opens once the handshake is done */
  else h->pops->open(h, fd);                /* closes fd itself when it cannot start */
}

/* A connect that failed: counted by errno (never as a close: it never connected) and closed. */
static void connect_failed(struct holder *h, int fd, int err) {
  stats_error(h, err);
  STAT_SUB(h, ST_PENDING, 1);
  memset(&h->conns[fd], 0, sizeof h->conns[fd]);
  close(fd);
}

/* The handshake ended, one way or the other (`events` as epoll or poll reported them:
 * POLLOUT/POLLERR/POLLHUP equal EPOLL's): the socket is watched for EPOLLIN through `op`
 * (EPOLL_CTL_MOD when it was watched for EPOLLOUT, EPOLL_CTL_ADD when it was in no set
 * yet) and the protocol opens, or the connect is counted failed and closed. A failed
 * connect always raises EPOLLERR (the kernel sets sk_err, which is what SO_ERROR reads
 * and clears; a reset also raises EPOLLHUP), so only then is the error asked for: one
 * syscall fewer on every connect of a ramp. */
static void connect_finished(struct holder *h, int fd, uint32_t events, int op) {
  int err = 0;
  socklen_t len = sizeof err;
  if ((events & (EPOLLERR | EPOLLHUP)) && getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0) err = errno;
  if (err == 0) {
    struct epoll_event ev = {.events = EPOLLIN, .data.fd = fd};
    if (epoll_ctl(h->epfd, op, fd, &ev) != 0) err = errno;
  }
  if (err != 0) {
    connect_failed(h, fd, err);
    return;
  }
  STAT_SUB(h, ST_PENDING, 1);
  connect_done(h, fd);
}

/* socket, limits, bind, connect: the fd, now CS_CONNECTING and pending but in no epoll
 * set yet, or -1 when the tuple failed (counted, closed). */
static int start_connect(struct holder *h, const uint32_t *t) {
  struct sockaddr_storage src, dst;
  socklen_t len;
  if (tuple_addresses(h, t, &src, &dst, &len) != 0) {
    stats_error(h, errno);
    return -1;
  }
  int fd = socket(dst.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    stats_error(h, errno);
    return -1;
  }
  int rc = conn_apply_limits(h, fd);
  if (rc == 0) rc = bind_source(fd, &src, len, t[0], t[1]);
  if (rc == 0 && conn_reserve(h, fd) != 0) {
    errno = ENOMEM;
    rc = -1;
  }
  uint64_t start = clock_mono_us();
  if (rc == 0) rc = connect(fd, (struct sockaddr *)&dst, len);
  if (rc != 0 && errno != EINPROGRESS) {
    stats_error(h, errno);
    close(fd);
    return -1;
  }
  struct conn *c = &h->conns[fd];
  c->state = CS_CONNECTING;
  c->u.start_us = start;
  c->planned = (uint8_t)((t[0] ? CP_SOURCE_IP : 0) | (t[1] ? CP_SOURCE_PORT : 0));
  STAT_ADD(h, ST_PENDING, 1);
  return fd;
}

/* How many connects conn_issue_connects asks the kernel about in one poll(). */
#define CONNECT_POLL_BATCH 256

/* Starts n connects (4 u32 per tuple). A non-blocking connect() toward this host, or any
 * peer close enough, has usually finished its handshake by the time the call returns (the
 * SYN, SYN-ACK and ACK all run in softirq before it does), yet it still says EINPROGRESS.
 * So the batch asks the kernel once, with one poll() of every new socket, which are
 * done: those join the epoll set for EPOLLIN directly (connect_finished), and only the
 * rest are watched for EPOLLOUT and switched to EPOLLIN when they finish. Watching
 * everything for EPOLLOUT first cost two epoll_ctl calls and one more event per connection. */
void conn_issue_connects(struct holder *h, const uint32_t *tuples, size_t n) {
  struct pollfd fresh[CONNECT_POLL_BATCH];
  while (n > 0) {
    size_t batch = n < CONNECT_POLL_BATCH ? n : CONNECT_POLL_BATCH, count = 0;
    for (size_t i = 0; i < batch; i++) {
      int fd = start_connect(h, tuples + 4 * i);
      if (fd >= 0) fresh[count++] = (struct pollfd){.fd = fd, .events = POLLOUT};
    }
    /* Without an answer (EINTR, ENOMEM), every socket is simply watched for EPOLLOUT. */
    if (count > 0 && poll(fresh, count, 0) < 0) {
      for (size_t i = 0; i < count; i++) fresh[i].revents = 0;
    }
    for (size_t i = 0; i < count; i++) {
      int fd = fresh[i].fd;
      if (fresh[i].revents != 0) {
        connect_finished(h, fd, (uint16_t)fresh[i].revents, EPOLL_CTL_ADD);
        continue;
      }
      struct epoll_event ev = {.events = EPOLLOUT, .data.fd = fd};
      if (epoll_ctl(h->epfd, EPOLL_CTL_ADD, fd, &ev) != 0) connect_failed(h, fd, errno);
    }
    tuples += 4 * batch;
    n -= batch;
  }
  if (h->connect_timeout_us && STAT_GET(h, ST_PENDING) > 0) loop_arm_tick(h);
}

void conn_issue_connect(struct holder *h, const uint32_t *t) { conn_issue_connects(h, t, 1); }

static void expire_connects(struct holder *h, uint64_t now) {
  if (h->connect_timeout_us == 0 || STAT_GET(h, ST_PENDING) == 0) return;
  for (int fd = 0; fd <= h->max_fd && fd < h->conns_cap; fd++) {
    struct conn *c = &h->conns[fd];
    if (c->state != CS_CONNECTING || now - c->u.start_us < h->connect_timeout_us) continue;
    /* A handshake can finish while this thread waits for a CPU (at 2M connections on 2
     * cores a worker waited over 10 s: 324 connects counted ETIMEDOUT while the kernel
     * counted no listen overflow and no TCP timeout):
     * its EPOLLOUT is then still queued behind this tick. Ask the socket, not the clock. */
    struct pollfd ready = {.fd = fd, .events = POLLOUT};
    if (poll(&ready, 1, 0) == 1) {
      connect_finished(h, fd, (uint16_t)ready.revents, EPOLL_CTL_MOD);
      continue;
    }
    stats_error(h, ETIMEDOUT);
    conn_close(h, fd, CR_TIMEOUT);
  }
}

static void on_readable(struct holder *h, int fd) {
  ssize_t n = recv(fd, h->in, SCRATCH_BYTES, 0);
  conn_input(h, fd, n, n < 0 ? errno : 0);
}

void conn_input(struct holder *h, int fd, ssize_t n, int err) {
  if (n == 0) {
    conn_close(h, fd, h->pops->eof_reason(h, fd));
    return;
  }
  if (n < 0) {
    if (err != EAGAIN && err != EWOULDBLOCK && err != EINTR) conn_close(h, fd, failure_reason(h, err));
    return;
  }
  STAT_ADD(h, ST_BYTES_IN, (size_t)n);
  h->busy_last_turn = 1; /* more is likely on its way: a broadcast, a round of pongs */
  h->conns[fd].flags |= CF_GOT_BYTES;
  int reason = h->pops->input(h, fd, h->in, (size_t)n);
  if (reason >= 0) conn_close(h, fd, reason);
}

void conn_on_event(struct holder *h, int fd, uint32_t events) {
  if (fd >= h->conns_cap) return;
  switch (h->conns[fd].state) {
    case CS_LISTEN:
      on_acceptable(h, fd);
      break;
    case CS_CONNECTING:
      connect_finished(h, fd, events, EPOLL_CTL_MOD);
      break;
    case CS_CLIENT:
    case CS_SERVER:
      if (USES_TLS(h, &h->conns[fd])) h->tls->on_event(h, fd, events);
      else if (events & (EPOLLIN | EPOLLERR | EPOLLHUP)) on_readable(h, fd);
      break;
    default:
      break;
  }
}

/* ---- commands over all connections ---- */

int64_t conn_ping_all(struct holder *h, uint32_t seq) {
  int64_t sent = 0;
  h->ping_seq = seq;
  h->ping_gen = h->ping_gen + 1 ? h->ping_gen + 1 : 1;
  STAT_SET(h, ST_VERIFIED, 0);
  uint64_t silent = 0;
  for (int fd = 0; fd <= h->max_fd && fd < h->conns_cap; fd++) {
    if (h->conns[fd].state != CS_CLIENT) continue;
    silent += !(h->conns[fd].flags & CF_GOT_BYTES);
    if (USES_TLS(h, &h->conns[fd]) && !(h->conns[fd].flags & CF_TLS_OPEN)) { /* in the TLS handshake: tls.c pings when it is done */
      h->conns[fd].flags |= CF_TLS_PING;
      continue;
    }
    sent += h->pops->ping(h, fd) > 0;
  }
  STAT_ADD(h, ST_PINGS_SENT, sent);
  STAT_SET(h, ST_SILENT, silent);
  return sent;
}

/* Recycles up to `count` established client connections, as clients that come and go
 * do: each is reset (SO_LINGER 0, so no TIME_WAIT pins its four-tuple) and its planned
 * tuple is connected again at once through the ordinary connect path, so the
 * reconnect's latency and errors count like any other. Where the plan left the source
 * port (or address) to the kernel, the kernel chooses again: binding the port it chose
 * before can fail with EADDRINUSE, since an autobound port may be shared with other
 * sockets' connections to other destinations. A cursor that survives calls
 * spreads the recycling over the whole table. Returns how many were recycled. */
int64_t conn_churn(struct holder *h, uint32_t count) {
  int64_t recycled = 0;
  int span = h->max_fd + 1;
  if (span > h->conns_cap) span = h->conns_cap;
  for (int scanned = 0; scanned < span && recycled < count; scanned++) {
    int fd = h->churn_cursor;
    h->churn_cursor = fd + 1 >= span ? 0 : fd + 1;
    if (h->conns[fd].state != CS_CLIENT) continue;
    struct sockaddr_in src, dst;
    socklen_t src_len = sizeof src, dst_len = sizeof dst;
    if (getsockname(fd, (struct sockaddr *)&src, &src_len) != 0 || getpeername(fd, (struct sockaddr *)&dst, &dst_len) != 0 ||
        src.sin_family != AF_INET) {
      continue;
    }
    struct linger abort_close = {.l_onoff = 1, .l_linger = 0};
    setsockopt(fd, SOL_SOCKET, SO_LINGER, &abort_close, sizeof abort_close);
    uint8_t planned = h->conns[fd].planned;
    uint32_t tuple[4] = {planned & CP_SOURCE_IP ? ntohl(src.sin_addr.s_addr) : 0, planned & CP_SOURCE_PORT ? ntohs(src.sin_port) : 0,
                         ntohl(dst.sin_addr.s_addr), ntohs(dst.sin_port)};
    conn_close(h, fd, CR_CHURN);
    conn_issue_connect(h, tuple);
    recycled++;
  }
  return recycled;
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

/* ---- what the loop calls (holder.h struct io_ops) ---- */

/* The shared tick: the accept back-off and the connect timeout. Nonzero while either
 * still needs ticks; the loop disarms the timer otherwise, so an idle holder sleeps. */
static int on_tick(struct holder *h, uint64_t now) {
  if (h->accept_paused && now >= h->accept_resume_us) {
    h->accept_paused = 0;
    set_listeners(h, EPOLL_CTL_ADD);
  }
  expire_connects(h, now);
  return h->accept_paused || (h->connect_timeout_us && STAT_GET(h, ST_PENDING) > 0);
}

static int64_t on_command(struct holder *h, const struct cmd *c) {
  switch (c->type) {
    case CMD_LISTEN: return add_listener(h, c->fd);
    case CMD_PING_ALL: return conn_ping_all(h, c->seq);
    case CMD_BROADCAST: return h->pops->broadcast ? h->pops->broadcast(h, c->seq, c->payload, c->payload_len) : 0;
    case CMD_CHURN: return conn_churn(h, c->seq);
    case CMD_CLOSE_ALL: conn_close_all(h); return 0;
    default: return -EINVAL;
  }
}

/* After the loop thread has stopped: every session, socket and table. */
static void on_release(struct holder *h) {
  if (h->tls) h->tls->release(h); /* every session still open, and the context */
  for (int fd = 0; fd <= h->max_fd && fd < h->conns_cap; fd++) {
    if (h->conns[fd].state != CS_FREE) close(fd);
  }
  conns_release(h);
  if (h->pops && h->pops->release) h->pops->release(h);
}

const struct io_ops conn_io = {conn_on_event, on_tick, conn_issue_connects, on_command, on_release};
