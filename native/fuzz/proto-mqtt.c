/* Target "proto-mqtt": mqtt_client_feed() over a broker's packets (MQTT 3.1.1): CONNACK
 * first with any return code (nonzero refuses), then PINGRESP (an answer while a
 * PINGREQ is out, else ignored), PUBLISH of every QoS with DUP and RETAIN, bodies up to
 * a few hundred KiB (remaining lengths of 1-3 bytes, and longer encodings than needed,
 * up to the 4 bytes allowed), PUBACK, PUBREC, PUBREL, PUBCOMP, SUBACK and UNSUBACK, and
 * packets that break one rule. The client re-arms its PINGREQ on every answer, for as
 * many pings as the run draws. */
#include <string.h>

#include "proto-fuzz.h"

#define SENT_STEP_US 1000

static struct mqtt_client mc;
static uint32_t answered, requests, gen0;
static uint64_t sent0;

static void reset(const struct pmodel *m) {
  memset(&mc, 0, sizeof mc);
  answered = 0;
  requests = m->requests;
  gen0 = m->gen0;
  sent0 = m->sent0;
  mc.outstanding = requests > 0;
  mc.gen = gen0;
  mc.sent_us = sent0;
}

static void on_answer(void) {
  if (++answered >= requests) return;
  mc.outstanding = 1;
  mc.gen = gen0 + answered;
  mc.sent_us = sent0 + (uint64_t)answered * SENT_STEP_US;
}

static int feed(const uint8_t *p, size_t n, const struct proto_sink *sink, struct proto_out *out) {
  (void)out;
  return mqtt_client_feed(&mc, p, n, sink);
}

static const struct pclient client = {"mqtt", reset, feed, on_answer, NULL, 0};

/* ---- generators ---- */

enum { F_PINGRESP = 1, F_PUBLISH = 2, F_ACKS = 4, F_LONG_LEN = 8, F_PADDED_LEN = 16, F_UNASKED = 32, F_REFUSED = 64, F_ALL = 127 };
static unsigned features;
static uint32_t pings; /* PINGRESPs generated so far in this stream */
static int forced_requests = -1; /* mqtt_gen_for_conn */

/* The remaining length (2.2.3): 7 bits a byte, low first, continuation bit; sometimes
 * padded with zero groups to more bytes than needed (at most 4 in all). */
static void rem_length(struct pmodel *m, struct rng *r, uint32_t v) {
  uint8_t b[4];
  int n = 0;
  do {
    b[n] = v & 0x7f;
    v >>= 7;
    if (v) b[n] |= 0x80;
    n++;
  } while (v);
  if (n > 1) features |= F_LONG_LEN;
  if (n < 4 && rng_one_in(r, 10)) {
    features |= F_PADDED_LEN;
    int to = (int)rng_range(r, (uint64_t)n + 1, 4);
    for (; n < to; n++) b[n - 1] |= 0x80, b[n] = 0;
  }
  pm_bytes(m, b, (size_t)n);
}

static void packet(struct pmodel *m, struct rng *r, uint8_t type, const uint8_t *body, uint32_t len) {
  pm_mark(m);
  pm_bytes(m, &type, 1);
  rem_length(m, r, len);
  if (body) pm_bytes(m, body, len);
}

static uint32_t publish_length(struct rng *r, int small) {
  if (small) return rng_one_in(r, 10) ? (uint32_t)rng_range(r, 124, 126) : (uint32_t)rng_below(r, 4); /* 128+ in all: 2 length bytes */
  switch (rng_below(r, 8)) {
    case 0: return 0;
    case 1: case 2: case 3: return (uint32_t)rng_range(r, 1, 127);
    case 4: case 5: return (uint32_t)rng_range(r, 128, 16383);
    default: return (uint32_t)rng_range(r, 16384, 300000);
  }
}

static void connack(struct pmodel *m, struct rng *r, int refuse) {
  uint8_t body[2] = {(uint8_t)rng_below(r, 2), refuse ? (uint8_t)rng_range(r, 1, 255) : 0}; /* session present, rc */
  packet(m, r, 0x20, body, 2);
  pm_event(m, EV_CODE, PC_MQTT_CONNACK, body[1], 0);
  if (refuse) features |= F_REFUSED, pm_verdict(m, PV_REFUSED, m->s.len);
}

static void publish(struct pmodel *m, struct rng *r, int small) {
  static uint8_t body[300000 + 64];
  uint8_t qos = (uint8_t)rng_below(r, 3);
  uint8_t type = (uint8_t)(0x30 | (qos && rng_one_in(r, 4) ? 8 : 0) | qos << 1 | (uint8_t)rng_below(r, 2));
  uint32_t topic = (uint32_t)rng_range(r, 1, small ? 2 : 40), n = 0;
  body[n++] = 0, body[n++] = (uint8_t)topic;
  for (uint32_t i = 0; i < topic; i++) body[n++] = (uint8_t)('a' + rng_below(r, 26));
  if (qos) body[n++] = (uint8_t)rng_next(r), body[n++] = (uint8_t)rng_range(r, 1, 255); /* packet id */
  uint32_t payload = publish_length(r, small);
  rng_fill(r, body + n, payload);
  packet(m, r, type, body, n + payload);
  features |= F_PUBLISH;
  pm_event(m, EV_MESSAGE, 0, 0, 0);
}

static void ack(struct pmodel *m, struct rng *r) {
  static const uint8_t types[] = {0x40, 0x50, 0x62, 0x70, 0x90, 0xB0}; /* PUBACK PUBREC PUBREL PUBCOMP SUBACK UNSUBACK */
  uint8_t body[8] = {(uint8_t)rng_next(r), (uint8_t)rng_next(r), 0x00, 0x01, 0x02, 0x80};
  uint8_t type = types[rng_below(r, 6)];
  features |= F_ACKS;
  packet(m, r, type, body, type == 0x90 ? (uint32_t)rng_range(r, 3, 6) : 2);
}

static void pingresp(struct pmodel *m, struct rng *r) {
  packet(m, r, 0xD0, NULL, 0);
  features |= F_PINGRESP;
  if (pings < m->requests) {
    pm_event(m, EV_ANSWER, 0, m->gen0 + pings, m->sent0 + (uint64_t)pings * SENT_STEP_US);
  } else {
    features |= F_UNASKED; /* no PINGREQ out: ignored */
  }
  pings++;
}

static void start(struct pmodel *m, struct rng *r) {
  pm_clear(m);
  pings = 0;
  m->requests = forced_requests >= 0 ? (uint32_t)forced_requests : (uint32_t)rng_below(r, 6);
  m->gen0 = (uint32_t)rng_next(r);
  m->sent0 = rng_next(r) >> 8;
}

static void gen_ok(struct pmodel *m, struct rng *r, int small) {
  start(m, r);
  connack(m, r, rng_one_in(r, 12));
  for (uint64_t k = rng_range(r, 1, small ? 4 : 16); k > 0 && pm_open(m); k--) {
    switch (rng_below(r, 3)) {
      case 0: pingresp(m, r); break;
      case 1: publish(m, r, small); break;
      default: ack(m, r);
    }
  }
  if (!pm_open(m) && rng_one_in(r, 2)) pingresp(m, r); /* after the end: never read */
}

/* Packets that break one rule; the verdict is due when the remaining length is complete,
 * or at the fourth length byte when it says a fifth follows. */
/* A packet whose fixed header breaks a rule: the verdict is due when its remaining
 * length is complete, before the body (which follows, never read). */
static void bad(struct pmodel *m, struct rng *r, uint8_t type, uint32_t len) {
  static const uint8_t zeros[8];
  packet(m, r, type, NULL, len);
  pm_verdict(m, PV_PROTOCOL, m->s.len);
  pm_bytes(m, zeros, len < 8 ? len : 8);
}

static void gen_bad(struct pmodel *m, struct rng *r) {
  start(m, r);
  int first = rng_one_in(r, 4);
  if (!first) {
    connack(m, r, 0);
    for (uint64_t k = rng_below(r, 4); k > 0; k--) rng_one_in(r, 2) ? pingresp(m, r) : ack(m, r);
  }
  switch (rng_below(r, first ? 3 : 7)) {
    case 0: { /* a length of five bytes */
      uint8_t b[5] = {0x30, 0xff, 0xff, 0xff, (uint8_t)rng_range(r, 0x80, 0xff)};
      pm_mark(m);
      pm_bytes(m, b, 5);
      pm_verdict(m, PV_PROTOCOL, m->s.len);
      break;
    }
    case 1: /* first: not a CONNACK; later: a second one */
      if (first) bad(m, r, rng_one_in(r, 2) ? 0xD0 : 0x30, rng_one_in(r, 2) ? 0 : 3);
      else bad(m, r, 0x20, 2);
      break;
    case 2: /* a CONNACK of another size, or with flags */
      if (first && rng_one_in(r, 2)) bad(m, r, 0x20, rng_one_in(r, 2) ? 3 : (uint32_t)rng_below(r, 2));
      else bad(m, r, (uint8_t)(0x20 | rng_range(r, 1, 15)), 2);
      break;
    case 3: { /* a type a broker never sends */
      static const uint8_t never[] = {0x00, 0x10, 0x82, 0xA2, 0xC0, 0xE0, 0xF0};
      bad(m, r, never[rng_below(r, 7)], 2);
      break;
    }
    case 4: bad(m, r, (uint8_t)(0x36 | rng_below(r, 2) | (rng_below(r, 2) << 3)), 4); break; /* QoS 3 */
    case 5: /* flags on an ack (PUBREL's must be 0010) */
      if (rng_one_in(r, 3)) bad(m, r, (uint8_t)(0x60 | (rng_range(r, 0, 15) == 2 ? 3 : 0)), 2);
      else bad(m, r, (uint8_t)(0x40 | rng_range(r, 1, 15)), 2);
      break;
    default: bad(m, r, 0xD0, (uint32_t)rng_range(r, 1, 3)); /* a PINGRESP with a body */
  }
  pm_str(m, "\xd0"); /* never read */
}

void mqtt_gen_for_conn(struct pmodel *m, struct rng *r, int bad) {
  forced_requests = 0;
  if (bad) gen_bad(m, r);
  else gen_ok(m, r, rng_one_in(r, 3));
  forced_requests = -1;
}

/* ---- cases ---- */

static struct pmodel md;

static void case_valid(struct rng *r) {
  gen_ok(&md, r, 0);
  pc_check_random(&client, &md, r);
}

static void case_small(struct rng *r) {
  gen_ok(&md, r, 1);
  pc_check_random(&client, &md, r);
}

static void case_invalid(struct rng *r) {
  gen_bad(&md, r);
  pc_check_random(&client, &md, r);
}

static void case_mutated(struct rng *r) {
  if (rng_one_in(r, 2)) gen_ok(&md, r, rng_one_in(r, 2));
  else gen_bad(&md, r);
  pm_mutate(&md, r);
  pc_check_any(&client, &md, r);
}

static void case_garbage(struct rng *r) {
  start(&md, r);
  if (rng_one_in(r, 2)) connack(&md, r, 0);
  uint8_t junk[512];
  size_t n = rng_range(r, 1, sizeof junk);
  rng_fill(r, junk, n);
  pm_bytes(&md, junk, n);
  pc_check_any(&client, &md, r);
}

/* Weights 4x the frame targets': an iteration here costs a tenth of one there. */
static const struct fuzz_case cases[] = {
    {"packets", 16, case_valid},
    {"small-packets", 8, case_small},
    {"invalid", 8, case_invalid},
    {"mutated", 12, case_mutated},
    {"garbage", 4, case_garbage},
};

static void gen_small(struct pmodel *m, struct rng *r) { gen_ok(m, r, 1); }

/* Every one- and two-cut split of small streams that together exercise every feature
 * the generator has, and of streams that break a rule. */
static uint64_t exhaustive(void) {
  return pc_sweep_generated(&client, &md, gen_small, &features, F_ALL, 150, 150) +
         pc_sweep_generated(&client, &md, gen_bad, NULL, 0, 60, 100);
}

/* libFuzzer: byte 0 is how many PINGREQs are out, bytes 1-8 seed the cuts, the rest the stream. */
static void one_input(const uint8_t *data, size_t size) {
  if (size < 9) return;
  pm_clear(&md);
  md.requests = data[0] % 8;
  struct rng r = {0};
  memcpy(&r.s, data + 1, 8);
  pm_bytes(&md, data + 9, size - 9);
  pc_check_any(&client, &md, &r);
}

static void teardown(void) { pm_free(&md); }

const struct fuzz_target proto_mqtt_target = {
    .name = "proto-mqtt",
    .about = "mqtt_client_feed(): broker packets at random and every split point, against the model",
    .teardown = teardown,
    .exhaustive = exhaustive,
    .one_input = one_input,
    .cases = cases,
    .n_cases = sizeof cases / sizeof cases[0],
};
