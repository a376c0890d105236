// fs.file-max for a bench: every socket is an open file host-wide, and with both ends on
// one host 2,000,000 connections are 4,000,000 of them, past the default file-max of a
// 24 GiB machine (~2.47M). When doctor's model says file-max is what binds, and the run
// fits once it is raised, bench (as root) raises it for the run and restores it after.
// The value is doctor's own advice (open files now + 2 × N + 10%), never lower than now.

import type { HostSnapshot } from '../limits/snapshot.ts';
import type { LimitName } from '../limits/model.ts';
import { planBench } from './plan-bench.ts';

export interface FileMaxRaise {
  from: number;
  to: number;
  /** The run fits once file-max is `to`; `next`: the limit that binds then (it may still fit). */
  fitsAfter: boolean;
  next: LimitName | null;
}

/** null unless fs.file-max is the limit that binds for `connections` on this host. */
export function planFileMaxRaise(host: HostSnapshot, connections: number): FileMaxRaise | null {
  const plan = planBench(host, connections);
  const from = host.fds.fileMax;
  if (plan.fits || plan.binding?.name !== 'system_fds' || from === undefined) return null;
  const advised = Number(plan.report.advice.find((a) => a.sysctl?.name === 'fs.file-max')?.sysctl?.value);
  const to = Math.max(from, Number.isFinite(advised) ? advised : 0);
  if (to <= from) return null;
  const after = planBench({ ...host, fds: { ...host.fds, fileMax: to } }, connections);
  return { from, to, fitsAfter: after.fits, next: after.binding?.name ?? null };
}
