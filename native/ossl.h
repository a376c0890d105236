/* The few OpenSSL 3 functions tls.c calls, resolved at run time (ossl.c) instead of
 * linked: in the addon they are the OpenSSL inside the node binary (its symbols are
 * global once Node runs), in the C worker the system's libssl.so.3, dlopen()ed only
 * when a holder is configured for TLS. So the worker starts and runs plain TCP on a
 * host without libssl, and says why when TLS is asked for there; and nothing here
 * needs OpenSSL's headers to build (the prebuilds cross-compile without them).
 *
 * The types are opaque and the constants are OpenSSL 3's ABI (the same numbers in
 * 3.0 through 3.5: <openssl/ssl.h>, <openssl/tls1.h>); macros such as SSL_CTX_set_mode
 * are SSL_CTX_ctrl calls with these numbers. */
#ifndef CONNLAB_OSSL_H
#define CONNLAB_OSSL_H

#include <stddef.h>
#include <stdint.h>

typedef struct ssl_st SSL;
typedef struct ssl_ctx_st SSL_CTX;
typedef struct ssl_method_st SSL_METHOD;
typedef struct bio_st BIO;
typedef struct x509_st X509;
typedef struct x509_store_st X509_STORE;
typedef struct X509_VERIFY_PARAM_st X509_VERIFY_PARAM;
typedef struct ssl_cipher_st SSL_CIPHER;
typedef struct evp_md_st EVP_MD;
typedef struct evp_cipher_st EVP_CIPHER;
typedef struct evp_cipher_ctx_st EVP_CIPHER_CTX;
typedef struct engine_st ENGINE;
typedef void (*ossl_keylog_cb)(const SSL *, const char *);

#define OSSL_CTRL_MODE 33
#define OSSL_CTRL_SET_SESS_CACHE_MODE 44
#define OSSL_CTRL_SET_TLSEXT_HOSTNAME 55
#define OSSL_CTRL_SET_GROUPS_LIST 92
#define OSSL_CTRL_SET_MIN_PROTO_VERSION 123
#define OSSL_CTRL_SET_MAX_PROTO_VERSION 124
#define OSSL_MODE_RELEASE_BUFFERS 0x10L
#define OSSL_SESS_CACHE_OFF 0L
#define OSSL_NAMETYPE_HOST_NAME 0L
#define OSSL_TLS1_2_VERSION 0x0303L
#define OSSL_TLS1_3_VERSION 0x0304L
#define OSSL_OP_NO_TICKET ((uint64_t)1 << 14)
#define OSSL_OP_IGNORE_UNEXPECTED_EOF ((uint64_t)1 << 7)
#define OSSL_VERIFY_NONE 0
#define OSSL_VERIFY_PEER 1
#define OSSL_FILETYPE_PEM 1
#define OSSL_ERROR_WANT_READ 2
#define OSSL_ERROR_WANT_WRITE 3
#define OSSL_ERROR_SYSCALL 5
#define OSSL_ERROR_ZERO_RETURN 6
#define OSSL_X509_V_OK 0L
#define OSSL_VERSION_TEXT 0
#define OSSL_CTRL_AEAD_GET_TAG 0x10
#define OSSL_CTRL_AEAD_SET_TAG 0x11
#define OSSL_CK_AES_128_GCM_SHA256 0x03001301u
#define OSSL_CK_AES_256_GCM_SHA384 0x03001302u
#define OSSL_CK_CHACHA20_POLY1305_SHA256 0x03001303u

/* Every function, as X(return type, name, parameters). */
#define OSSL_FUNCTIONS(X)                                                                 \
  X(const SSL_METHOD *, TLS_client_method, (void))                                        \
  X(const SSL_METHOD *, TLS_server_method, (void))                                        \
  X(SSL_CTX *, SSL_CTX_new, (const SSL_METHOD *))                                         \
  X(void, SSL_CTX_free, (SSL_CTX *))                                                      \
  X(long, SSL_CTX_ctrl, (SSL_CTX *, int, long, void *))                                   \
  X(uint64_t, SSL_CTX_set_options, (SSL_CTX *, uint64_t))                                 \
  X(int, SSL_CTX_set_num_tickets, (SSL_CTX *, size_t))                                    \
  X(void, SSL_CTX_set_verify, (SSL_CTX *, int, void *))                                   \
  X(X509_STORE *, SSL_CTX_get_cert_store, (const SSL_CTX *))                              \
  X(X509_VERIFY_PARAM *, SSL_CTX_get0_param, (SSL_CTX *))                                 \
  X(int, SSL_CTX_set_alpn_protos, (SSL_CTX *, const unsigned char *, unsigned int))       \
  X(int, SSL_CTX_use_certificate_chain_file, (SSL_CTX *, const char *))                   \
  X(int, SSL_CTX_use_PrivateKey_file, (SSL_CTX *, const char *, int))                     \
  X(int, SSL_CTX_check_private_key, (const SSL_CTX *))                                    \
  X(SSL *, SSL_new, (SSL_CTX *))                                                          \
  X(void, SSL_free, (SSL *))                                                              \
  X(int, SSL_set_fd, (SSL *, int))                                                        \
  X(long, SSL_ctrl, (SSL *, int, long, void *))                                           \
  X(void, SSL_set_connect_state, (SSL *))                                                 \
  X(void, SSL_set_accept_state, (SSL *))                                                  \
  X(int, SSL_do_handshake, (SSL *))                                                       \
  X(int, SSL_get_error, (const SSL *, int))                                               \
  X(int, SSL_read, (SSL *, void *, int))                                                  \
  X(int, SSL_write, (SSL *, const void *, int))                                           \
  X(int, SSL_shutdown, (SSL *))                                                           \
  X(long, SSL_get_verify_result, (const SSL *))                                           \
  X(const char *, SSL_get_version, (const SSL *))                                         \
  X(const char *, OpenSSL_version, (int))                                                 \
  X(unsigned int, OPENSSL_version_major, (void))                                          \
  X(unsigned long, ERR_peek_error, (void))                                                \
  X(void, ERR_clear_error, (void))                                                        \
  X(const char *, ERR_reason_error_string, (unsigned long))                               \
  X(const char *, X509_verify_cert_error_string, (long))                                  \
  X(int, X509_STORE_add_cert, (X509_STORE *, X509 *))                                    \
  X(void, X509_free, (X509 *))                                                            \
  X(BIO *, BIO_new_mem_buf, (const void *, int))                                          \
  X(int, BIO_free, (BIO *))                                                               \
  X(X509 *, PEM_read_bio_X509, (BIO *, X509 **, void *, void *))                          \
  X(int, X509_VERIFY_PARAM_set1_ip_asc, (X509_VERIFY_PARAM *, const char *))             \
  X(int, X509_VERIFY_PARAM_set1_host, (X509_VERIFY_PARAM *, const char *, size_t))      \
  X(void, SSL_CTX_set_keylog_callback, (SSL_CTX *, ossl_keylog_cb))                       \
  X(int, SSL_version, (const SSL *))                                                      \
  X(int, SSL_has_pending, (const SSL *))                                                  \
  X(const SSL_CIPHER *, SSL_get_current_cipher, (const SSL *))                            \
  X(uint32_t, SSL_CIPHER_get_id, (const SSL_CIPHER *))                                    \
  X(unsigned char *, HMAC, (const EVP_MD *, const void *, int, const unsigned char *, size_t, unsigned char *, unsigned int *)) \
  X(const EVP_MD *, EVP_sha256, (void))                                                   \
  X(const EVP_MD *, EVP_sha384, (void))                                                   \
  X(const EVP_CIPHER *, EVP_aes_128_gcm, (void))                                          \
  X(const EVP_CIPHER *, EVP_aes_256_gcm, (void))                                          \
  X(const EVP_CIPHER *, EVP_chacha20_poly1305, (void))                                    \
  X(EVP_CIPHER_CTX *, EVP_CIPHER_CTX_new, (void))                                         \
  X(void, EVP_CIPHER_CTX_free, (EVP_CIPHER_CTX *))                                        \
  X(int, EVP_CIPHER_CTX_ctrl, (EVP_CIPHER_CTX *, int, int, void *))                       \
  X(int, EVP_EncryptInit_ex, (EVP_CIPHER_CTX *, const EVP_CIPHER *, ENGINE *, const unsigned char *, const unsigned char *)) \
  X(int, EVP_EncryptUpdate, (EVP_CIPHER_CTX *, unsigned char *, int *, const unsigned char *, int)) \
  X(int, EVP_EncryptFinal_ex, (EVP_CIPHER_CTX *, unsigned char *, int *))                 \
  X(int, EVP_DecryptInit_ex, (EVP_CIPHER_CTX *, const EVP_CIPHER *, ENGINE *, const unsigned char *, const unsigned char *)) \
  X(int, EVP_DecryptUpdate, (EVP_CIPHER_CTX *, unsigned char *, int *, const unsigned char *, int)) \
  X(int, EVP_DecryptFinal_ex, (EVP_CIPHER_CTX *, unsigned char *, int *))

struct ossl {
#define OSSL_FIELD(ret, name, params) ret(*name) params;
  OSSL_FUNCTIONS(OSSL_FIELD)
#undef OSSL_FIELD
};

/* Filled by ossl_load(); read only after it returned NULL. */
extern struct ossl ossl;

/* Resolves every function, once (later calls return the first answer): NULL when TLS
 * can run, else a sentence that says what is missing and what to do. Where the process
 * already has OpenSSL 3 (Node), that one; else dlopen() of $CONNLAB_LIBSSL when set
 * (tests name a missing one), else libssl.so.3. */
const char *ossl_load(void);

#endif
