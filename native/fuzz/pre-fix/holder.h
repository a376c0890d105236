/* Shared state of one connection holder: the per-connection record, the counters
 * the JavaScript thread reads, and the command queue it writes. One holder owns one
 * epoll loop on one pthread (loop.c); binding.c is the only N-API code. */
#ifndef CONNLAB_HOLDER_H
#define CONNLAB_HOLDER_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

#define FRAME_HEADER_BYTES 16
#define FRAME_PING 0x50      /* 'P' client -> server, length 0 */
#define FRAME_PONG 0x4F      /* 'O' server -> client, same seq and timeUs */
#define FRAME_ECHO 0x45      /* 'E' either way, server returns the identical frame */
#define FRAME_BROADCAST 0x42 /* 'B' server -> client */

#define ERRNO_SLOTS 256

enum conn_state { CS_FREE = 0, CS_LISTEN, CS_CONNECTING, CS_CLIENT, CS_SERVER };
enum parse_mode { PM_HEADER = 0, PM_ECHO, PM_SKIP };

/* Indexes into holder.stats; binding.c exports the names in this order. */
enum stat_index {
  ST_ESTABLISHED,
  ST_PEAK_ESTABLISHED,
  ST_PENDING,
  ST_QUEUED,
  ST_ACCEPTED,
  ST_CONNECTED,
  ST_CLOSED_PEER,
  ST_CLOSED_RESET,
  ST_CLOSED_PROTOCOL,
  ST_CLOSED_SLOW,
  ST_CLOSED_LOCAL,
  ST_CLOSED_TIMEOUT,
  ST_ACCEPT_BACKOFFS,
  ST_PINGS_SENT,
  ST_PONGS_RECEIVED,
  ST_VERIFIED,
  ST_BROADCASTS_SENT,
  ST_BROADCASTS_RECEIVED,
  ST_BYTES_IN,
  ST_BYTES_OUT,
  ST_SAMPLES_DROPPED,
  ST_LISTENERS,
  ST_COUNT
};

/* Close reasons are stat indexes so closing is one increment. */
#define CR_PEER ST_CLOSED_PEER
#define CR_RESET ST_CLOSED_RESET
#define CR_PROTOCOL ST_CLOSED_PROTOCOL
#define CR_SLOW ST_CLOSED_SLOW
#define CR_LOCAL ST_CLOSED_LOCAL
#define CR_TIMEOUT ST_CLOSED_TIMEOUT

/* One record per file descriptor, 32 bytes. While connecting the header buffer is
 * unused, so it holds the connect start time instead. */
struct conn {
  union {
    uint8_t hdr[FRAME_HEADER_BYTES]; /* partial frame header being received */
    uint64_t start_us;               /* CS_CONNECTING: CLOCK_MONOTONIC at connect() */
  } u;
  uint32_t ping_gen;  /* client: pingAll generation this connection last answered */
  uint16_t remaining; /* payload bytes of the current frame still to echo or skip */
  uint8_t state;      /* enum conn_state */
  uint8_t hdr_len;    /* bytes of u.hdr filled */
  uint8_t mode;       /* enum parse_mode */
};

enum cmd_type { CMD_LISTEN, CMD_CONNECT, CMD_PING_ALL, CMD_BROADCAST, CMD_CLOSE_ALL, CMD_STOP };

struct cmd {
  struct cmd *next;
  int type;
  int fd;            /* CMD_LISTEN */
  uint32_t seq;      /* CMD_PING_ALL, CMD_BROADCAST */
  uint32_t *tuples;  /* CMD_CONNECT: owned, 4 u32 per connection */
  size_t count;      /* CMD_CONNECT: tuples; consumed so far in `done_tuples` */
  size_t done_tuples;
  const uint8_t *payload; /* CMD_BROADCAST: borrowed, the caller waits */
  size_t payload_len;
  int waited;        /* the JS thread blocks until `done` */
  int done;
  int64_t result;
};

struct sample_buf {
  uint32_t *data;
  size_t len, cap;
};

struct holder {
  /* Owned by the loop thread. */
  struct conn *conns;
  int conns_cap;
  int max_fd; /* highest fd ever placed in conns, bounds the scans */
  int epfd, evfd, tfd;
  int timer_armed;
  int accept_paused;
  uint64_t accept_resume_us;
  uint32_t ping_seq, ping_gen;
  uint64_t connect_timeout_us;
  uint64_t tick_us;
  struct cmd *connect_head, *connect_tail; /* connects not yet issued */
  uint8_t *in, *out;                        /* shared scratch buffers */
  int stopping;

  /* Counters: written by the loop thread only, read by the JS thread (relaxed). */
  uint64_t stats[ST_COUNT];
  uint64_t errors[ERRNO_SLOTS];

  /* Samples: pushed by the loop thread, drained by the JS thread. */
  pthread_mutex_t sample_lock;
  struct sample_buf connect_us, rtt_us, broadcast_us;
  size_t max_samples;

  /* Commands from the JS thread. */
  pthread_mutex_t cmd_lock;
  pthread_cond_t cmd_done;
  struct cmd *cmd_head, *cmd_tail;

  pthread_t thread;
  int started;
  int stopped; /* JS side: destroy() ran */
};

#define STAT_ADD(h, i, n) __atomic_fetch_add(&(h)->stats[(i)], (uint64_t)(n), __ATOMIC_RELAXED)
#define STAT_SUB(h, i, n) __atomic_fetch_sub(&(h)->stats[(i)], (uint64_t)(n), __ATOMIC_RELAXED)
#define STAT_SET(h, i, v) __atomic_store_n(&(h)->stats[(i)], (uint64_t)(v), __ATOMIC_RELAXED)
#define STAT_GET(h, i) __atomic_load_n(&(h)->stats[(i)], __ATOMIC_RELAXED)

/* loop.c */
int holder_init(struct holder *h, uint32_t connect_timeout_ms, size_t max_samples);
int holder_start(struct holder *h);
void holder_submit(struct holder *h, struct cmd *c);
void holder_stop(struct holder *h);
void holder_free(struct holder *h);
void holder_count_error(struct holder *h, int err);

/* loop.c: listener pause on EMFILE/ENFILE and the shared tick */
void loop_pause_accept(struct holder *h);
void loop_arm_tick(struct holder *h);

/* conn.c: every function runs on the loop thread */
int conn_reserve(struct holder *h, int fd);
void conns_release(struct holder *h);
void conn_on_event(struct holder *h, int fd, uint32_t events);
void conn_issue_connect(struct holder *h, const uint32_t *tuple);
void conn_close(struct holder *h, int fd, int reason);
int64_t conn_ping_all(struct holder *h, uint32_t seq);
int64_t conn_broadcast(struct holder *h, uint32_t seq, const uint8_t *payload, size_t len);
void conn_close_all(struct holder *h);
void conn_expire_connects(struct holder *h, uint64_t now_us);

/* samples.c */
void samples_push(struct holder *h, struct sample_buf *b, uint64_t value);
void samples_free(struct holder *h);

/* frame.c */
uint64_t now_mono_us(void);
uint64_t now_real_us(void);
void frame_header_write(uint8_t *p, uint8_t type, uint16_t length, uint32_t seq, uint64_t time_us);
uint16_t frame_length(const uint8_t *hdr);
uint32_t frame_seq(const uint8_t *hdr);
uint64_t frame_time_us(const uint8_t *hdr);

#endif
