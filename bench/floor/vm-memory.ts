// The VM's memory tax, read beside every phase of bench:floor. This box is a firecracker
// VM whose balloon reports free guest pages back to the host (virtio free page reporting:
// /sys/module/page_reporting). A page the host took back costs a host fault when the
// guest touches it again: 2 GiB first-touched in 15.4 s here (29 µs a page) against
// 1.5 s for the same memory touched again at once. A 1M run allocates ~8 GB of socket
// memory, so one run of the floor connected in 40 s with the memory warm and in 105 s
// with it cold, and perf put 63% of that cold run in allocate_slab and inode_init_once.
// It lands on connlab and the floor alike (the same kernel objects), so it narrows the
// ratio; these readings say how much of it each phase paid. Read only: the settings under
// /sys/module/page_reporting belong to the VM's owner, and this never writes them.

import { readFileSync } from 'node:fs';
import { performance } from 'node:perf_hooks';

const REPORTED_KIB = '/sys/module/page_reporting/parameters/reported_kib';
const PAGE = 4096;

/** KiB of free memory the guest has handed back to the host so far, or null without page reporting. */
export function reportedKib(): number | null {
  try {
    const kib = Number(readFileSync(REPORTED_KIB, 'utf8').trim());
    return Number.isFinite(kib) ? kib : null;
  } catch {
    return null;
  }
}

/**
 * Microseconds per 4 KiB page to first-touch `mib` of fresh memory (a new mapping, one
 * write a page): ~0.3 µs where the host backs the memory, tens of µs where it took the
 * pages back.
 */
export function touchMicrosPerPage(mib = 64): number {
  const bytes = mib * 1024 * 1024;
  const start = performance.now();
  const buffer = Buffer.allocUnsafeSlow(bytes); // above malloc's mmap threshold: fresh pages
  for (let offset = 0; offset < bytes; offset += PAGE) buffer[offset] = 1;
  return Math.round(((performance.now() - start) * 1000 * 100) / (bytes / PAGE)) / 100;
}

/** How long settle() waited, and what the guest handed back meanwhile. */
export interface Settled {
  waited_s: number;
  reported_mib: number;
}

/**
 * Waits until the guest has stopped handing memory back (reported_kib unchanged for
 * `quietMs`), at most `maxMs`: the memory the last phase freed is then back with the
 * host, so the next phase starts cold, as every other settled phase does. Immediate
 * without page reporting.
 */
export async function settle(quietMs = 5_000, maxMs = 300_000, pollMs = 1_000): Promise<Settled> {
  const first = reportedKib();
  const start = performance.now();
  if (first === null) return { waited_s: 0, reported_mib: 0 };
  let last = first;
  let quietSince = start;
  while (performance.now() - quietSince < quietMs && performance.now() - start < maxMs) {
    await new Promise((resolve) => setTimeout(resolve, pollMs));
    const now = reportedKib() ?? last;
    if (now !== last) quietSince = performance.now();
    last = now;
  }
  return { waited_s: Math.round((performance.now() - start) / 100) / 10, reported_mib: Math.round((last - first) / 1024) };
}

/** What one phase (a floor round, the bench) paid: the touch cost before it, what was reported during it. */
export interface MemoryTax {
  /** With --settle: the wait before the phase for page reporting to go quiet. */
  settled?: Settled;
  /** touchMicrosPerPage() just before the phase. */
  touch_us_per_page_before: number;
  /** MiB the guest reported to the host while the phase ran; null without page reporting. */
  reported_mib_during: number | null;
}

/** Runs `phase` between the two readings, after settle() when `settleFirst`. */
export async function withMemoryTax<T>(phase: () => Promise<T>, settleFirst = false): Promise<{ value: T; memory: MemoryTax }> {
  const settled = settleFirst ? await settle() : undefined;
  const touch = touchMicrosPerPage();
  const before = reportedKib();
  const value = await phase();
  const after = reportedKib();
  const reported = before === null || after === null ? null : Math.round((after - before) / 1024);
  return { value, memory: { ...(settled ? { settled } : {}), touch_us_per_page_before: touch, reported_mib_during: reported } };
}
