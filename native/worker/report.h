/* What the C worker tells its supervisor about its holder: counters by name, errno
 * counts by number (the TypeScript side names them, one table), latency samples as
 * base64 of little-endian u32 arrays, protocol codes and bad bytes, and its own memory from smaps_rollup. */
#ifndef CONNLAB_REPORT_H
#define CONNLAB_REPORT_H

#include "../holder.h"
#include "json.h"

/* Opens /proc/self/smaps_rollup once at startup and keeps it, so a report still reads
 * it when every other descriptor is taken (EMFILE): -1 when it cannot be opened. */
int memory_open(void);
/* Appends "memory":{...} or "memory":null. */
void report_memory(struct jbuf *b, int smaps_fd);
/* Appends "counters":{...},"errnos":{...},"details":{...}: all of HolderStats. */
void report_counters(struct jbuf *b, struct holder *h);
/* Appends "details":{"codes":[kind, code, count...],"bad":["hex"...]}. */
void report_details(struct jbuf *b, struct holder *h);
/* Appends "latency":{...}: one encoded histogram per kind that had samples, draining
 * the holder's buffers (messages.ts EncodedLatency). */
void report_latency(struct jbuf *b, struct holder *h);

#endif
