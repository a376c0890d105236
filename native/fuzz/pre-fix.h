/* What the frame targets need from the holder, spelt the way the pre-fix tree (commit
 * aef1892's parent, which prove-issue-8.sh builds) spelt it. frames.h includes this only
 * when CONNLAB_FUZZ_PRE_FIX is defined, so the targets stay written against today's core
 * and the old code is never edited beyond the one rename prove-issue-8.sh makes. Since
 * then the core gained the io_ops and proto_ops tables (holder_init takes conn_io,
 * proto_configure picks connlab frames) and the clocks moved to clock.c. */
#ifndef CONNLAB_FUZZ_PRE_FIX_H
#define CONNLAB_FUZZ_PRE_FIX_H

#include "holder.h"

/* One loop, one protocol: no table to hand over, nothing to configure. */
#define holder_init(h, io, connect_timeout_ms, max_samples) holder_init((h), (connect_timeout_ms), (max_samples))
#define proto_configure(h, kind) ((void)(h), (void)(kind))
#define clock_real_us now_real_us

/* Private to its conn.c then: the read size, and the parser prove-issue-8.sh exports. */
#define SCRATCH_BYTES 65536
int frames_parse(struct holder *h, struct conn *c, const uint8_t *p, size_t n, size_t *out_len);

#endif
