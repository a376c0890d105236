/* TLS 1.3 after the handshake without OpenSSL's SSL object (tls13.c says why). tls.c
 * runs the handshake with OpenSSL, captures the two application traffic secrets through
 * the key log callback, and when the connection is TLS 1.3 with one of its three AEAD
 * suites hands it over here and frees the SSL. */
#ifndef CONNLAB_TLS13_H
#define CONNLAB_TLS13_H

#include <stddef.h>
#include <stdint.h>

#include "ossl.h"

struct holder;
struct tls13;

/* Per holder, loop thread only: one cipher context re-keyed per record, and the
 * buffers records are read into and sealed into. */
/* What tls13.c calls when a connection must close over a bad or unsealable record: tls.c's
 * tls_fail, handed in (not named) so this file never calls back into its caller. */
typedef void tls13_fail_fn(struct holder *h, int fd, const char *reason);

struct tls13_scratch {
  EVP_CIPHER_CTX *ctx;
  uint8_t *in, *out;
  tls13_fail_fn *fail;
};

int tls13_scratch_init(struct tls13_scratch *x, tls13_fail_fn *fail); /* 0, or -1 out of memory */
void tls13_scratch_free(struct tls13_scratch *x);

/* One connection's keys, allocated when its handshake starts. */
struct tls13 *tls13_new(void);
void tls13_free(struct tls13 *k);
/* A key log line OpenSSL produced for k's handshake (client: our side opened it). */
void tls13_keylog(struct tls13 *k, const char *line, int client);
/* 0 when k now carries the connection (TLS 1.3, a known suite, both secrets, nothing
 * buffered in s): s may be freed. -1: keep using s. */
int tls13_take_over(struct tls13 *k, SSL *s);

/* The socket is readable: records are opened and their data fed to conn_input. */
void tls13_on_readable(struct holder *h, int fd, struct tls13 *k, struct tls13_scratch *x);
/* Application data, all or nothing like send(): 0, or -1 when fd was closed. */
int tls13_send(struct holder *h, int fd, struct tls13 *k, struct tls13_scratch *x, const uint8_t *buf, size_t len);
/* Best effort: buf (may be empty) and a close_notify alert. */
void tls13_goodbye(struct holder *h, int fd, struct tls13 *k, struct tls13_scratch *x, const uint8_t *buf, size_t len);

/* tls.c: count `reason` and close fd as `tls`. */
void tls_fail(struct holder *h, int fd, const char *reason);

#endif
