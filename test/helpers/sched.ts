// Scheduling policies of a process's threads, from /proc/<pid>/task/<tid>/stat.

import { readdirSync, readFileSync } from 'node:fs';
import { processCpuSeconds } from '../../src/bench/bench-tls.ts';

/** Linux's SCHED_OTHER and SCHED_BATCH (sched.h). */
export const SCHED_OTHER = 0;
export const SCHED_BATCH = 3;

/** Each thread's policy (stat field 41), keyed by thread id; `pid` itself is the main thread. */
export function threadPolicies(pid: number | 'self'): Map<number, number> {
  const out = new Map<number, number>();
  for (const tid of readdirSync(`/proc/${pid}/task`)) {
    try {
      const stat = readFileSync(`/proc/${pid}/task/${tid}/stat`, 'utf8');
      // Fields after the command's closing parenthesis start at field 3.
      out.set(Number(tid), Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[41 - 3]));
    } catch { /* the thread ended between the listing and the read */ }
  }
  return out;
}

/** One thread's CPU time (utime + stime, ms) and context switches (voluntary + not). */
export function threadCpu(pid: number, tid: number): { cpuMs: number; switches: number } {
  const status = readFileSync(`/proc/${pid}/task/${tid}/status`, 'utf8');
  const count = (name: string): number => Number(new RegExp(`^${name}:\\s+(\\d+)`, 'm').exec(status)?.[1] ?? Number.NaN);
  return { cpuMs: processCpuSeconds(tid, `/proc/${pid}/task`) * 1000, switches: count('voluntary_ctxt_switches') + count('nonvoluntary_ctxt_switches') };
}
