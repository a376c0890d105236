/* The self-driving fuzz harness for the native holder's parsers (issue 8), built with
 * -fsanitize=address,undefined by native/fuzz/build.sh and run by npm test for a few
 * seconds (test/hardening/fuzz-native.test.ts) and by `npm run fuzz` for as long as asked.
 *
 * It is a table of parser targets (main.c, `targets[]`). A target brings its own input
 * generators, a reference model written independently of the code under test, and cases
 * that feed the real parser and compare. The connlab frame parser is the first entry,
 * twice: frames-parse.c calls frames_parse() directly, frames-conn.c drives the connection
 * state machine through sockets, and both share frames-model.c. The parsers the protocol
 * work adds next (HTTP/1.1 responses, WebSocket frames, MQTT packets) plug in as new
 * `struct fuzz_target` entries with their own generators and models, and inherit the
 * seeding, replay, time bound, reporting and sanitizers from the driver; so does the TLS
 * 1.3 record path of tls13.c (tls13-records.c), on records sealed with known keys.
 *
 * Every random iteration draws all its randomness from its own seed, derived from the
 * run's seed and the iteration number, so `--seed S --iteration I` replays exactly the
 * iteration a failure names. */
#ifndef CONNLAB_FUZZ_H
#define CONNLAB_FUZZ_H

#include <stddef.h>
#include <stdint.h>

/* splitmix64: tiny, fast, and good enough to choose split points and bytes. */
struct rng {
  uint64_t s;
};

static inline uint64_t rng_next(struct rng *r) {
  uint64_t z = (r->s += 0x9E3779B97F4A7C15ull);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

/* Uniform in [0, n); n > 0. The modulo bias is irrelevant at these sizes. */
static inline uint64_t rng_below(struct rng *r, uint64_t n) { return rng_next(r) % n; }

/* Uniform in [lo, hi]. */
static inline uint64_t rng_range(struct rng *r, uint64_t lo, uint64_t hi) { return lo + rng_below(r, hi - lo + 1); }

/* True with probability 1 / n. */
static inline int rng_one_in(struct rng *r, uint64_t n) { return rng_below(r, n) == 0; }

void rng_fill(struct rng *r, uint8_t *p, size_t n);

/* One kind of random iteration of a target. `run` draws everything from `r` and calls
 * fuzz_fail (through FUZZ_CHECK) on any disagreement with the model. */
struct fuzz_case {
  const char *name;
  unsigned weight; /* relative share of the random iterations */
  void (*run)(struct rng *r);
};

struct fuzz_target {
  const char *name;
  const char *about;
  /* Optional: acquire what every case shares (a holder, a listener); 0 or an errno. */
  int (*setup)(void);
  void (*teardown)(void);
  /* Optional: a deterministic sweep run once per run before the random cases (every
   * split point of small inputs); returns how many inputs it checked. */
  uint64_t (*exhaustive)(void);
  /* Optional: interpret raw bytes as one input (the libFuzzer entry point uses it). */
  void (*one_input)(const uint8_t *data, size_t size);
  const struct fuzz_case *cases;
  size_t n_cases;
};

/* The table's entries (main.c lists them). */
extern const struct fuzz_target frames_parse_target; /* frames-parse.c */
extern const struct fuzz_target frames_conn_target;  /* frames-conn.c */
extern const struct fuzz_target proto_http_target;   /* proto-http.c */
extern const struct fuzz_target proto_ws_target;     /* proto-ws.c */
extern const struct fuzz_target proto_mqtt_target;   /* proto-mqtt.c */
extern const struct fuzz_target proto_conn_target;   /* proto-conn.c */
extern const struct fuzz_target tls13_records_target; /* tls13-records.c */

/* Reports a mismatch with the target, case, seed and iteration that replays it, then
 * exits 1. */
_Noreturn void fuzz_fail(const char *file, int line, const char *cond, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

#define FUZZ_CHECK(cond, ...)                                        \
  do {                                                               \
    if (!(cond)) fuzz_fail(__FILE__, __LINE__, #cond, __VA_ARGS__); \
  } while (0)

/* What the driver is running now, for fuzz_fail's report. */
void fuzz_set_context(const char *what);

#endif
