/* The parts of `report` and `closed` messages (see report.h). */
#include "report.h"

#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../tls.h"
#include "base64.h"

#define SAMPLES_KEEP 4096 /* entries a drained buffer may keep */

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
    jb_key(b, holder_stat_names[i]);
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

/* Samples leave as the bytes of a u32 array: x86 and arm64 are little-endian, as is
 * the Uint32Array the supervisor builds from them (checked there). */
static void samples_one(struct jbuf *b, const char *name, struct sample_buf *s) {
  jb_key(b, name);
  jb_lit(b, "\"");
  b64_append(b, (const uint8_t *)s->data, s->len * sizeof *s->data);
  jb_lit(b, "\"");
  s->len = 0;
  /* A broadcast to 19,000 connections grows a buffer to 128 KiB; the Node worker's
   * heap dwarfs that, this process does not, so give it back once drained. */
  if (s->cap > SAMPLES_KEEP) {
    free(s->data);
    s->data = NULL;
    s->cap = 0;
  }
}

void report_samples(struct jbuf *b, struct holder *h) {
  pthread_mutex_lock(&h->sample_lock);
  jb_lit(b, "\"samples\":{");
  samples_one(b, "connectUs", &h->connect_us);
  jb_lit(b, ",");
  samples_one(b, "rttUs", &h->rtt_us);
  jb_lit(b, ",");
  samples_one(b, "broadcastUs", &h->broadcast_us);
  jb_lit(b, "}");
  pthread_mutex_unlock(&h->sample_lock);
}
