/* The kernel's floor for connlab's broadcast: what writing one 16-byte frame to each of
 * N established loopback connections, and reading it on the other end, costs with no
 * runtime around it. P server processes and P client processes, one pair per (source
 * IP, destination port): pair k listens on 127.0.0.1:(port + k) and connects from
 * 127.77.(k / 250).(k % 250 + 1), explicit source ports from 10000 up, so no pair ever
 * searches for a free port. Every process stays under the 20,000-descriptor limit.
 *
 * Once everything is established, each server process stamps CLOCK_REALTIME once and
 * writes a BROADCAST frame (connlab's 16-byte header, native/proto/frames.c) on each of its
 * connections, as connlab's frames_broadcast (proto/frames.c) does; each client reads with epoll and keeps
 * arrival time minus the stamp (`broadcast`, what connlab's broadcast latency measures)
 * and minus its own write's time (`delivery`: the seq field carries the write's offset
 * from the stamp). The parent prints p50/p99/max of both and the total time as JSON.
 *
 *   floor N P [port] [timeout_s]     e.g. floor 100000 6 47000 120
 *
 * Bounded: every process has an alarm at timeout_s and dies with the parent
 * (PR_SET_PDEATHSIG); on any failure the parent SIGKILLs its children by PID, reaps
 * them and exits 1 with {"error": ...}. Client sockets close with SO_LINGER 0, so a run
 * leaves no TIME_WAIT behind to collide with the next one. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define FRAME_BYTES 16
#define FRAME_BROADCAST 0x42
#define FIRST_SOURCE_PORT 10000
#define MAX_PROCESSES 1000
#define FD_RESERVE 32

struct shared {
  uint64_t written_at_us[MAX_PROCESSES]; /* each server's stamp */
  uint64_t last_read_us[MAX_PROCESSES];  /* each client's last arrival */
  /* Two per connection, client k's slice at offset 2 * k * per: since the broadcast
   * stamp, and since this connection's own write. */
  uint32_t latency_us[];
};

static pid_t children[2 * MAX_PROCESSES];
static int nchildren;
static int ready_pipe[2];
static int go_pipe[2];  /* closed by the parent: servers write */
static int end_pipe[2]; /* closed by the parent: servers exit */

static uint64_t real_us(void) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

static void die_child(const char *what) {
  char c = 'E';
  fprintf(stderr, "floor: %s: %s\n", what, strerror(errno));
  if (write(ready_pipe[1], &c, 1) < 0) _exit(2);
  _exit(1);
}

static void signal_parent(char c) {
  if (write(ready_pipe[1], &c, 1) != 1) _exit(2);
}

/* Blocks until the parent closes `fd`'s write end (every child wakes at once). */
static void wait_closed(int fd) {
  char c;
  while (read(fd, &c, 1) < 0 && errno == EINTR) {
  }
}

static void child_setup(unsigned timeout_s) {
  prctl(PR_SET_PDEATHSIG, SIGKILL);
  if (getppid() == 1) _exit(1);
  alarm(timeout_s);
  close(ready_pipe[0]);
  close(go_pipe[1]);
  close(end_pipe[1]);
}

static void run_server(int k, uint32_t count, uint16_t port, struct shared *sh) {
  int one = 1;
  int lfd = socket(AF_INET, SOCK_STREAM, 0);
  struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = htons(port), .sin_addr.s_addr = htonl(0x7f000001)};
  if (lfd < 0) die_child("socket");
  setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  if (bind(lfd, (struct sockaddr *)&addr, sizeof addr) < 0) die_child("bind listener");
  if (listen(lfd, 4096) < 0) die_child("listen");
  signal_parent('L');
  int *fds = malloc(count * sizeof *fds);
  if (!fds) die_child("malloc");
  for (uint32_t i = 0; i < count; i++) {
    fds[i] = accept(lfd, NULL, NULL);
    if (fds[i] < 0) die_child("accept");
  }
  signal_parent('A');
  wait_closed(go_pipe[0]);
  uint8_t frame[FRAME_BYTES] = {FRAME_BROADCAST, 0, 0, 0, 0, 0, 0, 1};
  uint64_t t = real_us(); /* once per process, before the loop: as frames_broadcast stamps */
  for (int i = 0; i < 8; i++) frame[8 + i] = (uint8_t)(t >> (56 - 8 * i));
  sh->written_at_us[k] = t;
  for (uint32_t i = 0; i < count; i++) {
    /* The seq field carries this write's offset from the stamp (µs), so the client can
     * also tell the delivery of each frame apart from the queueing before its write. */
    uint32_t offset = (uint32_t)(real_us() - t);
    for (int b = 0; b < 4; b++) frame[4 + b] = (uint8_t)(offset >> (24 - 8 * b));
    if (write(fds[i], frame, FRAME_BYTES) != FRAME_BYTES) die_child("write");
  }
  signal_parent('W');
  wait_closed(end_pipe[0]);
  _exit(0);
}

static int connect_one(uint32_t src_ip, uint16_t *next_port, uint16_t dst_port) {
  struct linger abort_close = {.l_onoff = 1, .l_linger = 0};
  struct sockaddr_in dst = {.sin_family = AF_INET, .sin_port = htons(dst_port), .sin_addr.s_addr = htonl(0x7f000001)};
  for (;;) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0) return -1;
    setsockopt(fd, SOL_SOCKET, SO_LINGER, &abort_close, sizeof abort_close);
    struct sockaddr_in src = {.sin_family = AF_INET, .sin_port = htons((*next_port)++), .sin_addr.s_addr = htonl(src_ip)};
    if (bind(fd, (struct sockaddr *)&src, sizeof src) == 0 && connect(fd, (struct sockaddr *)&dst, sizeof dst) == 0) return fd;
    int err = errno;
    close(fd);
    /* A port someone else holds on this address (or on the wildcard): try the next one. */
    if ((err != EADDRINUSE && err != EADDRNOTAVAIL) || *next_port == 0) {
      errno = err;
      return -1;
    }
  }
}

static void run_client(int k, uint32_t count, uint16_t port, uint32_t per, struct shared *sh) {
  uint32_t src_ip = (127u << 24) | (77u << 16) | ((uint32_t)(k / 250) << 8) | (uint32_t)(k % 250 + 1);
  uint16_t next_port = FIRST_SOURCE_PORT;
  int ep = epoll_create1(0);
  if (ep < 0) die_child("epoll_create1");
  for (uint32_t i = 0; i < count; i++) {
    int fd = connect_one(src_ip, &next_port, port);
    if (fd < 0) die_child("connect");
    /* One-shot: each connection reports once and needs no EPOLL_CTL_DEL afterwards. */
    struct epoll_event ev = {.events = EPOLLIN | EPOLLONESHOT, .data.u64 = ((uint64_t)i << 32) | (uint32_t)fd};
    if (epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev) < 0) die_child("epoll_ctl");
  }
  signal_parent('C');
  uint32_t *lat = sh->latency_us + 2 * (size_t)k * per;
  struct epoll_event events[512];
  uint32_t got = 0;
  while (got < count) {
    int n = epoll_wait(ep, events, 512, -1);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) die_child("epoll_wait");
    for (int e = 0; e < n; e++) {
      int fd = (int)(uint32_t)events[e].data.u64;
      uint32_t i = (uint32_t)(events[e].data.u64 >> 32);
      uint8_t frame[FRAME_BYTES];
      ssize_t r = read(fd, frame, FRAME_BYTES);
      if (r != FRAME_BYTES || frame[0] != FRAME_BROADCAST) {
        errno = r < 0 ? errno : EPROTO;
        die_child("read");
      }
      uint64_t now = real_us(), sent = 0, offset = 0;
      for (int b = 0; b < 8; b++) sent = (sent << 8) | frame[8 + b];
      for (int b = 0; b < 4; b++) offset = (offset << 8) | frame[4 + b];
      lat[i] = now > sent ? (uint32_t)(now - sent) : 0;
      lat[per + i] = now > sent + offset ? (uint32_t)(now - sent - offset) : 0;
      got++;
      sh->last_read_us[k] = now;
    }
  }
  signal_parent('R');
  wait_closed(end_pipe[0]); /* exit with the servers: closing first would count as noise */
  _exit(0);
}

static void kill_children(void) {
  for (int i = 0; i < nchildren; i++) kill(children[i], SIGKILL);
  for (int i = 0; i < nchildren; i++) waitpid(children[i], NULL, 0);
  nchildren = 0;
}

static void fail(const char *what) {
  kill_children();
  printf("{\"schema\":\"connlab.floor/1\",\"error\":\"%s\"}\n", what);
  exit(1);
}

/* How many of each signal byte the children have sent so far ('L', 'A', 'C', 'R'). */
static int signals[256];

/* Waits until `want` children have sent `c`; any 'E', a timeout or EOF fails the run. */
static void await_children(char c, int want, uint64_t deadline_us) {
  while (signals[(uint8_t)c] < want) {
    uint64_t now = real_us();
    if (now >= deadline_us) fail("timeout");
    struct pollfd p = {.fd = ready_pipe[0], .events = POLLIN};
    int n = poll(&p, 1, (int)((deadline_us - now) / 1000) + 1);
    if (n <= 0) continue;
    char buf[256];
    ssize_t r = read(ready_pipe[0], buf, sizeof buf);
    if (r <= 0) fail("a child exited");
    for (ssize_t i = 0; i < r; i++) {
      if (buf[i] == 'E') fail("a child failed (its error is on stderr)");
      signals[(uint8_t)buf[i]]++;
    }
  }
}

static pid_t spawn(void (*body)(int, uint32_t, uint16_t, uint32_t, struct shared *), int k, uint32_t count, uint16_t port, uint32_t per,
                   struct shared *sh, unsigned timeout_s) {
  pid_t pid = fork();
  if (pid < 0) fail("fork");
  if (pid == 0) {
    child_setup(timeout_s);
    body(k, count, port, per, sh);
    _exit(0);
  }
  children[nchildren++] = pid;
  return pid;
}

static void server_body(int k, uint32_t count, uint16_t port, uint32_t per, struct shared *sh) {
  (void)per;
  run_server(k, count, port, sh);
}

static void client_body(int k, uint32_t count, uint16_t port, uint32_t per, struct shared *sh) {
  run_client(k, count, port, per, sh);
}

static int cmp_u32(const void *a, const void *b) {
  uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
  return (x > y) - (x < y);
}

struct summary {
  double p50_ms, p99_ms, max_ms;
  size_t count;
};

/* Percentiles of one latency kind over every client's slice (0: since the broadcast
 * stamp, 1: since the write), nearest rank as HdrHistogram's getValueAtPercentile. */
static struct summary summarize(const struct shared *sh, uint32_t *all, const uint32_t *counts, long p, uint32_t per, int kind) {
  size_t m = 0;
  for (long k = 0; k < p; k++) {
    memcpy(all + m, sh->latency_us + 2 * (size_t)k * per + (size_t)kind * per, counts[k] * sizeof *all);
    m += counts[k];
  }
  qsort(all, m, sizeof *all, cmp_u32);
  struct summary s = {all[(m * 50 + 99) / 100 - 1] / 1000.0, all[(m * 99 + 99) / 100 - 1] / 1000.0, all[m - 1] / 1000.0, m};
  return s;
}

int main(int argc, char **argv) {
  if (argc < 3) {
    fprintf(stderr, "usage: floor N P [port] [timeout_s]\n");
    return 2;
  }
  long n = strtol(argv[1], NULL, 10), p = strtol(argv[2], NULL, 10);
  long port = argc > 3 ? strtol(argv[3], NULL, 10) : 47000;
  long timeout_s = argc > 4 ? strtol(argv[4], NULL, 10) : 120;
  struct rlimit fds;
  getrlimit(RLIMIT_NOFILE, &fds);
  uint32_t per = (uint32_t)((n + p - 1) / (p > 0 ? p : 1));
  if (n < 1 || p < 1 || p > MAX_PROCESSES || port < 1024 || port + p > 65535 || timeout_s < 1 || timeout_s > 3600) {
    fprintf(stderr, "floor: N >= 1, 1 <= P <= %d, 1024 <= port, port + P <= 65535, 1 <= timeout_s <= 3600\n", MAX_PROCESSES);
    return 2;
  }
  if ((rlim_t)per + FD_RESERVE > fds.rlim_cur || per > 65535 - FIRST_SOURCE_PORT) {
    fprintf(stderr, "floor: %u connections per process do not fit (open files %lu, source ports %d): raise P\n", per,
            (unsigned long)fds.rlim_cur, 65535 - FIRST_SOURCE_PORT);
    return 2;
  }
  size_t bytes = sizeof(struct shared) + 2 * (size_t)per * (size_t)p * sizeof(uint32_t);
  struct shared *sh = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  if (sh == MAP_FAILED) fail("mmap");
  if (pipe(ready_pipe) < 0 || pipe(go_pipe) < 0 || pipe(end_pipe) < 0) fail("pipe");
  signal(SIGPIPE, SIG_IGN);
  uint64_t deadline = real_us() + (uint64_t)timeout_s * 1000000u;
  uint32_t counts[MAX_PROCESSES];
  for (long k = 0; k < p; k++) counts[k] = (uint32_t)((k + 1) * n / p - k * n / p);
  for (long k = 0; k < p; k++) spawn(server_body, (int)k, counts[k], (uint16_t)(port + k), per, sh, (unsigned)timeout_s);
  await_children('L', (int)p, deadline);
  uint64_t connect_start = real_us();
  for (long k = 0; k < p; k++) spawn(client_body, (int)k, counts[k], (uint16_t)(port + k), per, sh, (unsigned)timeout_s);
  close(ready_pipe[1]);
  await_children('A', (int)p, deadline);
  await_children('C', (int)p, deadline);
  uint64_t established = real_us();
  close(go_pipe[1]); /* every server writes now */
  await_children('R', (int)p, deadline);
  close(end_pipe[1]);
  for (int i = 0; i < nchildren; i++) waitpid(children[i], NULL, 0);
  nchildren = 0;

  uint64_t first = UINT64_MAX, last = 0;
  for (long k = 0; k < p; k++) {
    if (sh->written_at_us[k] < first) first = sh->written_at_us[k];
    if (sh->last_read_us[k] > last) last = sh->last_read_us[k];
  }
  uint32_t *all = malloc((size_t)n * sizeof *all);
  if (!all) fail("malloc");
  struct summary broadcast = summarize(sh, all, counts, p, per, 0);
  struct summary delivery = summarize(sh, all, counts, p, per, 1);
  printf("{\"schema\":\"connlab.floor/1\",\"connections\":%ld,\"processes_per_side\":%ld,\"connect_seconds\":%.3f,"
         "\"broadcast\":{\"p50_ms\":%.3f,\"p99_ms\":%.3f,\"max_ms\":%.3f,\"delivered\":%zu,\"total_ms\":%.3f},"
         "\"delivery\":{\"p50_ms\":%.3f,\"p99_ms\":%.3f,\"max_ms\":%.3f}}\n",
         n, p, (established - connect_start) / 1e6, broadcast.p50_ms, broadcast.p99_ms, broadcast.max_ms, broadcast.count,
         (last - first) / 1000.0, delivery.p50_ms, delivery.p99_ms, delivery.max_ms);
  return 0;
}
