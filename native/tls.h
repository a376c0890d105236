/* native/tls.c's configuration surface for binding.c and the C worker's start.c. */
#ifndef CONNLAB_TLS_H
#define CONNLAB_TLS_H

#include <stddef.h>
#include <stdint.h>

struct holder;

/* A client holder's TLS: every connection it opens runs TLS under its protocol. */
struct tls_config {
  const char *sni;          /* server_name to send; NULL or an IP literal: none */
  const uint8_t *alpn;      /* ALPN list in wire format (length-prefixed names); NULL: none */
  size_t alpn_len;
  int verify;               /* 0: --insecure, accept any certificate */
  const char *roots_pem;    /* the trusted CA certificates (PEM), when verifying */
  size_t roots_len;
  const char *verify_name;  /* the host name or IP the certificate must carry */
  const char *groups;       /* key exchange groups, OpenSSL's list syntax ("X25519:P-256"); NULL: OpenSSL's */
};

/* A serving holder's TLS: every connection it accepts runs TLS (serve --tls-cert). */
struct tls_server_config {
  const char *cert_file;    /* PEM: the certificate, then its chain */
  const char *key_file;     /* PEM: its private key */
  const char *groups;       /* as tls_config.groups */
  int tickets;              /* 1: send TLS 1.3 session tickets (off by default: memory and CPU) */
};

#define TLS_REASONS 8

struct tls_reason {
  char text[120];
  uint64_t count;
};

/* Before the first connect. NULL when configured, else what is wrong (the holder keeps
 * what was set up so far, freed with it). Where OpenSSL 3 cannot be loaded, the reason
 * says so and what to do (ossl.c). */
const char *tls_configure(struct holder *h, const struct tls_config *cfg);
/* Before the first accept; as tls_configure. */
const char *tls_configure_server(struct holder *h, const struct tls_server_config *cfg);
/* Failure reason i (0..TLS_REASONS-1): 1 with its text and count, 0 when unused. */
int tls_reason_at(struct holder *h, int i, const char **text, uint64_t *count);
/* OpenSSL_version() of the library TLS uses; NULL when none can be loaded. */
const char *tls_library_version(void);

#endif
