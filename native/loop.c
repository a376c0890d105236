/* The holder's thread: one epoll loop that owns every socket, a command queue the
 * JavaScript thread writes (mutex + eventfd wakeup), and one timerfd tick shared by
 * the connect timeout and the accept back-off (armed only while either needs it, so
 * an idle holder makes no wakeups). No per-connection timers. Like redis's ae.c, the
 * loop knows its sockets only through a table (struct io_ops, conn.c's conn_io): it
 * calls out through it and nothing else of ours calls it back but loop_arm_tick. */
#include <errno.h>
#include <sched.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include "holder.h"

#define EVENT_BATCH 512
#define CONNECT_BATCH 256      /* connects issued per loop turn, between event batches */

int holder_init(struct holder *h, const struct io_ops *io, uint32_t connect_timeout_ms, size_t max_samples) {
  memset(h, 0, sizeof *h);
  h->io = io;
  h->epfd = h->evfd = h->tfd = -1;
  h->max_fd = -1;
  h->connect_timeout_us = (uint64_t)connect_timeout_ms * 1000u;
  uint64_t tick = h->connect_timeout_us / 10;
  h->tick_us = tick < 5000 ? 5000 : tick > 100000 ? 100000 : tick;
  h->max_samples = max_samples;
  pthread_mutex_init(&h->sample_lock, NULL);
  pthread_mutex_init(&h->cmd_lock, NULL);
  pthread_cond_init(&h->cmd_done, NULL);
  h->in = malloc(SCRATCH_BYTES);
  h->out = malloc(OUT_BYTES);
  h->epfd = epoll_create1(EPOLL_CLOEXEC);
  h->evfd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  h->tfd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
  if (!h->in || !h->out || h->epfd < 0 || h->evfd < 0 || h->tfd < 0) return errno ? errno : ENOMEM;
  struct epoll_event ev = {.events = EPOLLIN, .data.fd = h->evfd};
  if (epoll_ctl(h->epfd, EPOLL_CTL_ADD, h->evfd, &ev) != 0) return errno;
  ev.data.fd = h->tfd;
  if (epoll_ctl(h->epfd, EPOLL_CTL_ADD, h->tfd, &ev) != 0) return errno;
  return 0;
}

static void set_tick(struct holder *h, uint64_t interval_us) {
  struct itimerspec its = {0};
  its.it_interval.tv_sec = (time_t)(interval_us / 1000000u);
  its.it_interval.tv_nsec = (long)(interval_us % 1000000u) * 1000;
  its.it_value = its.it_interval;
  timerfd_settime(h->tfd, 0, &its, NULL);
  h->timer_armed = interval_us != 0;
}

void loop_arm_tick(struct holder *h) {
  if (!h->timer_armed) set_tick(h, h->tick_us);
}

static void on_tick(struct holder *h) {
  uint64_t expirations;
  if (read(h->tfd, &expirations, sizeof expirations) < 0) return;
  if (!h->io->tick(h, clock_mono_us())) set_tick(h, 0);
}

static void finish(struct holder *h, struct cmd *c, int64_t result) {
  if (!c->waited) {
    free(c);
    return;
  }
  pthread_mutex_lock(&h->cmd_lock);
  c->result = result;
  c->done = 1;
  pthread_cond_broadcast(&h->cmd_done);
  pthread_mutex_unlock(&h->cmd_lock);
}

static void free_connect_queue(struct holder *h) {
  while (h->connect_head) {
    struct cmd *c = h->connect_head;
    h->connect_head = c->next;
    free(c->tuples);
    free(c);
  }
  h->connect_tail = NULL;
  STAT_SET(h, ST_QUEUED, 0);
}

static void run_command(struct holder *h, struct cmd *c) {
  switch (c->type) {
    case CMD_CONNECT:
      c->next = NULL;
      if (h->connect_tail) h->connect_tail->next = c;
      else h->connect_head = c;
      h->connect_tail = c;
      return;
    case CMD_STOP:
      h->stopping = 1;
      finish(h, c, 0);
      return;
    default:
      if (c->type == CMD_CLOSE_ALL) free_connect_queue(h); /* the queue is the loop's, the sockets the table's */
      finish(h, c, h->io->command(h, c));
      return;
  }
}

static void on_commands(struct holder *h) {
  uint64_t n;
  if (read(h->evfd, &n, sizeof n) < 0 && errno != EAGAIN) return;
  pthread_mutex_lock(&h->cmd_lock);
  struct cmd *c = h->cmd_head;
  h->cmd_head = h->cmd_tail = NULL;
  pthread_mutex_unlock(&h->cmd_lock);
  while (c) {
    struct cmd *next = c->next;
    run_command(h, c);
    c = next;
  }
}

/* How many queued connects the window lets start now. */
static size_t connect_room(const struct holder *h) {
  if (!h->connect_head) return 0;
  if (h->max_pending == 0) return CONNECT_BATCH;
  uint64_t pending = STAT_GET(h, ST_PENDING);
  uint64_t room = pending >= h->max_pending ? 0 : h->max_pending - pending;
  return room < CONNECT_BATCH ? (size_t)room : CONNECT_BATCH;
}

/* Starts up to one batch of queued connects, as many as the window allows. */
static void issue_connects(struct holder *h) {
  for (size_t budget = connect_room(h); budget > 0 && h->connect_head;) {
    struct cmd *c = h->connect_head;
    size_t n = c->count - c->done_tuples < budget ? c->count - c->done_tuples : budget;
    h->io->connect(h, c->tuples + 4 * c->done_tuples, n);
    STAT_SUB(h, ST_QUEUED, n);
    budget -= n;
    c->done_tuples += n;
    if (c->done_tuples == c->count) {
      h->connect_head = c->next;
      if (!h->connect_head) h->connect_tail = NULL;
      free(c->tuples);
      free(c);
    }
  }
}

static void *loop_main(void *arg) {
  struct holder *h = arg;
  struct epoll_event events[EVENT_BATCH];
  /* SCHED_BATCH (no privilege needed): a holder woken by its sockets does not preempt
   * whatever runs, it waits its turn. Every holder of a big run is woken constantly (a
   * listener's accept, a peer's frame); under the default policy each wakeup preempted
   * the holder that caused it, so a load holder was switched out ~5,000 times/s in a
   * 400k ramp to let a server holder accept one or two connections. With it the holders
   * run their batches through: the 400k ramp took 10.6-10.7 s instead of 14.2 s against
   * a floor of 9.2-9.4 s in the same runs (docs/architecture.md). Throughput, not
   * latency, is what a holder is for; a failure here changes nothing but scheduling. */
  struct sched_param batch = {.sched_priority = 0};
  pthread_setschedparam(pthread_self(), SCHED_BATCH, &batch);
  while (!h->stopping) {
    /* Connects to start: only look for events. A full window: sleep until one finishes. */
    int timeout = connect_room(h) > 0 ? 0 : -1;
    /* A turn that accepted or read yields the CPU once and then only looks, instead of
     * going to sleep: in a ramp or a broadcast the next connections and frames arrive
     * while others run, and a holder that slept would be woken for each one (a wakeup
     * from the sending thread's softirq, two context switches, an epoll_wait that finds
     * one or two sockets). Yielding, it finds them queued when its turn comes. A look
     * that finds nothing ends it: the next turn sleeps, so an idle holder still makes no
     * wakeups. For accepts: 63 serve holders at 1M each woke ~350 times a second; the
     * ramp's first 400k connections went from 21,700/s to 28,500/s and the box's context
     * switches from ~21,000/s to ~6,000-10,000/s. For reads: in a 1M broadcast, every serve
     * worker writes to every load worker, and the load holders' sleeps and wakeups took
     * 89 perf samples in epoll_wait against the floor's 6 (docs/architecture.md). */
    if (timeout < 0 && h->busy_last_turn) {
      h->busy_last_turn = 0;
      sched_yield();
      timeout = 0;
    }
    int n = epoll_wait(h->epfd, events, EVENT_BATCH, timeout);
    for (int i = 0; i < n && !h->stopping; i++) {
      int fd = events[i].data.fd;
      if (fd == h->evfd) on_commands(h);
      else if (fd == h->tfd) on_tick(h);
      else h->io->event(h, fd, events[i].events);
    }
    if (!h->stopping) issue_connects(h);
  }
  return NULL;
}

int holder_start(struct holder *h) {
  sigset_t all, old;
  sigfillset(&all);
  pthread_sigmask(SIG_SETMASK, &all, &old); /* the loop thread takes no signals */
  int rc = pthread_create(&h->thread, NULL, loop_main, h);
  pthread_sigmask(SIG_SETMASK, &old, NULL);
  h->started = rc == 0;
  return rc;
}

void holder_submit(struct holder *h, struct cmd *c) {
  uint64_t one = 1;
  /* Read before queueing: once queued, the loop thread owns an unwaited command and may
   * free it (a connect batch, once issued) before this thread looks again. */
  const int waited = c->waited;
  c->next = NULL;
  pthread_mutex_lock(&h->cmd_lock);
  if (h->cmd_tail) h->cmd_tail->next = c;
  else h->cmd_head = c;
  h->cmd_tail = c;
  pthread_mutex_unlock(&h->cmd_lock);
  while (write(h->evfd, &one, sizeof one) < 0 && errno == EINTR) {
  }
  if (!waited) return;
  pthread_mutex_lock(&h->cmd_lock);
  while (!c->done) pthread_cond_wait(&h->cmd_done, &h->cmd_lock);
  pthread_mutex_unlock(&h->cmd_lock);
}

/* The protocol settings the caller put in h->proto (binding.c's setProtocol, the worker's
 * start): plain memory of the holder's, freed with it. */
static void free_proto_config(struct proto_cfg *cfg) {
  free(cfg->request);
  free(cfg->client_prefix);
  free(cfg->username);
  free(cfg->password);
  cfg->request = NULL;
  cfg->client_prefix = cfg->username = cfg->password = NULL;
}

/* Stops the thread and closes every descriptor; the struct stays valid (counters
 * still readable) until holder_free. Safe to call twice. */
void holder_stop(struct holder *h) {
  if (h->stopped) return;
  h->stopped = 1;
  if (h->started) {
    struct cmd stop = {.type = CMD_STOP, .waited = 1};
    holder_submit(h, &stop);
    pthread_join(h->thread, NULL);
    h->started = 0;
  }
  h->io->release(h);
  free_connect_queue(h);
  free_proto_config(&h->proto);
  while (h->cmd_head) {
    struct cmd *c = h->cmd_head;
    h->cmd_head = c->next;
    if (!c->waited) {
      free(c->tuples);
      free(c);
    }
  }
  int fds[] = {h->epfd, h->evfd, h->tfd};
  for (int i = 0; i < 3; i++) {
    if (fds[i] >= 0) close(fds[i]);
  }
  h->epfd = h->evfd = h->tfd = -1;
  free(h->in);
  free(h->out);
  h->in = h->out = NULL;
}

/* Releases everything holder_init acquired; the caller frees the struct itself. */
void holder_free(struct holder *h) {
  holder_stop(h);
  free(h->tls_state); /* tls.c's failure reasons, kept readable after holder_stop */
  h->tls_state = NULL;
  stats_free_samples(h);
  free(h->addr6);
  h->addr6 = NULL;
  pthread_mutex_destroy(&h->sample_lock);
  pthread_mutex_destroy(&h->cmd_lock);
  pthread_cond_destroy(&h->cmd_done);
}
