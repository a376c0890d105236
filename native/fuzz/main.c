/* The harness driver: the table of targets, arguments, seeding and replay, the time
 * bound, and the report. See fuzz.h for the design; native/fuzz/build.sh builds it.
 *
 *   connlab-fuzz [--seconds N] [--seed N] [--iterations N] [--iteration I]
 *                [--target NAME] [--case NAME] [--list] [--input FILE]
 *
 * --input FILE feeds one file of raw bytes to each selected target's one_input (a
 * reproducer kept from a failure, or an input another fuzzer found).
 *
 * Exit status: 0 when every check held, 1 on a mismatch with a model, and whatever the
 * sanitizers or abort() give (never 0) on memory errors or undefined behaviour. */
#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "fuzz.h"

#ifdef CONNLAB_LIBFUZZER
#pragma GCC diagnostic ignored "-Wunused-function" /* the CLI's helpers: libFuzzer has its own main */
#endif

static const struct fuzz_target *const targets[] = {
    &frames_parse_target,
    &frames_conn_target,
#ifdef CONNLAB_FUZZ_PROTO /* build.sh: the tree has native/proto/ (prove-issue-8.sh's has not) */
    &proto_http_target,
    &proto_ws_target,
    &proto_mqtt_target,
    &proto_conn_target,
#endif
#ifdef CONNLAB_FUZZ_TLS13 /* build.sh: the tree has tls13.c */
    &tls13_records_target,
#endif
};
#define N_TARGETS (sizeof targets / sizeof targets[0])

struct options {
  double seconds;
  uint64_t seed, max_iterations, only_iteration;
  int replay; /* --iteration given */
  const char *target, *case_name, *input;
};

/* What runs now, for the failure report (plain globals: the harness is one thread). */
static struct {
  const struct options *opt;
  const char *target, *case_name, *what;
  uint64_t iteration;
  int random; /* in the random phase, where seed + iteration replays */
} now;

void rng_fill(struct rng *r, uint8_t *p, size_t n) {
  while (n >= 8) {
    uint64_t v = rng_next(r);
    memcpy(p, &v, 8);
    p += 8;
    n -= 8;
  }
  if (n) {
    uint64_t v = rng_next(r);
    memcpy(p, &v, n);
  }
}

void fuzz_set_context(const char *what) { now.what = what; }

static void print_context(FILE *f) {
  fprintf(f, "connlab-fuzz: in target %s, case %s", now.target ? now.target : "-", now.case_name ? now.case_name : "-");
  if (now.random) {
    fprintf(f, ", iteration %" PRIu64 " of seed %" PRIu64 "\n", now.iteration, now.opt->seed);
    fprintf(f, "connlab-fuzz: replay: connlab-fuzz --seed %" PRIu64 " --iteration %" PRIu64 "%s%s%s%s\n", now.opt->seed,
            now.iteration, now.opt->target ? " --target " : "", now.opt->target ? now.opt->target : "",
            now.opt->case_name ? " --case " : "", now.opt->case_name ? now.opt->case_name : "");
  } else {
    fprintf(f, "%s%s\n", now.what ? ", " : "", now.what ? now.what : "");
  }
  fflush(f);
}

void fuzz_fail(const char *file, int line, const char *cond, const char *fmt, ...) {
  fflush(stdout);
  fprintf(stderr, "connlab-fuzz: MISMATCH at %s:%d: %s\nconnlab-fuzz: ", file, line, cond);
  va_list ap;
  va_start(ap, fmt);
  vfprintf(stderr, fmt, ap);
  va_end(ap);
  fputc('\n', stderr);
  print_context(stderr);
  exit(1);
}

/* A sanitizer report or an abort() (conn.c's bound check in this build) says where;
 * these say which input, so it can be replayed. */
void __asan_set_death_callback(void (*callback)(void));
const char *__ubsan_default_options(void);
const char *__ubsan_default_options(void) { return "print_stacktrace=1:abort_on_error=1"; }
static void on_sanitizer_death(void) { print_context(stderr); }
static void on_abort(int sig) {
  print_context(stderr);
  signal(sig, SIG_DFL);
  raise(sig);
}

static double mono_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static uint64_t iteration_seed(uint64_t seed, uint64_t i) {
  struct rng r = {seed ^ (i * 0xD1B54A32D192ED03ull)};
  return rng_next(&r);
}

static int selected_target(const struct options *o, const struct fuzz_target *t) {
  return !o->target || strcmp(o->target, t->name) == 0;
}

static int selected_case(const struct options *o, const struct fuzz_case *c) {
  return !o->case_name || strcmp(o->case_name, c->name) == 0;
}

static unsigned total_weight(const struct options *o) {
  unsigned w = 0;
  for (size_t t = 0; t < N_TARGETS; t++) {
    if (!selected_target(o, targets[t])) continue;
    for (size_t c = 0; c < targets[t]->n_cases; c++) {
      if (selected_case(o, &targets[t]->cases[c])) w += targets[t]->cases[c].weight;
    }
  }
  return w;
}

/* Picks the case iteration i runs, by weight, from the iteration's own seed. */
static void run_iteration(const struct options *o, uint64_t i, unsigned weight, uint64_t *counts) {
  struct rng r = {iteration_seed(o->seed, i)};
  uint64_t pick = rng_below(&r, weight);
  size_t slot = 0;
  for (size_t t = 0; t < N_TARGETS; t++) {
    for (size_t c = 0; c < targets[t]->n_cases; c++, slot++) {
      const struct fuzz_case *fc = &targets[t]->cases[c];
      if (!selected_target(o, targets[t]) || !selected_case(o, fc)) continue;
      if (pick >= fc->weight) {
        pick -= fc->weight;
        continue;
      }
      now.target = targets[t]->name;
      now.case_name = fc->name;
      now.iteration = i;
      fc->run(&r);
      counts[slot]++;
      return;
    }
  }
}

static void usage(void) {
  fprintf(stderr,
          "usage: connlab-fuzz [--seconds N] [--seed N] [--iterations N] [--iteration I]\n"
          "                    [--target NAME] [--case NAME] [--list] [--input FILE]\n");
  exit(2);
}

static void list(void) {
  for (size_t t = 0; t < N_TARGETS; t++) {
    printf("%s: %s\n", targets[t]->name, targets[t]->about);
    for (size_t c = 0; c < targets[t]->n_cases; c++) printf("  %s\n", targets[t]->cases[c].name);
  }
  exit(0);
}

static uint64_t number(const char *s) {
  char *end;
  errno = 0;
  unsigned long long v = strtoull(s, &end, 0);
  if (errno || *end || !*s) usage();
  return v;
}

static void parse_args(int argc, char **argv, struct options *o) {
  for (int i = 1; i < argc; i += 2) { /* every option but --list takes a value */
    const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
    if (strcmp(a, "--list") == 0) list();
    if (!v) usage();
    if (strcmp(a, "--seconds") == 0) o->seconds = strtod(v, NULL);
    else if (strcmp(a, "--seed") == 0) o->seed = number(v);
    else if (strcmp(a, "--iterations") == 0) o->max_iterations = number(v);
    else if (strcmp(a, "--iteration") == 0) o->only_iteration = number(v), o->replay = 1;
    else if (strcmp(a, "--target") == 0) o->target = v;
    else if (strcmp(a, "--case") == 0) o->case_name = v;
    else if (strcmp(a, "--input") == 0) o->input = v;
    else usage();
  }
}

static uint64_t fresh_seed(void) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  struct rng r = {(uint64_t)ts.tv_nsec ^ ((uint64_t)ts.tv_sec << 20) ^ ((uint64_t)getpid() << 40)};
  return rng_next(&r) >> 1; /* fits strtoull and a JavaScript number's parse of it */
}

static void setup_targets(const struct options *o) {
  for (size_t t = 0; t < N_TARGETS; t++) {
    if (!selected_target(o, targets[t]) || !targets[t]->setup) continue;
    now.target = targets[t]->name;
    int rc = targets[t]->setup();
    if (rc != 0) {
      fprintf(stderr, "connlab-fuzz: setting up %s failed: %s\n", targets[t]->name, strerror(rc));
      exit(1);
    }
  }
}

static int run_input(const struct options *o) {
  FILE *f = fopen(o->input, "rb");
  if (!f) {
    fprintf(stderr, "connlab-fuzz: %s: %s\n", o->input, strerror(errno));
    return 2;
  }
  size_t cap = 1 << 16, len = 0, n;
  uint8_t *data = malloc(cap);
  while (data && (n = fread(data + len, 1, cap - len, f)) > 0) {
    len += n;
    if (len == cap) data = realloc(data, cap *= 2);
  }
  fclose(f);
  for (size_t t = 0; t < N_TARGETS; t++) {
    if (!selected_target(o, targets[t]) || !targets[t]->one_input) continue;
    now.target = targets[t]->name;
    now.case_name = o->input;
    targets[t]->one_input(data, len);
    printf("connlab-fuzz: %s: %zu bytes through %s, no failures\n", o->input, len, targets[t]->name);
  }
  free(data);
  return 0;
}

static uint64_t sweep(const struct options *o) {
  uint64_t checked = 0;
  for (size_t t = 0; t < N_TARGETS; t++) {
    if (!selected_target(o, targets[t]) || !targets[t]->exhaustive || o->case_name) continue;
    now.target = targets[t]->name;
    now.case_name = "exhaustive";
    checked += targets[t]->exhaustive();
  }
  return checked;
}

#ifdef CONNLAB_LIBFUZZER
/* The libFuzzer entry, an extra (build.sh with FUZZER=libfuzzer and clang): every input
 * goes through each target's one_input, with libFuzzer choosing the bytes. */
static struct options libfuzzer_options;

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerInitialize(int *argc, char ***argv) {
  (void)argc, (void)argv;
  now.opt = &libfuzzer_options;
  signal(SIGPIPE, SIG_IGN);
  setup_targets(&libfuzzer_options);
  return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  for (size_t t = 0; t < N_TARGETS; t++) {
    if (!targets[t]->one_input) continue;
    now.target = targets[t]->name;
    now.case_name = "libfuzzer input";
    targets[t]->one_input(data, size);
  }
  return 0;
}
#else
int main(int argc, char **argv) {
  struct options o = {.seconds = 10, .seed = fresh_seed()};
  parse_args(argc, argv, &o);
  now.opt = &o;
  __asan_set_death_callback(on_sanitizer_death);
  signal(SIGABRT, on_abort);
  signal(SIGPIPE, SIG_IGN);
  unsigned weight = total_weight(&o);
  if (weight == 0) {
    fprintf(stderr, "connlab-fuzz: no case matches --target/--case (see --list)\n");
    return 2;
  }
  printf("connlab-fuzz: seed %" PRIu64 "\n", o.seed);
  fflush(stdout);
  setup_targets(&o);
  if (o.input) return run_input(&o);

  size_t n_slots = 0;
  for (size_t t = 0; t < N_TARGETS; t++) n_slots += targets[t]->n_cases;
  uint64_t *counts = calloc(n_slots, sizeof *counts);
  double start = mono_s();
  uint64_t swept = o.replay ? 0 : sweep(&o), done = 0;
  double random_start = mono_s();
  now.random = 1;
  if (o.replay) {
    run_iteration(&o, o.only_iteration, weight, counts);
    done = 1;
  } else {
    double end = start + o.seconds;
    while ((!o.max_iterations || done < o.max_iterations) && mono_s() < end) {
      run_iteration(&o, done, weight, counts);
      done++;
    }
  }
  double took = mono_s() - start, random_took = mono_s() - random_start;
  now.random = 0;
  now.what = "teardown";

  size_t slot = 0;
  for (size_t t = 0; t < N_TARGETS; t++) {
    for (size_t c = 0; c < targets[t]->n_cases; c++, slot++) {
      if (counts[slot]) printf("  %-14s %-18s %10" PRIu64 "\n", targets[t]->name, targets[t]->cases[c].name, counts[slot]);
    }
  }
  printf("connlab-fuzz: %" PRIu64 " iterations and %" PRIu64 " exhaustive splits in %.1f s (%.0f iterations/s), seed %" PRIu64
         ", no failures\n",
         done, swept, took, (double)done / (random_took > 0 ? random_took : 1), o.seed);
  for (size_t t = 0; t < N_TARGETS; t++) {
    if (selected_target(&o, targets[t]) && targets[t]->teardown) targets[t]->teardown();
  }
  free(counts);
  return 0;
}
#endif
