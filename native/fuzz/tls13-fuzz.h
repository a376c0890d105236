/* The tls13-records target's model (tls13-model.c): the peer's side of a TLS 1.3
 * connection after the handshake, written from RFC 8446 without looking at tls13.c. The
 * generators seal the records they write with keys the harness chose and note, as they
 * write them, what the receiving holder must do: the application data it delivers and
 * the stream offset each record's end makes it due, the KeyUpdate answers it seals (the
 * model seals them too, with its copy of the holder's write keys, so they compare byte
 * for byte), and the close that ends it (reason and offset). The stream, its record
 * starts, the answers and the verdict live in a struct pmodel (proto-fuzz.h), so reads,
 * mutation and answer bookkeeping are the protocol targets' own.
 *
 * Where tls13.c is deliberately narrower than the RFC the model says so where it writes
 * it: a post-handshake message split across records closes the connection (RFC 8446 5.1
 * allows it; connlab's peers never send one), and its failure texts are tls13.c's. */
#ifndef CONNLAB_FUZZ_TLS13_H
#define CONNLAB_FUZZ_TLS13_H

#include "proto-fuzz.h"
#include "tls13.h"

#define T_HEADER 5
#define T_TAG 16
#define T_PLAIN_MAX 16384                  /* RFC 8446 5.1 */
#define T_BODY_MAX (T_PLAIN_MAX + 256)     /* 5.2: TLSCiphertext.length */
#define T_APPLICATION 23
#define T_ALERT 21
#define T_HANDSHAKE 22

struct tsuite {
  const char *name;
  uint32_t id; /* SSL_CIPHER_get_id */
  int key_len, hash_len;
};
extern const struct tsuite TSUITES[3];

/* One direction's keys: a traffic secret, the key and IV derived from it, the sequence. */
struct tdir {
  uint8_t secret[48], key[32], iv[12];
  uint64_t seq;
};

/* How the holder's connection ends; TK_OPEN is pmodel's "no verdict". */
enum { TK_OPEN = PV_OK, TK_FAIL = 100, TK_EOF, TK_RESET };

struct tmodel {
  struct pmodel pm;
  int suite;
  struct tdir rd0, wr0;      /* the holder's read and write secrets at take-over */
  struct tdir peer, holder;  /* now: what the peer seals with, what the holder seals with */
  uint8_t *plain;            /* the application data, in order */
  size_t plain_len, plain_cap;
  size_t *plain_at, *plain_end; /* record i's data is due at plain_at[i], ends at plain_end[i] */
  size_t n_plain, cap_plain;
  char fail_text[128];       /* TK_FAIL: tls13.c's reason */
  int refuse_answers;        /* the peer shut its reading side: a KeyUpdate answer resets */
};

/* A fresh model for suite (0..2) with these secrets (NULL: random from r). */
void tm_start(struct tmodel *m, struct rng *r, int suite, const uint8_t *rd_secret, const uint8_t *wr_secret);
void tm_free(void);

/* One record from the peer: TLSInnerPlaintext (content, type, pad zeros) sealed with
 * m->peer and appended, nothing expected of it; the stream offset of its end. */
size_t tm_record(struct tmodel *m, uint8_t type, const uint8_t *content, size_t len, size_t pad);
/* Generators: each appends records (sealed with m->peer) and their expected effects. */
void tm_app(struct tmodel *m, struct rng *r, size_t len, size_t pad);
void tm_tickets(struct tmodel *m, struct rng *r, unsigned count);
void tm_key_update(struct tmodel *m, struct rng *r, int requested);
void tm_close_notify(struct tmodel *m, struct rng *r);
/* A run of valid records: data of every size, tickets, key updates; sometimes a close. */
void tm_gen_valid(struct tmodel *m, struct rng *r, unsigned records, int may_close);
/* One record (or header) that breaks a rule, with the close it must cause: rule `kind`
 * (0..TM_BREAKERS-1), or any when negative. */
#define TM_BREAKERS 13
void tm_gen_breaker(struct tmodel *m, struct rng *r, int kind);

/* Application data due once `pos` stream bytes are in; answer bytes likewise. */
size_t tm_plain_due(const struct tmodel *m, size_t pos);
size_t tm_answers_due(const struct tmodel *m, size_t pos);
/* What tls13_send (goodbye 0) or tls13_goodbye (1) of data must put on the wire, sealed
 * with m->holder (which moves on); a buffer valid until the next call. */
const uint8_t *tm_expect_sends(struct tmodel *m, const uint8_t *data, size_t len, int goodbye, size_t *out_len);

/* RFC 8446 7.1 HKDF-Expand-Label with an empty context, for the stand-in key log. */
void tm_derive(int suite, struct tdir *d);

/* tls13-link.c: the holder end of the connection under test. */
#define TL_MAX_READS 8192
int tl_setup(void); /* loads libcrypto (ossl.c), the holder, the stand-in SSL; 0 or an errno */
void tl_teardown(void);
/* Feeds m's stream in these reads to a fresh connection, checking the data, close and
 * answers after each against m; then (after) the peer's FIN or tls13_send/goodbye. */
void tl_run_reads(struct tmodel *m, struct rng *r, const size_t *sizes, size_t n_reads, int after);
/* Input without a model: the same outcome however it is cut, and never any data but a
 * prefix of `sealed` (NULL: unknown). */
void tl_check_any(struct tmodel *m, struct rng *r, const uint8_t *sealed, size_t sealed_len);
/* The recording protocol closes the connection on some byte of m's (valid) data. */
void tl_run_protocol_closes(struct tmodel *m, struct rng *r);
/* What tls13_take_over must refuse; the checks made. */
uint64_t tl_take_over_refusals(void);

extern const struct fuzz_target tls13_records_target;

#endif
