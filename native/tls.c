/* TLS on both ends of a holder: client connections (https, wss, MQTT over TLS, TLS over
 * tcp, connlab frames) and accepted ones (serve --tls-cert). OpenSSL 3 is resolved at
 * run time (ossl.c): in the addon the copy inside the node binary, in the C worker the
 * system's libssl.so.3, loaded only when a holder is configured for TLS. conn.c reaches
 * this file through struct tls_ops (holder.h) for the connections whose side
 * h->tls_sides names, so the fuzz harness links conn.c without it.
 *
 * One SSL_CTX per side and holder (set once before the first connect or accept: roots,
 * verification, ALPN; the certificate and key); one SSL per connection in a side table
 * indexed by fd, like the protocol state. Non-blocking: the handshake is driven by epoll
 * readiness. A socket is registered for EPOLLIN once established; only while the
 * handshake wants to write (a full send buffer: rare) is EPOLLOUT added, and removed
 * when it moves on (CF_TLS_WRITE). After the handshake a client's protocol starts
 * (h->pops->open) and every byte goes through SSL_write (all or nothing, like send():
 * SSL_MODE_ENABLE_PARTIAL_WRITE stays off, and a write that would block closes the
 * connection `slow`) and SSL_read.
 *
 * Memory per connection is the point (docs/tls.md has the bytes): SSL_MODE_RELEASE_BUFFERS
 * frees an idle connection's record buffers, no session cache on either side and no
 * tickets from the server (a TLS 1.3 client keeps each ticket it is sent, with a copy of
 * the session), and classic key exchange groups by default (tls.h). */
#include <errno.h>
#ifdef __GLIBC__
#include <malloc.h>
#endif
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/mman.h>
#include <sys/socket.h>

#include "holder.h"
#include "ossl.h"
#include "proto/proto.h"
#include "tls.h"
#include "tls13.h"

struct tls_state {
  SSL_CTX *client, *server; /* NULL: that side is plain TCP */
  SSL **ssl;                /* by fd: one anonymous mapping, zero pages until touched */
  struct tls13 **keys;      /* by fd: TLS 1.3 keys, carrying the connection once the SSL is freed */
  int cap;
  int server_tickets;       /* the server sends tickets: they use the keys, so it keeps its SSLs */
  int handshaking;          /* connections with a handshake in flight */
  uint64_t handshakes_untrimmed, trimmed_us;
  struct tls13_scratch scratch;
  char *sni; /* NULL: none (an IP literal is never sent as SNI, RFC 6066) */
  struct tls_reason reasons[TLS_REASONS];
};

/* The keys the key log callback fills: those of the handshake this thread is running. */
static __thread struct tls13 *capturing;
static __thread int capturing_client;

static void on_keylog(const SSL *s, const char *line) {
  (void)s;
  if (capturing) tls13_keylog(capturing, line, capturing_client);
}

static struct tls_state *state(struct holder *h) { return h->tls_state; }

/* Counts one failure under its text: the first TLS_REASONS - 1 distinct texts get a slot
 * each, any later one counts under "other". Read racily by the JS thread: the text is
 * written before the count that publishes it. */
static void note_reason(struct holder *h, const char *text) {
  struct tls_reason *r = state(h)->reasons;
  int i = 0;
  while (i < TLS_REASONS - 1 && __atomic_load_n(&r[i].count, __ATOMIC_ACQUIRE) && strcmp(r[i].text, text) != 0) i++;
  if (__atomic_load_n(&r[i].count, __ATOMIC_ACQUIRE) == 0) snprintf(r[i].text, sizeof r[i].text, "%s", i == TLS_REASONS - 1 ? "other" : text);
  __atomic_fetch_add(&r[i].count, 1, __ATOMIC_RELEASE);
}

/* Grows one pointer table to cap entries (zero pages until touched). */
static void *grow_table(void *table, int old_cap, int cap) {
  size_t old = (size_t)old_cap * sizeof(void *), want = (size_t)cap * sizeof(void *);
  void *p = table == NULL ? mmap(NULL, want, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0)
                          : mremap(table, old, want, MREMAP_MAYMOVE);
  return p == MAP_FAILED ? NULL : p;
}

static SSL **slot(struct holder *h, int fd) {
  struct tls_state *t = state(h);
  if (fd >= t->cap) {
    int cap = h->conns_cap > fd ? h->conns_cap : fd + 1;
    void *ssl = grow_table(t->ssl, t->cap, cap);
    if (ssl) t->ssl = ssl;
    void *keys = ssl ? grow_table(t->keys, t->cap, cap) : NULL;
    if (!keys) return NULL; /* both tables keep t->cap entries */
    t->keys = keys;
    t->cap = cap;
  }
  return &t->ssl[fd];
}

static SSL *ssl_of(struct holder *h, int fd) { return fd < state(h)->cap ? state(h)->ssl[fd] : NULL; }
static struct tls13 *keys_of(struct holder *h, int fd) { return fd < state(h)->cap ? state(h)->keys[fd] : NULL; }

void tls_fail(struct holder *h, int fd, const char *reason) {
  note_reason(h, reason);
  conn_close(h, fd, CR_TLS);
}

/* EPOLLOUT on while the handshake waits to write, off otherwise. */
static void want_write(struct holder *h, int fd, int on) {
  struct conn *c = &h->conns[fd];
  if (!!(c->flags & CF_TLS_WRITE) == on) return;
  struct epoll_event ev = {.events = EPOLLIN | (on ? EPOLLOUT : 0), .data.fd = fd};
  epoll_ctl(h->epfd, EPOLL_CTL_MOD, fd, &ev);
  c->flags = (uint8_t)(on ? c->flags | CF_TLS_WRITE : c->flags & ~CF_TLS_WRITE);
}

/* A failed handshake or a bad record: `tls` with the reason OpenSSL gives, except a peer
 * that closed or reset before answering at all, which is the peer's FIN or RST (and
 * `early` when it came at once: a server out of descriptors). */
static void fail(struct holder *h, int fd, SSL *s, int err, int sys_errno) {
  char text[sizeof ((struct tls_reason *)0)->text];
  unsigned long e = ossl.ERR_peek_error();
  long verify = ossl.SSL_get_verify_result(s);
  if (err == OSSL_ERROR_SYSCALL && e == 0) {
    ossl.ERR_clear_error();
    conn_close(h, fd, sys_errno == 0 ? CR_PEER : sys_errno == EAGAIN ? CR_SLOW : CR_RESET);
    return;
  }
  if (verify != OSSL_X509_V_OK) {
    snprintf(text, sizeof text, "certificate verify failed: %s", ossl.X509_verify_cert_error_string(verify));
  } else if (e != 0) {
    const char *reason = ossl.ERR_reason_error_string(e);
    snprintf(text, sizeof text, "%s", reason ? reason : "error");
  } else {
    snprintf(text, sizeof text, "SSL_get_error %d", err);
  }
  ossl.ERR_clear_error();
  note_reason(h, text);
  conn_close(h, fd, CR_TLS);
}

static void on_start(struct holder *h, int fd) {
  struct tls_state *t = state(h);
  int client = h->conns[fd].state == CS_CLIENT;
  SSL **at = slot(h, fd);
  SSL *s = at ? ossl.SSL_new(client ? t->client : t->server) : NULL;
  if (client) h->conns[fd].u.start_us = clock_mono_us(); /* an early close counts from the TCP handshake */
  if (!s || ossl.SSL_set_fd(s, fd) != 1 ||
      (client && t->sni && ossl.SSL_ctrl(s, OSSL_CTRL_SET_TLSEXT_HOSTNAME, OSSL_NAMETYPE_HOST_NAME, t->sni) != 1)) {
    if (s) ossl.SSL_free(s);
    ossl.ERR_clear_error();
    stats_error(h, ENOMEM);
    conn_close(h, fd, CR_LOCAL);
    return;
  }
  *at = s;
  t->keys[fd] = tls13_new(); /* NULL: this connection keeps its SSL */
  t->handshaking++;
  if (!client) {
    ossl.SSL_set_accept_state(s); /* waits for the ClientHello: EPOLLIN is on */
    return;
  }
  ossl.SSL_set_connect_state(s);
  h->tls->on_event(h, fd, EPOLLOUT); /* sends the ClientHello */
}

/* The handshake is done: a client's protocol starts, and a ping round that came during
 * the handshake is answered now. Returns -1 when that closed fd. */
static int opened(struct holder *h, int fd) {
  struct conn *c = &h->conns[fd];
  int state = c->state;
  c->flags |= CF_TLS_OPEN | CF_GOT_BYTES; /* the peer answered: accepted, not silent */
  STAT_ADD(h, ST_TLS_HANDSHAKES, 1);
  if (state != CS_CLIENT) return 0;
  if (h->pops->open(h, fd) != 0 || c->state != state) return -1; /* it closed fd */
  if (c->flags & CF_TLS_PING) { /* this round's ping, late: the round waits for it */
    c->flags &= (uint8_t)~CF_TLS_PING;
    if (h->pops->ping(h, fd) > 0) STAT_ADD(h, ST_PINGS_SENT, 1);
    if (c->state != state) return -1;
  }
  return 0;
}

/* Each handshake allocates and frees ~50 KB in malloc's heap, among the blocks that stay
 * (a TLS 1.2 session); freed but not returned, that was 15 KB per held connection at
 * 2,000. So once no handshake is in flight, at most once a second, the heap's free pages
 * go back to the kernel (the TLS 1.3 keys are not in it: tls13.c). In the C worker and in
 * a Node worker alike. */
static void trim_when_quiet(struct holder *h) {
#ifdef __GLIBC__
  struct tls_state *t = state(h);
  uint64_t now = clock_mono_us();
  if (t->handshaking > 0 || t->handshakes_untrimmed == 0 || now - t->trimmed_us < 1000000) return;
  t->handshakes_untrimmed = 0;
  t->trimmed_us = now;
  malloc_trim(0);
#else
  (void)h;
#endif
}

/* The handshake is done: a TLS 1.3 connection goes on with its keys alone (tls13.c),
 * and its SSL, the bulk of its memory, is freed; any other keeps its SSL. */
static void detach(struct holder *h, int fd, SSL *s) {
  struct tls_state *t = state(h);
  struct tls13 *k = t->keys[fd];
  int client = h->conns[fd].state == CS_CLIENT;
  t->handshaking--;
  t->handshakes_untrimmed++;
  if (k && (client || !t->server_tickets) && tls13_take_over(k, s) == 0 && tls13_scratch_init(&t->scratch, tls_fail) == 0) {
    ossl.SSL_free(s);
    t->ssl[fd] = NULL;
    return;
  }
  tls13_free(k);
  t->keys[fd] = NULL;
}

/* One handshake step. Returns 1 when done (the protocol runs), 0 when it waits for the
 * socket, -1 when the connection is closed. */
static int handshake(struct holder *h, int fd, SSL *s) {
  ossl.ERR_clear_error();
  errno = 0;
  capturing = keys_of(h, fd);
  capturing_client = h->conns[fd].state == CS_CLIENT;
  int rc = ossl.SSL_do_handshake(s);
  capturing = NULL;
  if (rc == 1) {
    want_write(h, fd, 0);
    detach(h, fd, s);
    int open = opened(h, fd);
    trim_when_quiet(h);
    return open == 0 ? 1 : -1;
  }
  int err = ossl.SSL_get_error(s, rc);
  if (err == OSSL_ERROR_WANT_READ || err == OSSL_ERROR_WANT_WRITE) {
    want_write(h, fd, err == OSSL_ERROR_WANT_WRITE);
    return 0;
  }
  fail(h, fd, s, err, errno);
  return -1;
}

/* Reads every record the socket and OpenSSL's buffer hold (epoll is level-triggered on
 * the socket, not on what OpenSSL has already decrypted) and feeds conn_input. */
static void read_records(struct holder *h, int fd, SSL *s) {
  for (;;) {
    ossl.ERR_clear_error();
    errno = 0;
    int n = ossl.SSL_read(s, h->in, SCRATCH_BYTES);
    if (n > 0) {
      conn_input(h, fd, n, 0);
      if (h->conns[fd].state == CS_FREE || ssl_of(h, fd) != s) return; /* closed by the protocol */
      continue;
    }
    int err = ossl.SSL_get_error(s, n);
    if (err == OSSL_ERROR_WANT_READ || err == OSSL_ERROR_WANT_WRITE) return;
    if (err == OSSL_ERROR_ZERO_RETURN || (err == OSSL_ERROR_SYSCALL && ossl.ERR_peek_error() == 0)) {
      int e = errno;
      ossl.ERR_clear_error();
      conn_input(h, fd, e ? -1 : 0, e ? e : 0); /* close_notify or a bare FIN: EOF; else the socket error */
      return;
    }
    fail(h, fd, s, err, errno);
    return;
  }
}

static void on_event(struct holder *h, int fd, uint32_t events) {
  (void)events;
  SSL *s = ssl_of(h, fd);
  if (!s && keys_of(h, fd)) {
    tls13_on_readable(h, fd, keys_of(h, fd), &state(h)->scratch);
    return;
  }
  if (!s) return;
  if (!(h->conns[fd].flags & CF_TLS_OPEN) && handshake(h, fd, s) <= 0) return;
  if (!ssl_of(h, fd)) return; /* carried by its keys now; the next readiness reads */
  read_records(h, fd, s);
}

static int on_send(struct holder *h, int fd, const uint8_t *buf, size_t len) {
  SSL *s = ssl_of(h, fd);
  if (!s && keys_of(h, fd)) return tls13_send(h, fd, keys_of(h, fd), &state(h)->scratch, buf, len);
  if (!s || !(h->conns[fd].flags & CF_TLS_OPEN)) {
    conn_close(h, fd, CR_LOCAL);
    return -1;
  }
  ossl.ERR_clear_error();
  errno = 0;
  int n = ossl.SSL_write(s, buf, (int)len);
  if (n == (int)len) {
    STAT_ADD(h, ST_BYTES_OUT, len);
    return 0;
  }
  int err = ossl.SSL_get_error(s, n);
  if (err == OSSL_ERROR_WANT_WRITE || err == OSSL_ERROR_WANT_READ) conn_close(h, fd, CR_SLOW); /* nothing queued, as without TLS */
  else if (err == OSSL_ERROR_SYSCALL && ossl.ERR_peek_error() == 0) conn_close(h, fd, errno == ETIMEDOUT ? CR_SLOW : CR_RESET);
  else fail(h, fd, s, err, errno);
  ossl.ERR_clear_error();
  return -1;
}

static void on_goodbye(struct holder *h, int fd, const uint8_t *buf, size_t len) {
  SSL *s = ssl_of(h, fd);
  if (!s && keys_of(h, fd)) {
    tls13_goodbye(h, fd, keys_of(h, fd), &state(h)->scratch, buf, len);
    return;
  }
  if (!s || !(h->conns[fd].flags & CF_TLS_OPEN)) return;
  if (len) (void)ossl.SSL_write(s, buf, (int)len);
  (void)ossl.SSL_shutdown(s); /* close_notify, not waiting for the peer's */
  ossl.ERR_clear_error();
}

static void on_end(struct holder *h, int fd) {
  SSL *s = ssl_of(h, fd);
  struct tls13 *k = keys_of(h, fd);
  if (s && !(h->conns[fd].flags & CF_TLS_OPEN)) state(h)->handshaking--; /* closed mid-handshake */
  if (s) ossl.SSL_free(s);
  if (k) tls13_free(k);
  if (s || k) state(h)->ssl[fd] = NULL, state(h)->keys[fd] = NULL;
}

static void on_release(struct holder *h) {
  struct tls_state *t = state(h);
  if (!t) return;
  for (int fd = 0; fd < t->cap; fd++) {
    if (t->ssl[fd]) ossl.SSL_free(t->ssl[fd]);
    tls13_free(t->keys[fd]);
  }
  if (t->ssl) munmap(t->ssl, (size_t)t->cap * sizeof(SSL *));
  if (t->keys) munmap(t->keys, (size_t)t->cap * sizeof(struct tls13 *));
  tls13_scratch_free(&t->scratch);
  if (t->client) ossl.SSL_CTX_free(t->client);
  if (t->server) ossl.SSL_CTX_free(t->server);
  free(t->sni);
  /* The failure reasons stay readable, like the counters, until holder_free frees t. */
  memset(t, 0, offsetof(struct tls_state, reasons));
  h->tls = NULL;
  h->tls_sides = 0;
}

static const struct tls_ops OPS = {on_start, on_event, on_send, on_goodbye, on_end, on_release};

/* Adds every certificate of a PEM text to the context's store; the count added. */
static int add_roots(SSL_CTX *ctx, const char *pem, size_t len) {
  BIO *bio = ossl.BIO_new_mem_buf(pem, (int)len);
  X509_STORE *store = ossl.SSL_CTX_get_cert_store(ctx);
  int added = 0;
  X509 *x;
  while (bio && (x = ossl.PEM_read_bio_X509(bio, NULL, NULL, NULL)) != NULL) {
    added += ossl.X509_STORE_add_cert(store, x) == 1;
    ossl.X509_free(x);
  }
  ossl.BIO_free(bio);
  ossl.ERR_clear_error(); /* the read that ends the loop leaves "no start line" */
  return added;
}

static int is_ip_literal(const char *name) { return strspn(name, "0123456789.") == strlen(name) || strchr(name, ':') != NULL; }

/* The holder's TLS state and a context for one side, with what both sides share: TLS 1.2
 * at least, released buffers, no session cache, and the groups asked for (NULL:
 * OpenSSL's own list). NULL and *why set when it cannot be. */
static SSL_CTX *new_context(struct holder *h, int client, const char *groups, const char **why) {
  if ((*why = ossl_load()) != NULL) return NULL;
  struct tls_state *t = h->tls_state;
  if (!t && !(t = calloc(1, sizeof *t))) return (*why = "out of memory"), NULL;
  h->tls_state = t;
  h->tls = &OPS;
  SSL_CTX *ctx = ossl.SSL_CTX_new(client ? ossl.TLS_client_method() : ossl.TLS_server_method());
  if (!ctx) return (*why = "out of memory (SSL_CTX_new)"), NULL;
  if (client) t->client = ctx;
  else t->server = ctx;
  h->tls_sides |= client ? TLS_SIDE_CLIENT : TLS_SIDE_SERVER;
  ossl.SSL_CTX_ctrl(ctx, OSSL_CTRL_SET_MIN_PROTO_VERSION, OSSL_TLS1_2_VERSION, NULL);
  ossl.SSL_CTX_ctrl(ctx, OSSL_CTRL_MODE, OSSL_MODE_RELEASE_BUFFERS, NULL);
  ossl.SSL_CTX_ctrl(ctx, OSSL_CTRL_SET_SESS_CACHE_MODE, OSSL_SESS_CACHE_OFF, NULL);
  ossl.SSL_CTX_set_keylog_callback(ctx, on_keylog); /* the traffic secrets tls13.c carries on with */
  /* A FIN without close_notify is the peer's close (peer/idle), as without TLS and as
   * tls13.c reads it, not an OpenSSL 3 "unexpected eof" TLS failure. */
  ossl.SSL_CTX_set_options(ctx, OSSL_OP_IGNORE_UNEXPECTED_EOF);
  if (groups && ossl.SSL_CTX_ctrl(ctx, OSSL_CTRL_SET_GROUPS_LIST, 0, (void *)groups) != 1) {
    ossl.ERR_clear_error();
    return (*why = "unknown key exchange group"), NULL;
  }
  return ctx;
}

const char *tls_configure(struct holder *h, const struct tls_config *cfg) {
  const char *why;
  if (h->tls_sides & TLS_SIDE_CLIENT) return "TLS is already configured";
  SSL_CTX *ctx = new_context(h, 1, cfg->groups, &why);
  if (!ctx) return why;
  struct tls_state *t = state(h);
  if (cfg->sni && *cfg->sni && !is_ip_literal(cfg->sni) && !(t->sni = strdup(cfg->sni))) return "out of memory";
  if (cfg->alpn_len && ossl.SSL_CTX_set_alpn_protos(ctx, cfg->alpn, (unsigned)cfg->alpn_len) != 0) return "bad ALPN list";
  if (!cfg->verify) {
    ossl.SSL_CTX_set_verify(ctx, OSSL_VERIFY_NONE, NULL);
    return NULL;
  }
  ossl.SSL_CTX_set_verify(ctx, OSSL_VERIFY_PEER, NULL);
  if (!cfg->roots_pem || add_roots(ctx, cfg->roots_pem, cfg->roots_len) == 0) return "no CA certificate to verify against";
  X509_VERIFY_PARAM *param = ossl.SSL_CTX_get0_param(ctx);
  const char *name = cfg->verify_name;
  if (!name || !*name) return "no name to verify the certificate against";
  int ok = is_ip_literal(name) ? ossl.X509_VERIFY_PARAM_set1_ip_asc(param, name) : ossl.X509_VERIFY_PARAM_set1_host(param, name, 0);
  ossl.ERR_clear_error();
  return ok == 1 ? NULL : "bad name to verify the certificate against";
}

const char *tls_configure_server(struct holder *h, const struct tls_server_config *cfg) {
  static char text[200];
  const char *why;
  if (h->tls_sides & TLS_SIDE_SERVER) return "TLS is already configured";
  SSL_CTX *ctx = new_context(h, 0, cfg->groups, &why);
  if (!ctx) return why;
  /* Tickets would cost a NewSessionTicket per handshake and the client's memory. */
  if (!cfg->tickets) ossl.SSL_CTX_set_num_tickets(ctx, 0);
  if (!cfg->tickets) ossl.SSL_CTX_set_options(ctx, OSSL_OP_NO_TICKET);
  state(h)->server_tickets = cfg->tickets;
  const char *step = ossl.SSL_CTX_use_certificate_chain_file(ctx, cfg->cert_file) != 1 ? "cannot use the certificate"
                     : ossl.SSL_CTX_use_PrivateKey_file(ctx, cfg->key_file, OSSL_FILETYPE_PEM) != 1 ? "cannot use the private key"
                     : ossl.SSL_CTX_check_private_key(ctx) != 1 ? "the private key does not match the certificate"
                                                                : NULL;
  if (!step) return NULL;
  const char *reason = ossl.ERR_reason_error_string(ossl.ERR_peek_error());
  snprintf(text, sizeof text, "%s (%s)", step, reason ? reason : "no reason given");
  ossl.ERR_clear_error();
  return text;
}

int tls_reason_at(struct holder *h, int i, const char **text, uint64_t *count) {
  struct tls_state *t = state(h);
  if (!t || i >= TLS_REASONS) return 0;
  *count = __atomic_load_n(&t->reasons[i].count, __ATOMIC_ACQUIRE);
  *text = t->reasons[i].text;
  return *count != 0;
}

const char *tls_library_version(void) { return ossl_load() == NULL ? ossl.OpenSSL_version(OSSL_VERSION_TEXT) : NULL; }
