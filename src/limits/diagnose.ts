// doctor's answer as one plain JSON value: every limit, the one that binds, how many
// processes the per-process descriptor limit demands, what binds once they are spread,
// and the advice. The CLI's table and --json both render this object.

import { adviseFor, backlogNeedsAdvice, type Advice } from './advice.ts';
import { cgroupMemoryAdvice, cgroupPidsAdvice } from './cgroup-advice.ts';
import { cgroupReport, withTargetLimits, type CgroupContext, type CgroupReport, type TargetProcess } from './cgroup-context.ts';
import { cgroupLimits } from './cgroup-model.ts';
import type { UnitLimits } from './systemd-unit.ts';
import { evaluateLimits, findBinding, FD_RESERVE_PER_PROCESS, type Limit, type LimitName } from './model.ts';
import { socketsPerConnection, type TrafficShape } from './shape.ts';
import type { HostSnapshot } from './snapshot.ts';

export const DOCTOR_SCHEMA = 'connlab.doctor/1';

export interface BindingSummary {
  name: LimitName;
  allows: number;
  error: string;
}

export interface DoctorReport {
  schema: typeof DOCTOR_SCHEMA;
  shape: {
    role: TrafficShape['role'];
    connections: number | null;
    processes: number;
    sockets_per_connection: number;
    source_ports: string;
  };
  limits: Limit[];
  binding: BindingSummary | null;
  /** True when the binding limit allows at least the target (always true without one). */
  reaches_target: boolean;
  /** Processes over both sides that the per-process descriptor limit demands for the target. */
  processes_needed: number | null;
  /** The same shape re-evaluated with `processes_needed` workers: the next limit in line. */
  after_spreading: { processes: number; binding: BindingSummary | null; headroom: Partial<Record<LimitName, number>> } | null;
  advice: Advice[];
  host: HostSnapshot;
  /** The cgroup read (`doctor`'s own, `--pid`'s or `--cgroup`'s); null when none was asked for or found. */
  cgroup?: CgroupReport | null;
  /** `--pid`: the process whose descriptor limit the model used. */
  process?: TargetProcess | null;
  /** `--unit`: what systemd says about the unit. */
  unit?: UnitLimits | null;
}

const PER_PROCESS: ReadonlySet<LimitName> = new Set(['process_fds', 'user_fds']);

function summarize(limit: Limit | undefined): BindingSummary | null {
  return limit && limit.allows !== null ? { name: limit.name, allows: limit.allows, error: limit.error } : null;
}

function headroomOf(limits: readonly Limit[]): Partial<Record<LimitName, number>> {
  return Object.fromEntries(limits.filter((l) => l.headroom !== null && l.active).map((l) => [l.name, l.headroom]));
}

/** Processes per side so that no process exceeds its descriptor limit. */
function processesPerSide(host: HostSnapshot, connections: number): number | null {
  const soft = host.fds.processSoft;
  if (soft === undefined || soft <= FD_RESERVE_PER_PROCESS) return null;
  return Math.max(1, Math.ceil(connections / (soft - FD_RESERVE_PER_PROCESS)));
}

/** What the host holds when the per-process limit is spread away: the goal without a target. */
function hostCapacity(limits: readonly Limit[]): number | null {
  return findBinding(limits.filter((l) => !PER_PROCESS.has(l.name)))?.allows ?? null;
}

function cgroupAdviceFor(names: ReadonlySet<LimitName>, ctx: CgroupContext | undefined, host: HostSnapshot, shape: TrafficShape, target: number): Advice[] {
  const cgroup = ctx?.cgroup;
  if (cgroup === undefined || target <= 0) return [];
  return [
    ...(names.has('cgroup_memory') ? cgroupMemoryAdvice(cgroup, shape, target, ctx?.objectBytes) : []),
    ...(names.has('cgroup_pids') ? cgroupPidsAdvice(cgroup, host, shape, target) : []),
  ];
}

/** doctor's report; with a cgroup context the cgroup's limits join the table and the target's descriptor limit replaces doctor's. */
/** Without a target, the cgroup's advice aims at the next limit out (what the workers could hold, or the host). */
function hostGoal(limits: readonly Limit[]): number {
  return findBinding(limits.filter((l) => !l.name.startsWith('cgroup_')))?.allows ?? 0;
}

export function diagnose(hostSnapshot: HostSnapshot, shape: TrafficShape, ctx?: CgroupContext): DoctorReport {
  const host = ctx ? withTargetLimits(hostSnapshot, ctx) : hostSnapshot;
  const extra = (s: TrafficShape): Limit[] => (ctx?.cgroup ? cgroupLimits(ctx.cgroup, host, s, ctx.objectBytes) : []);
  const limits = evaluateLimits(host, shape, extra);
  const binding = findBinding(limits);
  const goal = shape.connections ?? hostCapacity(limits);
  const perSide = goal === null ? null : processesPerSide(host, goal);
  const sides = socketsPerConnection(shape);

  let afterSpreading: DoctorReport['after_spreading'] = null;
  if (binding && PER_PROCESS.has(binding.name) && perSide !== null && perSide > shape.processes) {
    const spread = { ...shape, processes: perSide };
    const spreadLimits = evaluateLimits(host, spread, extra);
    // Spreading satisfies the per-process limits by construction: the next one is host-wide.
    const next = findBinding(spreadLimits.filter((l) => !PER_PROCESS.has(l.name)));
    afterSpreading = { processes: perSide * sides, binding: summarize(next), headroom: headroomOf(spreadLimits) };
  }

  const target = shape.connections;
  const short = target === undefined ? (binding ? [binding] : []) : limits.filter((l) => l.active && l.allows !== null && l.allows < target);
  const adviceTarget = target ?? goal ?? 0;
  const advice = short.flatMap((l) => adviseFor(l, host, shape, Math.max(adviceTarget, (l.allows ?? 0) + 1)));
  advice.push(...cgroupAdviceFor(new Set(short.map((l) => l.name)), ctx, host, shape, target ?? hostGoal(limits)));
  if (backlogNeedsAdvice(host)) {
    const backlog = limits.find((l) => l.name === 'backlog');
    if (backlog) advice.push(...adviseFor(backlog, host, shape, adviceTarget));
  }

  return {
    schema: DOCTOR_SCHEMA,
    shape: {
      role: shape.role,
      connections: shape.connections ?? null,
      processes: shape.processes,
      sockets_per_connection: sides,
      source_ports: shape.sourcePorts === 'kernel' ? 'kernel' : `${shape.sourcePorts.first}-${shape.sourcePorts.last}`,
    },
    limits,
    binding: summarize(binding),
    reaches_target: target === undefined || (binding?.allows ?? Infinity) >= target,
    processes_needed: perSide === null ? null : perSide * sides,
    after_spreading: afterSpreading,
    advice,
    host,
    ...(ctx ? { cgroup: cgroupReport(ctx, host), process: ctx.process, unit: ctx.unit } : {}),
  };
}
