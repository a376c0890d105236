/* TLS under the client protocols (https, wss, MQTT over TLS, TLS over tcp), with the
 * OpenSSL inside the node binary: its headers come with Node's (node-gyp's include dir),
 * its symbols are exported by `node` and resolve when the addon is dlopen()ed, so no
 * libssl package is needed. That is also why this file is linked into the addon only
 * (binding.gyp) and reached from conn.c through struct tls_ops (holder.h): the fuzz
 * harness and a worker runtime without Node link conn.c without OpenSSL.
 *
 * One SSL_CTX per holder (set once before the first connect: roots, verification,
 * ALPN); one SSL per connection in a side table indexed by fd, like the protocol state.
 * Non-blocking: the handshake is driven by epoll readiness. A socket is registered for
 * EPOLLIN once established; only while the handshake wants to write (a full send
 * buffer: rare) is EPOLLOUT added, and removed when it moves on (CF_TLS_WRITE). After
 * the handshake, the protocol opens (h->pops) and every protocol byte goes through SSL_write (all or
 * nothing, like send(): SSL_MODE_ENABLE_PARTIAL_WRITE stays off, and a write that would
 * block closes the connection `slow`) and SSL_read. SSL_MODE_RELEASE_BUFFERS frees the
 * read and write buffers of an idle connection (README "TLS" has the bytes it saves). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/mman.h>
#include <sys/socket.h>

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include "holder.h"
#include "tls.h"

struct tls_state {
  SSL_CTX *ctx;
  SSL **ssl; /* by fd: one anonymous mapping, zero pages until touched */
  int cap;
  char *sni; /* NULL: none (an IP literal is never sent as SNI, RFC 6066) */
  struct tls_reason reasons[TLS_REASONS];
};

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

static SSL **slot(struct holder *h, int fd) {
  struct tls_state *t = state(h);
  if (fd >= t->cap) {
    int cap = h->conns_cap > fd ? h->conns_cap : fd + 1;
    size_t old = (size_t)t->cap * sizeof(SSL *), want = (size_t)cap * sizeof(SSL *);
    void *p = t->ssl == NULL ? mmap(NULL, want, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0)
                             : mremap(t->ssl, old, want, MREMAP_MAYMOVE);
    if (p == MAP_FAILED) return NULL;
    t->ssl = p;
    t->cap = cap;
  }
  return &t->ssl[fd];
}

static SSL *ssl_of(struct holder *h, int fd) { return fd < state(h)->cap ? state(h)->ssl[fd] : NULL; }

/* EPOLLOUT on while the handshake waits to write, off otherwise. */
static void want_write(struct holder *h, int fd, int on) {
  struct conn *c = &h->conns[fd];
  if (!!(c->flags & CF_TLS_WRITE) == on) return;
  struct epoll_event ev = {.events = EPOLLIN | (on ? EPOLLOUT : 0), .data.fd = fd};
  epoll_ctl(h->epfd, EPOLL_CTL_MOD, fd, &ev);
  c->flags = (uint8_t)(on ? c->flags | CF_TLS_WRITE : c->flags & ~CF_TLS_WRITE);
}

/* A failed handshake or a bad record: `tls` with the reason OpenSSL gives, except a peer
 * that closed or reset before answering at all, which is the server's FIN or RST (and
 * `early` when it came at once: a server out of descriptors). */
static void fail(struct holder *h, int fd, SSL *s, int err, int sys_errno) {
  char text[sizeof ((struct tls_reason *)0)->text];
  unsigned long e = ERR_peek_error();
  long verify = SSL_get_verify_result(s);
  if (err == SSL_ERROR_SYSCALL && e == 0) {
    ERR_clear_error();
    conn_close(h, fd, sys_errno == 0 ? CR_PEER : sys_errno == EAGAIN ? CR_SLOW : CR_RESET);
    return;
  }
  if (verify != X509_V_OK) {
    snprintf(text, sizeof text, "certificate verify failed: %s", X509_verify_cert_error_string(verify));
  } else if (e != 0) {
    const char *reason = ERR_reason_error_string(e);
    snprintf(text, sizeof text, "%s", reason ? reason : "error");
  } else {
    snprintf(text, sizeof text, "SSL_get_error %d", err);
  }
  ERR_clear_error();
  note_reason(h, text);
  conn_close(h, fd, CR_TLS);
}

static void on_start(struct holder *h, int fd) {
  struct tls_state *t = state(h);
  SSL **at = slot(h, fd);
  SSL *s = at ? SSL_new(t->ctx) : NULL;
  h->conns[fd].u.start_us = clock_mono_us(); /* an early close counts from the TCP handshake */
  if (!s || SSL_set_fd(s, fd) != 1 || (t->sni && SSL_set_tlsext_host_name(s, t->sni) != 1)) {
    if (s) SSL_free(s);
    ERR_clear_error();
    stats_error(h, ENOMEM);
    conn_close(h, fd, CR_LOCAL);
    return;
  }
  SSL_set_connect_state(s);
  *at = s;
  h->tls->on_event(h, fd, EPOLLOUT); /* sends the ClientHello */
}

/* One handshake step. Returns 1 when the protocol runs (proto_open done), 0 when it
 * waits for the socket, -1 when the connection is closed. */
static int handshake(struct holder *h, int fd, SSL *s) {
  ERR_clear_error();
  errno = 0;
  int rc = SSL_do_handshake(s);
  if (rc == 1) {
    want_write(h, fd, 0);
    h->conns[fd].flags |= CF_TLS_OPEN | CF_GOT_BYTES; /* the server answered: accepted, not silent */
    STAT_ADD(h, ST_TLS_HANDSHAKES, 1);
    if (h->pops->open(h, fd) != 0 || h->conns[fd].state != CS_CLIENT) return -1; /* it closed fd */
    if (h->conns[fd].flags & CF_TLS_PING) { /* this round's ping, late: the round waits for it */
      h->conns[fd].flags &= (uint8_t)~CF_TLS_PING;
      if (h->pops->ping(h, fd) > 0) STAT_ADD(h, ST_PINGS_SENT, 1);
      if (h->conns[fd].state != CS_CLIENT) return -1;
    }
    return 1;
  }
  int err = SSL_get_error(s, rc);
  if (err == SSL_ERROR_WANT_READ || err == SSL_ERROR_WANT_WRITE) {
    want_write(h, fd, err == SSL_ERROR_WANT_WRITE);
    return 0;
  }
  fail(h, fd, s, err, errno);
  return -1;
}

/* Reads every record the socket and OpenSSL's buffer hold (epoll is level-triggered on
 * the socket, not on what OpenSSL has already decrypted) and feeds conn_input. */
static void read_records(struct holder *h, int fd, SSL *s) {
  for (;;) {
    ERR_clear_error();
    errno = 0;
    int n = SSL_read(s, h->in, SCRATCH_BYTES);
    if (n > 0) {
      conn_input(h, fd, n, 0);
      if (h->conns[fd].state != CS_CLIENT || ssl_of(h, fd) != s) return; /* closed by the protocol */
      continue;
    }
    int err = SSL_get_error(s, n);
    if (err == SSL_ERROR_WANT_READ || err == SSL_ERROR_WANT_WRITE) return;
    if (err == SSL_ERROR_ZERO_RETURN || (err == SSL_ERROR_SYSCALL && ERR_peek_error() == 0)) {
      int e = errno;
      ERR_clear_error();
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
  if (!s) return;
  if (!(h->conns[fd].flags & CF_TLS_OPEN) && handshake(h, fd, s) <= 0) return;
  read_records(h, fd, s);
}

static int on_send(struct holder *h, int fd, const uint8_t *buf, size_t len) {
  SSL *s = ssl_of(h, fd);
  if (!s || !(h->conns[fd].flags & CF_TLS_OPEN)) {
    conn_close(h, fd, CR_LOCAL);
    return -1;
  }
  ERR_clear_error();
  errno = 0;
  int n = SSL_write(s, buf, (int)len);
  if (n == (int)len) {
    STAT_ADD(h, ST_BYTES_OUT, len);
    return 0;
  }
  int err = SSL_get_error(s, n);
  if (err == SSL_ERROR_WANT_WRITE || err == SSL_ERROR_WANT_READ) conn_close(h, fd, CR_SLOW); /* nothing queued, as without TLS */
  else if (err == SSL_ERROR_SYSCALL && ERR_peek_error() == 0) conn_close(h, fd, errno == ETIMEDOUT ? CR_SLOW : CR_RESET);
  else fail(h, fd, s, err, errno);
  ERR_clear_error();
  return -1;
}

static void on_goodbye(struct holder *h, int fd, const uint8_t *buf, size_t len) {
  SSL *s = ssl_of(h, fd);
  if (!s || !(h->conns[fd].flags & CF_TLS_OPEN)) return;
  if (len) (void)SSL_write(s, buf, (int)len);
  (void)SSL_shutdown(s); /* close_notify, not waiting for the peer's */
  ERR_clear_error();
}

static void on_end(struct holder *h, int fd) {
  SSL *s = ssl_of(h, fd);
  if (!s) return;
  SSL_free(s);
  state(h)->ssl[fd] = NULL;
}

static void on_release(struct holder *h) {
  struct tls_state *t = state(h);
  if (!t) return;
  for (int fd = 0; fd < t->cap; fd++) {
    if (t->ssl[fd]) SSL_free(t->ssl[fd]);
  }
  if (t->ssl) munmap(t->ssl, (size_t)t->cap * sizeof(SSL *));
  SSL_CTX_free(t->ctx);
  free(t->sni);
  free(t);
  h->tls_state = NULL;
  h->tls = NULL;
}

static const struct tls_ops OPS = {on_start, on_event, on_send, on_goodbye, on_end, on_release};

/* Adds every certificate of a PEM text to the context's store; the count added. */
static int add_roots(SSL_CTX *ctx, const char *pem, size_t len) {
  BIO *bio = BIO_new_mem_buf(pem, (int)len);
  X509_STORE *store = SSL_CTX_get_cert_store(ctx);
  int added = 0;
  X509 *x;
  while (bio && (x = PEM_read_bio_X509(bio, NULL, NULL, NULL)) != NULL) {
    added += X509_STORE_add_cert(store, x) == 1;
    X509_free(x);
  }
  BIO_free(bio);
  ERR_clear_error(); /* the read that ends the loop leaves "no start line" */
  return added;
}

static int is_ip_literal(const char *name) { return strspn(name, "0123456789.") == strlen(name) || strchr(name, ':') != NULL; }

const char *tls_configure(struct holder *h, const struct tls_config *cfg) {
  if (h->tls) return "TLS is already configured";
  struct tls_state *t = calloc(1, sizeof *t);
  SSL_CTX *ctx = t ? SSL_CTX_new(TLS_client_method()) : NULL;
  if (!ctx) {
    free(t);
    return "out of memory (SSL_CTX_new)";
  }
  t->ctx = ctx;
  h->tls_state = t;
  h->tls = &OPS;
  SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
  SSL_CTX_set_mode(ctx, SSL_MODE_RELEASE_BUFFERS);
  SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
  if (cfg->groups && SSL_CTX_set1_groups_list(ctx, cfg->groups) != 1) {
    ERR_clear_error();
    return "unknown key exchange group";
  }
  if (cfg->sni && *cfg->sni && !is_ip_literal(cfg->sni) && !(t->sni = strdup(cfg->sni))) return "out of memory";
  if (cfg->alpn_len && SSL_CTX_set_alpn_protos(ctx, cfg->alpn, (unsigned)cfg->alpn_len) != 0) return "bad ALPN list";
  if (!cfg->verify) {
    SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, NULL);
    return NULL;
  }
  SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
  if (!cfg->roots_pem || add_roots(ctx, cfg->roots_pem, cfg->roots_len) == 0) return "no CA certificate to verify against";
  X509_VERIFY_PARAM *param = SSL_CTX_get0_param(ctx);
  const char *name = cfg->verify_name;
  if (!name || !*name) return "no name to verify the certificate against";
  int ok = is_ip_literal(name) ? X509_VERIFY_PARAM_set1_ip_asc(param, name) : X509_VERIFY_PARAM_set1_host(param, name, 0);
  ERR_clear_error();
  return ok == 1 ? NULL : "bad name to verify the certificate against";
}

int tls_reason_at(struct holder *h, int i, const char **text, uint64_t *count) {
  struct tls_state *t = state(h);
  if (!t || i >= TLS_REASONS) return 0;
  *count = __atomic_load_n(&t->reasons[i].count, __ATOMIC_ACQUIRE);
  *text = t->reasons[i].text;
  return *count != 0;
}

const char *tls_library_version(void) { return OpenSSL_version(OPENSSL_VERSION); }
