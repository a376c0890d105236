/* Target "frames-conn": the connection state machine through real sockets. Bytes are
 * written to the peer end in the generated splits and conn_on_event() runs the holder's
 * own read path (recv into the scratch buffer, frames_parse, the all-or-nothing answer
 * write, the close by reason); the answer is read back from the peer and compared with
 * the model, along with the holder's counters.
 *
 * Why call conn_on_event() on this thread rather than start the holder's thread and
 * let epoll drive it: the loop thread would merge and split reads as it pleases, so a
 * mismatch could not be tied to one read, and a failure could not be replayed from its
 * seed. Called here, a socketpair read is exactly one write (unix stream sockets hand a
 * whole queued write to one recv), so the per-read bound is checked on the real path;
 * the TCP cases go through the holder's real accept() and connect() paths and let the
 * kernel choose the reads, checking the bound per recv from the byte counters. The loop
 * itself (commands, timer, epoll) is not under test here: test/engine covers it. */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "frames.h"

#define MAX_READS 4096
#define WAIT_MS 5000 /* only a hang takes this long; a loaded CI machine may take seconds */

static struct holder h;
static int holder_lfd = -1, peer_lfd = -1;
static uint16_t holder_port, peer_port;
static struct stream st;
static struct model md;
static size_t reads[MAX_READS];

/* One connection under test: hfd is the holder's end, pfd the harness's. */
struct link {
  int hfd, pfd, tcp;
  enum side side;
  size_t sent, consumed; /* stream bytes written by the peer, and read by the holder */
  int closed, eof;
  uint8_t *got; /* answer bytes the peer received */
  size_t got_len, got_cap;
  uint64_t base[ST_COUNT]; /* the holder's counters when the stream started */
};

static uint64_t delta(const struct link *l, int stat) { return STAT_GET(&h, stat) - l->base[stat]; }

static int listen_loopback(uint16_t *port) {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
  socklen_t len = sizeof sa;
  if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof sa) != 0 || listen(fd, 16) != 0 ||
      getsockname(fd, (struct sockaddr *)&sa, &len) != 0)
    return -1;
  *port = ntohs(sa.sin_port);
  return fd;
}

static int setup(void) {
  int rc = holder_init(&h, &conn_io, 0, 1024);
  if (rc != 0) return rc;
  proto_configure(&h, 0); /* connlab frames */
  /* Port 0: the kernel picks a free loopback port, so runs never collide. */
  holder_lfd = listen_loopback(&holder_port);
  peer_lfd = listen_loopback(&peer_port);
  if (holder_lfd < 0 || peer_lfd < 0) return errno;
  fcntl(holder_lfd, F_SETFL, O_NONBLOCK);
  if (conn_reserve(&h, holder_lfd) != 0) return ENOMEM;
  h.conns[holder_lfd].state = CS_LISTEN; /* as loop.c's add_listener does */
  STAT_ADD(&h, ST_LISTENERS, 1);
  return 0;
}

static void teardown(void) {
  holder_free(&h); /* closes the listener and anything left open */
  if (peer_lfd >= 0) close(peer_lfd);
  stream_free(&st);
  model_free(&md);
}

static void wait_for(int fd, short events, const char *what) {
  struct pollfd p = {.fd = fd, .events = events};
  int rc;
  do rc = poll(&p, 1, WAIT_MS);
  while (rc < 0 && errno == EINTR);
  FUZZ_CHECK(rc == 1, "nothing to %s within %d ms", what, WAIT_MS);
}

/* The one holder descriptor in `state` (cases leave none open behind them). */
static int find_conn(int state, int also) {
  int found = -1;
  for (int fd = 0; fd <= h.max_fd && fd < h.conns_cap; fd++) {
    if (fd == holder_lfd || (h.conns[fd].state != state && h.conns[fd].state != also)) continue;
    FUZZ_CHECK(found < 0, "two holder connections in state %d: %d and %d", state, found, fd);
    found = fd;
  }
  FUZZ_CHECK(found >= 0, "no holder connection in state %d", state);
  return found;
}

/* Without it Nagle holds a small write back until the holder's delayed ACK (~40 ms). */
static void no_delay(int fd) {
  int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
}

static void open_pair(struct link *l) {
  int sv[2];
  FUZZ_CHECK(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv) == 0, "socketpair: %d", errno);
  l->hfd = sv[0];
  l->pfd = sv[1];
  FUZZ_CHECK(conn_reserve(&h, l->hfd) == 0, "conn_reserve(%d)", l->hfd);
  h.conns[l->hfd].state = l->side == SIDE_SERVER ? CS_SERVER : CS_CLIENT;
  STAT_ADD(&h, ST_ESTABLISHED, 1);
}

/* Server side: the peer connects, the holder's accept path takes it. */
static void open_tcp_server(struct link *l) {
  uint64_t accepted = STAT_GET(&h, ST_ACCEPTED);
  l->pfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons(holder_port)};
  sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  FUZZ_CHECK(connect(l->pfd, (struct sockaddr *)&sa, sizeof sa) == 0, "connect to the holder: %d", errno);
  fcntl(l->pfd, F_SETFL, O_NONBLOCK);
  no_delay(l->pfd);
  conn_on_event(&h, holder_lfd, EPOLLIN);
  FUZZ_CHECK(STAT_GET(&h, ST_ACCEPTED) == accepted + 1, "the holder accepted %llu",
             (unsigned long long)(STAT_GET(&h, ST_ACCEPTED) - accepted));
  l->hfd = find_conn(CS_SERVER, CS_SERVER);
}

/* Client side: the holder's connect path reaches the harness's listener. */
static void open_tcp_client(struct link *l) {
  uint64_t connected = STAT_GET(&h, ST_CONNECTED);
  uint32_t tuple[4] = {0, 0, INADDR_LOOPBACK, peer_port};
  conn_issue_connect(&h, tuple);
  l->hfd = find_conn(CS_CONNECTING, CS_CLIENT);
  wait_for(peer_lfd, POLLIN, "accept");
  l->pfd = accept4(peer_lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
  FUZZ_CHECK(l->pfd >= 0, "accept: %d", errno);
  no_delay(l->pfd);
  if (h.conns[l->hfd].state == CS_CONNECTING) {
    wait_for(l->hfd, POLLOUT, "connect");
    conn_on_event(&h, l->hfd, EPOLLOUT);
  }
  FUZZ_CHECK(h.conns[l->hfd].state == CS_CLIENT, "state %d after connect", h.conns[l->hfd].state);
  FUZZ_CHECK(STAT_GET(&h, ST_CONNECTED) == connected + 1, "connected did not count");
}

/* Reads whatever the holder sent the peer, without waiting. */
static void drain(struct link *l) {
  while (!l->eof) {
    if (l->got_cap - l->got_len < SCRATCH_BYTES) {
      l->got_cap = l->got_cap * 2 + 2 * SCRATCH_BYTES;
      l->got = realloc(l->got, l->got_cap);
      FUZZ_CHECK(l->got != NULL, "out of memory");
    }
    ssize_t n = recv(l->pfd, l->got + l->got_len, l->got_cap - l->got_len, MSG_DONTWAIT);
    /* A TCP close with input still unread sends RST, not FIN (the holder stops reading
     * at a protocol error; RFC 1122 4.2.2.13): the peer's EOF reads as ECONNRESET. */
    if (n == 0 || (n < 0 && errno == ECONNRESET && l->tcp && l->closed)) l->eof = 1;
    if (n <= 0) {
      FUZZ_CHECK(l->eof || errno == EAGAIN || errno == EWOULDBLOCK, "peer recv: errno %d", errno);
      return;
    }
    l->got_len += (size_t)n;
  }
}

/* A client gets the round's PING before any stream: conn_ping_all's frame on the wire. */
static uint32_t ping_round(struct rng *r, struct link *l) {
  uint32_t seq = (uint32_t)rng_next(r);
  FUZZ_CHECK(conn_ping_all(&h, seq) == 1, "pingAll reached another connection than ours");
  if (l->tcp) wait_for(l->pfd, POLLIN, "read the PING");
  uint8_t ping[FRAME_HEADER_BYTES + 1];
  ssize_t n = recv(l->pfd, ping, sizeof ping, MSG_DONTWAIT);
  FUZZ_CHECK(n == FRAME_HEADER_BYTES, "the PING is %zd bytes", n);
  FUZZ_CHECK(ping[0] == FRAME_PING && ping[1] == 0 && frame_length(ping) == 0 && frame_seq(ping) == seq,
             "malformed PING");
  return seq;
}

/* Everything the model says must hold once the holder has read `consumed` bytes. */
static void check(struct link *l, int exact) {
  size_t k = model_stop(&md, l->consumed);
  int closes = md.close_at <= l->consumed;
  FUZZ_CHECK(l->closed == closes, "after %zu bytes the holder %s, the model closes at %zu", l->consumed,
             l->closed ? "closed" : "kept it open", md.close_at);
  FUZZ_CHECK(delta(l, ST_BYTES_OUT) == md.due[k], "after %zu bytes the holder sent %llu, model %u", l->consumed,
             (unsigned long long)delta(l, ST_BYTES_OUT), md.due[k]);
  FUZZ_CHECK(exact ? l->got_len == md.due[k] : l->got_len <= md.due[k], "the peer got %zu answer bytes, model %u",
             l->got_len, md.due[k]);
  FUZZ_CHECK(l->got_len == 0 || memcmp(l->got, md.answer, l->got_len) == 0, "the answer differs within its first %zu bytes", l->got_len);
  FUZZ_CHECK(delta(l, ST_PONGS_RECEIVED) == md.pongs[k], "pongs %llu, model %u",
             (unsigned long long)delta(l, ST_PONGS_RECEIVED), md.pongs[k]);
  FUZZ_CHECK(delta(l, ST_BROADCASTS_RECEIVED) == md.broadcasts[k], "broadcasts %llu, model %u",
             (unsigned long long)delta(l, ST_BROADCASTS_RECEIVED), md.broadcasts[k]);
  FUZZ_CHECK(l->closed || STAT_GET(&h, ST_VERIFIED) == md.verified[k], "verified %llu, model %u",
             (unsigned long long)STAT_GET(&h, ST_VERIFIED), md.verified[k]);
  FUZZ_CHECK(delta(l, ST_CLOSED_PROTOCOL) == (uint64_t)closes, "protocol closes %llu",
             (unsigned long long)delta(l, ST_CLOSED_PROTOCOL));
}

/* One readiness event on the holder's end; returns the bytes it read. */
static size_t event(struct link *l) {
  uint64_t in = STAT_GET(&h, ST_BYTES_IN), out = STAT_GET(&h, ST_BYTES_OUT);
  conn_on_event(&h, l->hfd, EPOLLIN);
  size_t n_in = (size_t)(STAT_GET(&h, ST_BYTES_IN) - in), n_out = (size_t)(STAT_GET(&h, ST_BYTES_OUT) - out);
  FUZZ_CHECK(n_out <= n_in + ANSWER_SLACK_BYTES, "a read of %zu bytes was answered with %zu", n_in, n_out);
  l->consumed += n_in;
  l->closed = h.conns[l->hfd].state == CS_FREE;
  return n_in;
}

/* The peer writes n more stream bytes and the holder reads them. On a socketpair the
 * holder's one read is the peer's one write; over TCP it reads until it has them all. */
static void feed(struct link *l, size_t n) {
  size_t end = l->sent + n;
  while (!l->closed && (l->sent < end || l->consumed < l->sent)) {
    if (l->sent < end) {
      ssize_t w = send(l->pfd, st.p + l->sent, end - l->sent, MSG_DONTWAIT | MSG_NOSIGNAL);
      FUZZ_CHECK(w > 0 || (w < 0 && errno == EAGAIN && l->tcp), "peer send: %zd (errno %d)", w, errno);
      if (w > 0) l->sent += (size_t)w;
      FUZZ_CHECK(l->tcp || l->sent == end, "a socketpair write of %zu bytes was short", n);
    }
    if (l->consumed < l->sent) {
      if (l->tcp) wait_for(l->hfd, POLLIN, "read on the holder's end");
      size_t got = event(l);
      FUZZ_CHECK(l->tcp || l->closed || got == n, "a socketpair read took %zu of %zu bytes", got, n);
    }
    drain(l);
    check(l, !l->tcp);
  }
}

/* Ends the link as the peer (EOF) or the holder (close) would, then checks the totals:
 * one close with the right reason, the whole answer, nothing left established. */
static void finish(struct rng *r, struct link *l) {
  int reason = CR_PROTOCOL;
  if (!l->closed) {
    reason = rng_one_in(r, 2) ? CR_PEER : CR_LOCAL;
    if (reason == CR_PEER) {
      shutdown(l->pfd, SHUT_WR);
      if (l->tcp) wait_for(l->hfd, POLLIN, "see the peer's FIN");
      conn_on_event(&h, l->hfd, EPOLLIN);
    } else {
      conn_close(&h, l->hfd, CR_LOCAL);
    }
    FUZZ_CHECK(h.conns[l->hfd].state == CS_FREE, "still open after a %s close", reason == CR_PEER ? "peer" : "local");
  }
  while (!l->eof) {
    wait_for(l->pfd, POLLIN, "read the answer and EOF");
    drain(l);
  }
  size_t k = model_stop(&md, l->consumed);
  FUZZ_CHECK(l->got_len == md.due[k], "the peer got %zu answer bytes in all, model %u", l->got_len, md.due[k]);
  FUZZ_CHECK(l->got_len == 0 || memcmp(l->got, md.answer, l->got_len) == 0, "the answer differs");
  for (int i = ST_CLOSED_PEER; i <= ST_CLOSED_TIMEOUT; i++) {
    FUZZ_CHECK(delta(l, i) == (uint64_t)(i == reason), "close counter %d moved by %llu, expected reason %d", i,
               (unsigned long long)delta(l, i), reason);
  }
  FUZZ_CHECK(delta(l, ST_BYTES_IN) == l->consumed, "bytesIn %llu, consumed %zu",
             (unsigned long long)delta(l, ST_BYTES_IN), l->consumed);
  FUZZ_CHECK(STAT_GET(&h, ST_ESTABLISHED) == 0 && STAT_GET(&h, ST_VERIFIED) == 0, "established %llu verified %llu",
             (unsigned long long)STAT_GET(&h, ST_ESTABLISHED), (unsigned long long)STAT_GET(&h, ST_VERIFIED));
  close(l->pfd);
  free(l->got);
}

/* Opens a link, generates a stream (attack_cut > 0: the issue-8 attack cut there),
 * feeds it in generated splits, and finishes it. */
static void run(struct rng *r, enum side side, int tcp, size_t attack_cut) {
  struct link l = {.side = side, .tcp = tcp};
  if (!tcp) open_pair(&l);
  else if (side == SIDE_SERVER) open_tcp_server(&l);
  else open_tcp_client(&l);
  uint32_t ping_seq = side == SIDE_CLIENT ? ping_round(r, &l) : 0;
  stream_clear(&st);
  size_t n = 0;
  if (attack_cut) { /* exactly the reads of issue 8: up to the cut, then one full read */
    size_t at = gen_attack(r, &st, attack_cut);
    reads[n++] = at;
    reads[n++] = SCRATCH_BYTES;
    if (st.len > at + SCRATCH_BYTES) reads[n++] = st.len - at - SCRATCH_BYTES;
  } else {
    gen_any(r, &st, side, ping_seq);
  }
  model_build(&md, &st, side, ping_seq);
  if (!attack_cut) n = gen_reads(r, &st, reads, MAX_READS);
  for (int i = 0; i < ST_COUNT; i++) l.base[i] = STAT_GET(&h, i);
  for (size_t i = 0; i < n && !l.closed; i++) feed(&l, reads[i]);
  finish(r, &l);
}

static void case_pair_server(struct rng *r) { run(r, SIDE_SERVER, 0, 0); }
static void case_pair_client(struct rng *r) { run(r, SIDE_CLIENT, 0, 0); }
static void case_tcp_server(struct rng *r) { run(r, SIDE_SERVER, 1, 0); }
static void case_tcp_client(struct rng *r) { run(r, SIDE_CLIENT, 1, 0); }
static void case_pair_attack(struct rng *r) { run(r, SIDE_SERVER, 0, FRAME_HEADER_BYTES - 1); }
static void case_tcp_attack(struct rng *r) { run(r, SIDE_SERVER, 1, rng_range(r, 1, FRAME_HEADER_BYTES - 1)); }

static const struct fuzz_case cases[] = {
    {"socketpair-server", 3, case_pair_server},
    {"socketpair-client", 2, case_pair_client},
    {"socketpair-attack", 1, case_pair_attack},
    {"tcp-server", 2, case_tcp_server},
    {"tcp-client", 1, case_tcp_client},
    {"tcp-attack", 1, case_tcp_attack},
};

const struct fuzz_target frames_conn_target = {
    .name = "frames-conn",
    .about = "conn_on_event(): accept, connect, read, answer and close over socketpairs and loopback TCP",
    .setup = setup,
    .teardown = teardown,
    .cases = cases,
    .n_cases = sizeof cases / sizeof cases[0],
};
