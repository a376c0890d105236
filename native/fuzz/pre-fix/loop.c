/* The holder's thread: one epoll loop that owns every socket, a command queue the
 * JavaScript thread writes (mutex + eventfd wakeup), and one timerfd tick shared by
 * the connect timeout and the accept back-off (armed only while either needs it, so
 * an idle holder makes no wakeups). No per-connection timers. */
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include "holder.h"

#define SCRATCH_BYTES 65536
#define EVENT_BATCH 512
#define CONNECT_BATCH 256      /* connects issued per loop turn, between event batches */
#define ACCEPT_BACKOFF_US 100000

void holder_count_error(struct holder *h, int err) {
  if (err <= 0 || err >= ERRNO_SLOTS) err = 0;
  __atomic_fetch_add(&h->errors[err], 1, __ATOMIC_RELAXED);
}

int holder_init(struct holder *h, uint32_t connect_timeout_ms, size_t max_samples) {
  memset(h, 0, sizeof *h);
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
  h->out = malloc(SCRATCH_BYTES);
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

static int tick_needed(struct holder *h) {
  return h->accept_paused || (h->connect_timeout_us && STAT_GET(h, ST_PENDING) > 0);
}

void loop_arm_tick(struct holder *h) {
  if (!h->timer_armed && tick_needed(h)) set_tick(h, h->tick_us);
}

static void set_listeners(struct holder *h, int op) {
  for (int fd = 0; fd <= h->max_fd && fd < h->conns_cap; fd++) {
    if (h->conns[fd].state != CS_LISTEN) continue;
    struct epoll_event ev = {.events = EPOLLIN, .data.fd = fd};
    epoll_ctl(h->epfd, op, fd, &ev);
  }
}

/* Out of descriptors at accept(): stop watching the listeners (a level-triggered
 * listener with a full queue would otherwise spin) and look again after a pause. */
void loop_pause_accept(struct holder *h) {
  if (h->accept_paused) return;
  set_listeners(h, EPOLL_CTL_DEL);
  h->accept_paused = 1;
  h->accept_resume_us = now_mono_us() + ACCEPT_BACKOFF_US;
  STAT_ADD(h, ST_ACCEPT_BACKOFFS, 1);
  loop_arm_tick(h);
}

static void on_tick(struct holder *h) {
  uint64_t expirations;
  if (read(h->tfd, &expirations, sizeof expirations) < 0) return;
  uint64_t now = now_mono_us();
  if (h->accept_paused && now >= h->accept_resume_us) {
    h->accept_paused = 0;
    set_listeners(h, EPOLL_CTL_ADD);
  }
  conn_expire_connects(h, now);
  if (!tick_needed(h)) set_tick(h, 0);
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

static int64_t add_listener(struct holder *h, int fd) {
  if (conn_reserve(h, fd) != 0) return -ENOMEM;
  struct epoll_event ev = {.events = EPOLLIN, .data.fd = fd};
  if (!h->accept_paused && epoll_ctl(h->epfd, EPOLL_CTL_ADD, fd, &ev) != 0) return -errno;
  h->conns[fd].state = CS_LISTEN;
  STAT_ADD(h, ST_LISTENERS, 1);
  return 0;
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
    case CMD_LISTEN:
      finish(h, c, add_listener(h, c->fd));
      return;
    case CMD_CONNECT:
      c->next = NULL;
      if (h->connect_tail) h->connect_tail->next = c;
      else h->connect_head = c;
      h->connect_tail = c;
      return;
    case CMD_PING_ALL:
      finish(h, c, conn_ping_all(h, c->seq));
      return;
    case CMD_BROADCAST:
      finish(h, c, conn_broadcast(h, c->seq, c->payload, c->payload_len));
      return;
    case CMD_CLOSE_ALL:
      free_connect_queue(h);
      conn_close_all(h);
      if (!tick_needed(h)) set_tick(h, 0);
      finish(h, c, 0);
      return;
    case CMD_STOP:
      h->stopping = 1;
      finish(h, c, 0);
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

static void issue_connects(struct holder *h) {
  for (int i = 0; i < CONNECT_BATCH && h->connect_head; i++) {
    struct cmd *c = h->connect_head;
    conn_issue_connect(h, c->tuples + 4 * c->done_tuples);
    STAT_SUB(h, ST_QUEUED, 1);
    if (++c->done_tuples == c->count) {
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
  while (!h->stopping) {
    int n = epoll_wait(h->epfd, events, EVENT_BATCH, h->connect_head ? 0 : -1);
    for (int i = 0; i < n && !h->stopping; i++) {
      int fd = events[i].data.fd;
      if (fd == h->evfd) on_commands(h);
      else if (fd == h->tfd) on_tick(h);
      else conn_on_event(h, fd, events[i].events);
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
  c->next = NULL;
  pthread_mutex_lock(&h->cmd_lock);
  if (h->cmd_tail) h->cmd_tail->next = c;
  else h->cmd_head = c;
  h->cmd_tail = c;
  pthread_mutex_unlock(&h->cmd_lock);
  while (write(h->evfd, &one, sizeof one) < 0 && errno == EINTR) {
  }
  if (!c->waited) return;
  pthread_mutex_lock(&h->cmd_lock);
  while (!c->done) pthread_cond_wait(&h->cmd_done, &h->cmd_lock);
  pthread_mutex_unlock(&h->cmd_lock);
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
  for (int fd = 0; fd <= h->max_fd && fd < h->conns_cap; fd++) {
    if (h->conns[fd].state != CS_FREE) close(fd);
  }
  conns_release(h);
  free_connect_queue(h);
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
  samples_free(h);
  pthread_mutex_destroy(&h->sample_lock);
  pthread_mutex_destroy(&h->cmd_lock);
  pthread_cond_destroy(&h->cmd_done);
}
