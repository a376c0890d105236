/* native/tls.c's configuration surface for binding.c (the addon only). */
#ifndef CONNLAB_TLS_H
#define CONNLAB_TLS_H

#include <stddef.h>
#include <stdint.h>

struct holder;

struct tls_config {
  const char *sni;          /* server_name to send; NULL or an IP literal: none */
  const uint8_t *alpn;      /* ALPN list in wire format (length-prefixed names); NULL: none */
  size_t alpn_len;
  int verify;               /* 0: --insecure, accept any certificate */
  const char *roots_pem;    /* the trusted CA certificates (PEM), when verifying */
  size_t roots_len;
  const char *verify_name;  /* the host name or IP the certificate must carry */
  const char *groups;       /* key exchange groups, OpenSSL's list syntax ("X25519:P-256") */
};

#define TLS_REASONS 8

struct tls_reason {
  char text[120];
  uint64_t count;
};

/* Before the first connect. NULL when configured, else what is wrong (the holder keeps
 * what was set up so far, freed with it). */
const char *tls_configure(struct holder *h, const struct tls_config *cfg);
/* Failure reason i (0..TLS_REASONS-1): 1 with its text and count, 0 when unused. */
int tls_reason_at(struct holder *h, int i, const char **text, uint64_t *count);
const char *tls_library_version(void);

#endif
