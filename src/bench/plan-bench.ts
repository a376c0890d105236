// Before a bench starts: doctor's model, with both ends on this host and as many workers
// as the descriptor limit needs, says whether the target fits. If it does not, the run
// never starts: finding out by crashing halfway through a million connections costs
// minutes and can take the host down with it.

import { diagnose, type DoctorReport } from '../limits/diagnose.ts';
import type { LimitName } from '../limits/model.ts';
import { defaultShape } from '../limits/shape.ts';
import type { HostSnapshot } from '../limits/snapshot.ts';
import { clientWorkersFor, serverWorkersFor } from '../engine/sizing.ts';

export interface BenchPlan {
  connections: number;
  serverWorkers: number;
  loadWorkers: number;
  /** doctor's report for the shape as it will run (processes per side = load workers). */
  report: DoctorReport;
  /** The limit that binds at this size, with what it allows. */
  binding: { name: LimitName; allows: number; error: string } | null;
  fits: boolean;
}

export function planBench(host: HostSnapshot, connections: number): BenchPlan {
  const fdSoft = host.fds.processSoft ?? 1024;
  const serverWorkers = serverWorkersFor(connections, fdSoft);
  const loadWorkers = clientWorkersFor(connections, fdSoft);
  const report = diagnose(host, defaultShape({ role: 'both', connections, processes: loadWorkers }));
  return {
    connections,
    serverWorkers,
    loadWorkers,
    report,
    binding: report.binding,
    fits: report.reaches_target,
  };
}

/** The limits' headroom in the shape of the bench result contract. */
export function benchLimits(plan: BenchPlan): { binding: LimitName | null; headroom: Partial<Record<LimitName, number>> } {
  const headroom: Partial<Record<LimitName, number>> = {};
  for (const limit of plan.report.limits) if (limit.active && limit.headroom !== null) headroom[limit.name] = limit.headroom;
  return { binding: plan.binding?.name ?? null, headroom };
}
