/* The parts of `report` and `closed` messages (see report.h). */
#include "report.h"

#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../tls.h"
#include "base64.h"
#include "hdr.h"

int memory_open(void) { return open("/proc/self/smaps_rollup", O_RDONLY | O_CLOEXEC); }

/* The kB value of `key:` in smaps_rollup text, in bytes; 0 when absent. */
static uint64_t field_bytes(const char *text, const char *key) {
  size_t n = strlen(key);
  for (const char *p = text; (p = strstr(p, key)) != NULL; p += n) {
    if ((p == text || p[-1] == '\n') && p[n] == ':') return strtoull(p + n + 1, NULL, 10) * 1024u;
  }
  return 0;
}

void report_memory(struct jbuf *b, int smaps_fd) {
  char text[4096];
  ssize_t got = 0, n = 0;
  if (smaps_fd >= 0 && lseek(smaps_fd, 0, SEEK_SET) == 0) {
    while (got < (ssize_t)sizeof text - 1 && (n = read(smaps_fd, text + got, sizeof text - 1 - (size_t)got)) > 0) got += n;
  }
  if (got <= 0 || n < 0) {
    jb_lit(b, "\"memory\":null");
    return;
  }
  text[got] = 0;
  jb_lit(b, "\"memory\":{\"rssBytes\":");
  jb_uint(b, field_bytes(text, "Rss"));
  jb_lit(b, ",\"pssBytes\":");
  jb_uint(b, field_bytes(text, "Pss"));
  jb_lit(b, ",\"privateBytes\":");
  jb_uint(b, field_bytes(text, "Private_Clean") + field_bytes(text, "Private_Dirty"));
  jb_lit(b, "}");
}

void report_counters(struct jbuf *b, struct holder *h) {
  jb_lit(b, "\"counters\":{");
  for (int i = 0; i < ST_COUNT; i++) {
    if (i) jb_lit(b, ",");
    jb_key(b, stat_names[i]);
    jb_uint(b, STAT_GET(h, i));
  }
  jb_lit(b, "},\"errnos\":{");
  int first = 1;
  for (int e = 0; e < ERRNO_SLOTS; e++) {
    uint64_t count = __atomic_load_n(&h->errors[e], __ATOMIC_RELAXED);
    if (!count) continue;
    char key[8];
    int len = 0;
    for (int v = e; len == 0 || v; v /= 10) key[len++] = (char)('0' + v % 10);
    jb_lit(b, first ? "\"" : ",\"");
    while (len) jb_raw(b, &key[--len], 1);
    jb_lit(b, "\":");
    jb_uint(b, count);
    first = 0;
  }
  jb_lit(b, "},");
  report_details(b, h);
}

/* As the addon's details(): codes as [kind, code, count...], and the first bytes of the
 * reads that broke the protocol, in hex (HolderStats.protocolBytes). */
void report_details(struct jbuf *b, struct holder *h) {
  static const char hex[] = "0123456789abcdef";
  jb_lit(b, "\"details\":{\"codes\":[");
  int first = 1;
  for (int i = 0; i < CODE_SLOTS; i++) {
    uint32_t key = __atomic_load_n(&h->codes[i].key, __ATOMIC_ACQUIRE);
    if (!key) continue;
    uint64_t v[3] = {key >> 16, key & 0xffff, __atomic_load_n(&h->codes[i].count, __ATOMIC_RELAXED)};
    for (int k = 0; k < 3; k++) {
      if (!first) jb_lit(b, ",");
      jb_uint(b, v[k]);
      first = 0;
    }
  }
  jb_lit(b, "],\"bad\":[");
  uint32_t count = __atomic_load_n(&h->bad_count, __ATOMIC_ACQUIRE);
  for (uint32_t i = 0; i < count && i < BAD_SAMPLES; i++) {
    jb_lit(b, i ? ",\"" : "\"");
    for (uint8_t k = 0; k < h->bad_len[i] && k < BAD_BYTES; k++) {
      char pair[2] = {hex[h->bad[i][k] >> 4], hex[h->bad[i][k] & 15]};
      jb_raw(b, pair, 2);
    }
    jb_lit(b, "\"");
  }
  jb_lit(b, "],\"tls\":[");
  const char *text;
  uint64_t times;
  for (int i = 0, k = 0; tls_reason_at(h, i, &text, &times); i++, k++) {
    if (k) jb_lit(b, ",");
    jb_str(b, text);
    jb_lit(b, ",");
    jb_uint(b, times);
  }
  jb_lit(b, "]}");
}

/* One kind's samples since the last report, taken from the holder under its lock and
 * encoded after it (so the loop thread never waits for a sort): `"name":"<hdr>"`, or
 * nothing when there were none. The buffer goes with them; the loop thread starts a
 * small one at the next sample, so a broadcast's 128 KiB is not kept between reports. */
static void latency_one(struct jbuf *b, struct holder *h, const char *name, struct sample_buf *s, int *first) {
  pthread_mutex_lock(&h->sample_lock);
  uint32_t *data = s->data;
  size_t len = s->len;
  s->data = NULL;
  s->len = s->cap = 0;
  pthread_mutex_unlock(&h->sample_lock);
  if (len > 0) {
    jb_lit(b, *first ? "\"" : ",\"");
    jb_raw(b, name, strlen(name));
    jb_lit(b, "\":\"");
    if (hdr_append_b64(b, data, len) != 0) b->failed = 1; /* the report is not sent half-made */
    jb_lit(b, "\"");
    *first = 0;
  }
  free(data);
}

void report_latency(struct jbuf *b, struct holder *h) {
  int first = 1;
  jb_lit(b, "\"latency\":{");
  latency_one(b, h, "connectUs", &h->connect_us, &first);
  latency_one(b, h, "rttUs", &h->rtt_us, &first);
  latency_one(b, h, "broadcastUs", &h->broadcast_us, &first);
  jb_lit(b, "}");
}
