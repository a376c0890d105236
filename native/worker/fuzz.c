/* A fuzz driver for what the C worker reads from its channel: the JSON reader, string
 * unescaping, base64 and the tuple check, on seeds that are real messages and on their
 * random mutations (flipped, inserted, deleted and truncated bytes). Built with
 * -fsanitize=address,undefined by test/engine/c-worker-fuzz.test.ts; also usable as a
 * libFuzzer target (-DLIBFUZZER). It checks invariants, not just the absence of crashes. */
#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base64.h"
#include "json.h"

static struct jdoc doc;

/* Walks every token the reader produced and reads it every way main.c does. */
static void exercise(const char *text, size_t len) {
  if (json_parse(&doc, text, len) != 0) {
    assert(doc.error != NULL);
    return;
  }
  assert(doc.count >= 1 && doc.tok[0].next == doc.count);
  for (uint32_t i = 0; i < doc.count; i++) {
    const struct jtok *t = &doc.tok[i];
    assert(t->start <= t->end && t->end <= len && t->next > i && t->next <= doc.count);
    char out[64];
    uint64_t u;
    double d;
    int b;
    json_string(&doc, (int)i, out, sizeof out, NULL);
    json_uint(&doc, (int)i, UINT32_MAX, &u);
    json_number(&doc, (int)i, &d);
    json_bool(&doc, (int)i, &b);
    if (t->type == J_OBJECT) {
      json_get(&doc, (int)i, "type");
      json_get(&doc, (int)i, "data");
    }
    if (t->type == J_STRING) {
      size_t n = t->end - t->start;
      uint8_t *bytes = malloc(n / 4 * 3 + 1);
      long got = b64_decode(text + t->start, n, bytes);
      assert(got <= (long)(n / 4 * 3));
      free(bytes);
    }
  }
}

static const char *const SEEDS[] = {
    "{\"type\":\"start\",\"config\":{\"role\":\"server\",\"holder\":\"native\",\"listen\":[{\"host\":\"127.0.0.1\",\"port\":9000}],\"backlog\":4096,\"reportIntervalMs\":1000,\"maxSamples\":100000}}",
    "{\"type\":\"start\",\"config\":{\"role\":\"client\",\"holder\":\"native\",\"ratePerSec\":null,\"maxPending\":1024,\"connectTimeoutMs\":10000,\"reportIntervalMs\":1000}}",
    "{\"type\":\"tuples\",\"data\":\"AgAAf0BOAAABAAB/KCMAAA==\",\"last\":false}",
    "{\"type\":\"ping\",\"seq\":4294967295,\"timeoutMs\":1e3}",
    "{\"type\":\"broadcast\",\"seq\":1}",
    "{\"s\":\"\\u00e9\\ud83d\\ude00\\n\\\"\\/\",\"n\":-0.5e-3,\"a\":[true,false,null,[],{}]}",
};

static uint64_t rng = 0x9E3779B97F4A7C15u;
static uint32_t next_rand(void) {
  rng ^= rng << 13;
  rng ^= rng >> 7;
  rng ^= rng << 17;
  return (uint32_t)rng;
}

static size_t mutate(char *buf, size_t len, size_t cap) {
  int edits = 1 + (int)(next_rand() % 4);
  for (int e = 0; e < edits; e++) {
    size_t at = len ? next_rand() % len : 0;
    switch (next_rand() % 4) {
      case 0: if (len) buf[at] = (char)next_rand(); break;
      case 1: if (len < cap) { memmove(buf + at + 1, buf + at, len - at); buf[at] = "{}[]\",:\\u0e-"[next_rand() % 12]; len++; } break;
      case 2: if (len) { memmove(buf + at, buf + at + 1, len - at - 1); len--; } break;
      default: len = at; break;
    }
  }
  return len;
}

#ifdef LIBFUZZER
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  char *copy = malloc(size + 1);
  memcpy(copy, data, size);
  exercise(copy, size);
  free(copy);
  return 0;
}
#else
int main(int argc, char **argv) {
  long rounds = argc > 1 ? strtol(argv[1], NULL, 10) : 200000;
  size_t seeds = sizeof SEEDS / sizeof SEEDS[0];
  for (long r = 0; r < rounds; r++) {
    const char *seed = SEEDS[r % (long)seeds];
    size_t cap = strlen(seed) + 64;
    char *buf = malloc(cap); /* exact-size copies, so ASan sees any read past the end */
    memcpy(buf, seed, strlen(seed));
    size_t len = mutate(buf, strlen(seed), cap);
    char *exact = malloc(len ? len : 1);
    memcpy(exact, buf, len);
    exercise(exact, len);
    free(exact);
    free(buf);
  }
  /* Deep nesting and a flood of values stop at their bounds. */
  char deep[4096];
  memset(deep, '[', sizeof deep);
  assert(json_parse(&doc, deep, sizeof deep) != 0);
  printf("fuzzed %ld inputs\n", rounds);
  return 0;
}
#endif
