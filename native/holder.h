/* Shared state of one connection holder: the per-connection record, the counters
 * the JavaScript thread reads, and the command queue it writes. One holder owns one
 * epoll loop on one pthread (loop.c); binding.c is the only N-API code. */
#ifndef CONNLAB_HOLDER_H
#define CONNLAB_HOLDER_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define FRAME_HEADER_BYTES 16
#define FRAME_PING 0x50      /* 'P' client -> server, length 0 */
#define FRAME_PONG 0x4F      /* 'O' server -> client, same seq and timeUs */
#define FRAME_ECHO 0x45      /* 'E' either way, server returns the identical frame */
#define FRAME_BROADCAST 0x42 /* 'B' server -> client */

#define ERRNO_SLOTS 256

/* One read is at most SCRATCH_BYTES. Its answer can be longer than the read by at most
 * FRAME_HEADER_BYTES - 1: only the first header a read completes can have begun in an
 * earlier read (up to 15 bytes of it buffered in conn.u.hdr); every later header and
 * echoed payload byte is answered with as many bytes as arrived. So the answer buffer
 * is sized for that worst case, and parse() checks the bound on every append
 * (native/fuzz exercises it under ASan at every split point). */
#define SCRATCH_BYTES 65536
#define OUT_BYTES (SCRATCH_BYTES + FRAME_HEADER_BYTES)

enum conn_state { CS_FREE = 0, CS_LISTEN, CS_CONNECTING, CS_CLIENT, CS_SERVER };
enum parse_mode { PM_HEADER = 0, PM_ECHO, PM_SKIP };
enum { CP_SOURCE_IP = 1, CP_SOURCE_PORT = 2 }; /* conn.planned: churn reconnects the plan, not the kernel's pick */

/* Indexes into holder.stats; stats.c names them in this order (the addon and the C worker export those). */
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
  ST_CLOSED_CHURN,
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
  ST_CLOSED_SERVER,    /* the server said goodbye in-protocol (Connection: close, ws close) */
  ST_CLOSED_IDLE,      /* peer FIN on an idle keep-alive connection (its keep-alive timeout) */
  ST_CLOSED_REFUSED,   /* handshake refused: ws status != 101 or bad accept, CONNACK != 0 */
  ST_CLOSED_KEEPALIVE, /* TCP keepalive probes went unanswered (ETIMEDOUT on a held socket) */
  ST_CLOSED_EARLY,     /* of peer/reset closes: before any byte, within 1 s of the handshake (not a reason) */
  ST_SILENT,           /* at the last ping round: client connections that never received a byte */
  ST_CLOSED_TLS,       /* the TLS handshake failed or a record was bad (tls.c; reasons in its table) */
  ST_TLS_HANDSHAKES,   /* TLS handshakes completed */
  ST_CLOSED_HTTP_HEADERS, /* an HTTP line or header block past its limit (proto.h HTTP_*_MAX) */
  ST_CLOSED_HTTP_BODY,    /* an HTTP body past HTTP_BODY_MAX */
  ST_CLOSED_PENDING,   /* of the closes: connects that never completed (timeout, or pending at closeAll) (not a reason) */
  ST_COUNT
};

/* Close reasons are stat indexes so closing is one increment. */
#define CR_PEER ST_CLOSED_PEER
#define CR_RESET ST_CLOSED_RESET
#define CR_PROTOCOL ST_CLOSED_PROTOCOL
#define CR_SLOW ST_CLOSED_SLOW
#define CR_LOCAL ST_CLOSED_LOCAL
#define CR_TIMEOUT ST_CLOSED_TIMEOUT
#define CR_CHURN ST_CLOSED_CHURN
#define CR_SERVER ST_CLOSED_SERVER
#define CR_IDLE ST_CLOSED_IDLE
#define CR_REFUSED ST_CLOSED_REFUSED
#define CR_KEEPALIVE ST_CLOSED_KEEPALIVE
#define CR_TLS ST_CLOSED_TLS
#define CR_HTTP_HEADERS ST_CLOSED_HTTP_HEADERS
#define CR_HTTP_BODY ST_CLOSED_HTTP_BODY

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
  uint8_t planned;    /* client: CP_* bits, the parts of the source the plan chose */
  uint8_t flags;      /* CF_*; fits in the padding, the record stays 32 bytes */
};

#define CF_GOT_BYTES 1 /* the peer has sent at least one byte */
#define CF_TLS_OPEN 2  /* TLS: handshake done, the protocol has started (tls.c) */
#define CF_TLS_WRITE 4 /* TLS: the handshake waits for writability, EPOLLOUT is on (tls.c) */
#define CF_TLS_PING 8  /* TLS: a ping round came during the handshake: ping when it is done */
_Static_assert(sizeof(struct conn) == 32, "struct conn is the per-connection cost: keep it 32 bytes; protocol state goes in the side table");

enum cmd_type { CMD_LISTEN, CMD_CONNECT, CMD_PING_ALL, CMD_BROADCAST, CMD_CHURN, CMD_CLOSE_ALL, CMD_STOP };

struct cmd {
  struct cmd *next;
  int type;
  int fd;            /* CMD_LISTEN */
  uint32_t seq;      /* CMD_PING_ALL, CMD_BROADCAST; CMD_CHURN: how many */
  uint32_t *tuples;  /* CMD_CONNECT: owned, 4 u32 per connection */
  size_t count;      /* CMD_CONNECT: tuples; consumed so far in `done_tuples` */
  size_t done_tuples;
  const uint8_t *payload; /* CMD_BROADCAST: borrowed, the caller waits */
  size_t payload_len;
  int waited;        /* the JS thread blocks until `done` */
  int done;
  int64_t result;
};

/* What one connection may make the kernel keep for it, set on every socket (accepted
 * ones inherit it from their listener); 0 leaves the kernel's default. See
 * conn_apply_limits in conn.c for what each bounds. */
struct socket_limits {
  uint32_t send_buffer_bytes;   /* SO_SNDBUF (the kernel doubles it; autotuning stops) */
  uint32_t notsent_lowat_bytes; /* TCP_NOTSENT_LOWAT: unsent bytes before a write blocks */
  uint32_t stall_timeout_ms;    /* TCP_USER_TIMEOUT: queued data the peer takes none of */
};

/* The protocol a client holder speaks (native/proto/proto.h), fixed before the first
 * connect. Its per-connection state is a side table indexed by fd (client.c), sized for
 * the protocol, so connlab and tcp connections keep their 32-byte record and nothing else. */
struct proto_cfg {
  int kind;              /* enum proto_kind; PROTO_CONNLAB for a serving holder */
  uint8_t *request;      /* http: the GET; ws: the upgrade head without key line and final CRLF */
  size_t request_len;
  char *client_prefix;   /* mqtt */
  char *username, *password;
  uint16_t keepalive_s;  /* mqtt keep-alive */
  uint32_t tcp_keepalive_s; /* SO_KEEPALIVE idle = interval, 0: off */
  uint64_t seed;         /* ws keys and masks */
  size_t state_bytes;
};

/* The TLS seam: native/tls.c (OpenSSL 3 resolved at run time, native/ossl.c; the fuzz
 * harness links conn.c without it). NULL: plain TCP. The connections of the sides
 * named in holder.tls_sides go through it: conn.c starts the handshake instead of
 * proto_open (client) or the first frame (server), hands every event of such a socket
 * to on_event (which reads records and feeds conn_input), and conn_send writes through
 * send. tls.c opens the protocol (h->pops->open) once the handshake is done. */
struct holder;

struct tls_ops {
  void (*start)(struct holder *h, int fd);                 /* TCP connected: begin the handshake */
  void (*on_event)(struct holder *h, int fd, uint32_t events);
  int (*send)(struct holder *h, int fd, const uint8_t *buf, size_t len); /* all or nothing, else closes */
  void (*goodbye)(struct holder *h, int fd, const uint8_t *buf, size_t len); /* best effort + close_notify */
  void (*end)(struct holder *h, int fd);                   /* before close(fd): free the session */
  void (*release)(struct holder *h);                       /* holder_stop */
};

#define TLS_SIDE_CLIENT 1 /* connections this holder opens */
#define TLS_SIDE_SERVER 2 /* connections it accepts */
/* Whether connection c (client or server, established) runs TLS. */
#define USES_TLS(h, c) \
  ((h)->tls && ((h)->tls_sides & ((c)->state == CS_CLIENT ? TLS_SIDE_CLIENT : (c)->state == CS_SERVER ? TLS_SIDE_SERVER : 0)))
/* What the loop calls (redis ae.c's fileProc, libuv's uv__io_t): conn.c's conn_io is the
 * one implementation, handed to holder_init by the addon and the worker, so loop.c
 * names no connection function. */
struct io_ops {
  void (*event)(struct holder *h, int fd, uint32_t events);
  int (*tick)(struct holder *h, uint64_t now_us); /* nonzero: keep ticking */
  void (*connect)(struct holder *h, const uint32_t *tuples, size_t n); /* n connects, 4 u32 per tuple */
  int64_t (*command)(struct holder *h, const struct cmd *c); /* LISTEN PING_ALL BROADCAST CHURN CLOSE_ALL */
  void (*release)(struct holder *h); /* holder_stop, the thread gone: every socket and table */
};

/* What conn.c calls for the bytes, like tls_ops for the transport: one table per holder
 * (h->pops, set by proto_configure). frames_ops speaks connlab frames on both ends;
 * client_ops the client protocols of proto/. Every hook runs on the loop thread. */
struct proto_ops {
  int (*open)(struct holder *h, int fd);  /* established (after TLS): 0, or -1 having closed fd */
  int (*input)(struct holder *h, int fd, const uint8_t *p, size_t n); /* a close reason, or -1 */
  int (*eof_reason)(struct holder *h, int fd); /* the peer's FIN: which close it is */
  int (*ping)(struct holder *h, int fd); /* one liveness request of round h->ping_gen; 1 sent */
  int64_t (*broadcast)(struct holder *h, uint32_t seq, const uint8_t *payload, size_t len); /* NULL: none */
  void (*on_close)(struct holder *h, int fd, int reason); /* client connections, before close(fd) */
  void (*release)(struct holder *h); /* NULL: nothing of its own */
};

#define CODE_SLOTS 256
#define BAD_SAMPLES 4
#define BAD_BYTES 16

struct code_count {
  uint32_t key; /* kind << 16 | code, 0 = empty */
  uint64_t count;
};

struct sample_buf {
  uint32_t *data;
  size_t len, cap;
};

struct holder {
  const struct io_ops *io;     /* conn.c's, from holder_init */
  const struct proto_ops *pops; /* the protocol's, from proto_configure */
  /* Owned by the loop thread. */
  struct conn *conns;
  int conns_cap;
  int max_fd; /* highest fd ever placed in conns, bounds the scans */
  int epfd, evfd, tfd;
  int timer_armed;
  int accept_paused;
  int busy_last_turn; /* conn.c sets it on an accept or bytes read; loop.c then yields before sleeping */
  uint64_t accept_resume_us;
  uint32_t ping_seq, ping_gen;
  int churn_cursor; /* where the next conn_churn() looks first */
  uint64_t connect_timeout_us;
  uint64_t tick_us;
  struct socket_limits limits; /* set by binding.c before holder_start */
  struct cmd *connect_head, *connect_tail; /* connects not yet issued */
  /* The connect window: queued connects wait while this many are pending (0: no window,
   * the caller paces, as the addon's worker.ts does). Set before holder_start. */
  uint32_t max_pending;
  uint8_t *in, *out;                        /* shared scratch buffers */
  int stopping;

  struct proto_cfg proto;
  uint8_t *pstate; /* side table: proto.state_bytes per fd */
  int pstate_cap;
  struct code_count codes[CODE_SLOTS];           /* status and close codes, read racily by JS */
  uint8_t bad[BAD_SAMPLES][BAD_BYTES];           /* first bytes of reads that broke the protocol */
  uint8_t bad_len[BAD_SAMPLES];
  uint32_t bad_count;
  uint8_t *addr6;       /* IPv6 tuples: a 16-byte source base, then addr6_count destinations */
  uint32_t addr6_count; /* (holder_set_addresses6; src/tuple/plan.ts TUPLE_IPV6) */
  const struct tls_ops *tls; /* NULL: plain TCP */
  void *tls_state;           /* tls.c's */
  uint8_t tls_sides;         /* TLS_SIDE_* bits: which connections run TLS */

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

/* The layers, each calling only those below it (test/hardening/native-cycles.test.ts
 * checks it): stats.c and clock.c (leaves) < loop.c < conn.c < tls.c and the protocols
 * (proto/frames.c, proto/client.c over the pure parsers) < proto/registry.c < binding.c and
 * native/worker/. Upward calls go through tables: the loop calls conn.c through io_ops,
 * conn.c calls the protocol through proto_ops and TLS through tls_ops. */

/* loop.c: the thread, the command queue and the tick */
int holder_init(struct holder *h, const struct io_ops *io, uint32_t connect_timeout_ms, size_t max_samples);
int holder_start(struct holder *h);
void holder_submit(struct holder *h, struct cmd *c);
void holder_stop(struct holder *h);
void holder_free(struct holder *h);
/* Starts the shared tick if it is not running; io_ops.tick says when it may stop. */
void loop_arm_tick(struct holder *h);

/* conn.c: every function runs on the loop thread */
extern const struct io_ops conn_io; /* what holder_init takes */
int conn_apply_limits(const struct holder *h, int fd);
int conn_reserve(struct holder *h, int fd);
void conns_release(struct holder *h);
void conn_on_event(struct holder *h, int fd, uint32_t events);
void conn_issue_connect(struct holder *h, const uint32_t *tuple);
void conn_issue_connects(struct holder *h, const uint32_t *tuples, size_t n);
/* Before any connect: the IPv6 table (base, then destinations; 16 bytes each). 0 or errno. */
int holder_set_addresses6(struct holder *h, const uint8_t *table, size_t len);
void conn_close(struct holder *h, int fd, int reason);
int64_t conn_ping_all(struct holder *h, uint32_t seq);
int64_t conn_churn(struct holder *h, uint32_t count);
void conn_close_all(struct holder *h);
int conn_send(struct holder *h, int fd, const uint8_t *buf, size_t len);
/* What a read returned (n bytes in h->in, 0 EOF, < 0 with err): tls.c feeds its records here. */
void conn_input(struct holder *h, int fd, ssize_t n, int err);

/* The protocols' tables (proto/frames.c, proto/client.c), and proto/registry.c, which sets
 * h->pops from the kind before the first connect (every holder: serve's too). */
extern const struct proto_ops frames_ops, client_ops;
void proto_configure(struct holder *h, int kind);

/* listener.c */
int listener_open(const char *host, uint32_t port, int backlog, int *out_fd);

/* stats.c: every counter (calls nothing) */
extern const char *const stat_names[ST_COUNT]; /* in enum stat_index order */
void stats_error(struct holder *h, int err);
void stats_code(struct holder *h, int kind, uint32_t code);
void stats_bad(struct holder *h, const uint8_t *p, size_t n);
void stats_sample(struct holder *h, struct sample_buf *b, uint64_t value);
void stats_free_samples(struct holder *h);

/* clock.c */
uint64_t clock_mono_us(void);
uint64_t clock_real_us(void);

/* proto/frames.c: connlab frames (frames_parse is exported for the fuzz harness) */
int frames_parse(struct holder *h, struct conn *c, const uint8_t *p, size_t n, size_t *out_len);
void frame_header_write(uint8_t *p, uint8_t type, uint16_t length, uint32_t seq, uint64_t time_us);
uint16_t frame_length(const uint8_t *hdr);
uint32_t frame_seq(const uint8_t *hdr);
uint64_t frame_time_us(const uint8_t *hdr);

#endif
