/* The client protocol targets' shared parts (proto-http.c, proto-ws.c, proto-mqtt.c):
 * a model that the generators write while they write the bytes, the sink that records
 * what a parser reports, and the drivers that feed a stream in given reads and compare.
 *
 * The model is the generator's own account of what it wrote, from the RFCs (7230/9112
 * for HTTP/1.1, 6455 for WebSocket, MQTT 3.1.1): every event a parser must report, the
 * stream offset at which the bytes that complete it have all arrived, the answer bytes a
 * client must send (WebSocket pongs and close echoes, masked) and the verdict that ends
 * the connection with the offset it falls due. It never looks at the parser's state, so
 * the two do not share a mistake. Where the parsers are deliberately narrower than the
 * RFC (an HTTP line connlab reads a value from must fit HTTP_LINE_KEEP; the limits of
 * proto.h: HTTP_LINE_MAX, HTTP_HEADERS_MAX, HTTP_BODY_MAX), the generators say so where
 * they produce it. */
#ifndef CONNLAB_FUZZ_PROTO_H
#define CONNLAB_FUZZ_PROTO_H

#include "frames.h" /* struct stream, gen_reads */
#include "proto/proto.h"

enum ev_kind { EV_ANSWER = 1, EV_MESSAGE, EV_CODE };

struct pev {
  uint32_t kind, code_kind, a; /* EV_CODE: code_kind and the code; EV_ANSWER: a = gen */
  uint64_t b;                  /* EV_ANSWER: sent_us; EV_MESSAGE: the stamp */
  size_t at;                   /* prefix length at which it is due */
};

struct pmodel {
  struct stream s;
  struct pev *ev;
  size_t n_ev, cap_ev;
  uint8_t *out; /* the answer bytes, in order */
  size_t out_len, out_cap;
  size_t *out_at, *out_end; /* answer i is due at out_at[i] and ends out at out_end[i] */
  size_t n_out, cap_out;
  int verdict;      /* PV_OK: the stream never ends the connection */
  size_t verdict_at; /* SIZE_MAX when verdict is PV_OK */
  /* Target-specific inputs of the run, drawn by the generator. */
  uint32_t requests; /* http/mqtt: answers the client will re-arm for; ws: unused */
  uint32_t gen0;     /* http/mqtt: generation of the first request */
  uint64_t sent0;    /* http/mqtt: its send time */
  uint32_t mask;     /* ws: the masking key */
  int closing;       /* ws: the client sent a close before the stream */
  int eof_body;      /* http: the last response's body ends at EOF */
  uint32_t eof_status; /* http: that response's status */
};

/* p grown (realloc) to hold `need` items of `item` bytes, *cap updated; aborts out of memory. */
void *grow_to(void *p, size_t *cap, size_t need, size_t item);

void pm_clear(struct pmodel *m);
void pm_free(struct pmodel *m);
/* Appends bytes to the stream; pm_mark notes an element start (for splits near it). */
void pm_bytes(struct pmodel *m, const void *p, size_t n);
void pm_str(struct pmodel *m, const char *s);
void pm_mark(struct pmodel *m);
/* Events and answers at the current end of the stream; ignored once a verdict is set. */
void pm_event(struct pmodel *m, uint32_t kind, uint32_t code_kind, uint32_t a, uint64_t b);
void pm_answer(struct pmodel *m, const uint8_t *p, size_t n);
/* The first verdict wins; `at` is a prefix length. */
void pm_verdict(struct pmodel *m, int verdict, size_t at);
static inline int pm_open(const struct pmodel *m) { return m->verdict == PV_OK; }

/* One protocol's client as the harness drives it. */
struct pclient {
  const char *name;
  /* Fresh client state for the run m describes. */
  void (*reset)(const struct pmodel *m);
  int (*feed)(const uint8_t *p, size_t n, const struct proto_sink *sink, struct proto_out *out);
  /* Called on every answer the parser reports: re-arms the next request (http, mqtt). */
  void (*on_answer)(void);
  /* Optional: checks the state after the whole stream went in with no verdict. */
  void (*at_end)(const struct pmodel *m);
  /* Whether every protocol verdict comes with the offending bytes (sink->bad). */
  int feed_reports_bad;
};

/* Feeds m's stream in the given reads and checks every read against the model: the
 * verdict, each event in order with its values, and the answer bytes. */
void pc_check(const struct pclient *c, const struct pmodel *m, const size_t *reads, size_t n_reads);
/* Random reads (gen_reads) then pc_check. */
void pc_check_random(const struct pclient *c, const struct pmodel *m, struct rng *r);
/* For input with no model (mutated, garbage): fed whole and in random reads, with the
 * answer buffer sized as client.c sizes it or generously, it must give a valid verdict,
 * answers that are well-formed client frames, and the same events, verdict and answers
 * however it is cut (the parsers are streaming). Returns the verdict. */
int pc_check_any(const struct pclient *c, const struct pmodel *m, struct rng *r);
/* Every one- and two-cut split of m's stream; returns how many were checked. */
uint64_t pc_sweep(const struct pclient *c, const struct pmodel *m);
/* The sweep over generated streams of at most max_len bytes, from seeds 1, 2, ...: first
 * each one that exercises a feature (a bit `gen` sets in *features) the streams before
 * it did not, until together they cover `all`, then any, until `streams` were swept.
 * Fails if the features are not all covered. Returns the splits checked. */
uint64_t pc_sweep_generated(const struct pclient *c, struct pmodel *m, void (*gen)(struct pmodel *, struct rng *),
                            unsigned *features, unsigned all, size_t max_len, unsigned streams);
/* Damages m's stream in place: flips, inserts, drops, truncation, splices of itself. */
void pm_mutate(struct pmodel *m, struct rng *r);

/* Recorded answers, as the model writes them: a masked client WebSocket frame. */
void ws_client_frame(uint8_t *dst, uint8_t opcode, const uint8_t *payload, size_t len, uint32_t mask);

/* HTTP header helpers shared by the http and ws generators: the name in random case, a
 * random amount of optional whitespace, CRLF or a bare LF (RFC 9112 2.2 allows it). */
void pm_line_end(struct pmodel *m, struct rng *r);
void pm_header(struct pmodel *m, struct rng *r, const char *name, const char *value);
/* Headers no parser reads a value from, some longer than HTTP_LINE_KEEP, a few near HTTP_LINE_MAX. */
void pm_filler_headers(struct pmodel *m, struct rng *r);

/* The same generators for the real connection path (proto-conn.c), with what client.c
 * fixes instead of what the parser-level cases draw: http asks once (client.c asks
 * again only on a ping round, which these runs do not hold), mqtt has no PINGREQ out,
 * ws answers with the accept of the key client.c sent and masks with its key. */
void http_gen_for_conn(struct pmodel *m, struct rng *r, int bad);
/* ws variant: 0 valid, 1 breaks a rule, 2 a flood of pings (more pongs than a read's answer buffer holds) */
void ws_gen_for_conn(struct pmodel *m, struct rng *r, int variant, const char *accept, uint32_t mask);
void mqtt_gen_for_conn(struct pmodel *m, struct rng *r, int bad);

extern const struct fuzz_target proto_http_target;
extern const struct fuzz_target proto_ws_target;
extern const struct fuzz_target proto_mqtt_target;
extern const struct fuzz_target proto_conn_target;

#endif
