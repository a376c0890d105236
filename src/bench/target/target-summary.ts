// A `bench --target` run as one connlab.bench/1 result: the contract keys filled with
// what they mean against a user's server (established and verified at the last step,
// the fitted bytes per connection, doctor's limits for that server), and the `target`
// section with the steps, fits, failure and extrapolation. The broadcast is connlab
// serve's feature and is not run here: its keys are zero.

import type { DeathRecord } from '../../engine/worker-pool.ts';
import type { LoadResult } from '../../load/load.ts';
import { formatDestination } from '../../target/resolve-targets.ts';
import type { LimitName } from '../../limits/model.ts';
import { BENCH_SCHEMA, type BenchResult, type TimelinePoint } from '../result.ts';
import type { ServerSample } from './server-processes.ts';
import type { TargetBenchOptions } from './run-target.ts';
import type { TargetBaseline, TargetExtrapolation, TargetFailure, TargetFit, TargetSection, TargetStep } from './target-result.ts';

export interface TargetResultInput {
  options: TargetBenchOptions;
  outcome: BenchResult['outcome'];
  baseline: TargetBaseline;
  steps: TargetStep[];
  fit: TargetFit;
  kernelFit: TargetFit;
  failure: TargetFailure | null;
  extrapolation: TargetExtrapolation;
  loads: LoadResult[];
  server: ServerSample | undefined;
  loadPrivateBytes: number;
  timeline: TimelinePoint[];
  machine: BenchResult['machine'];
  startedAt: string;
  deaths: DeathRecord[];
}

/** The steps' ramps together: their seconds and connects add; latency is the worst step's. */
function combinedRamp(loads: readonly LoadResult[]): BenchResult['ramp'] {
  const seconds = loads.reduce((sum, r) => sum + r.ramp.seconds, 0);
  const connects = loads.reduce((sum, r) => sum + r.ramp.per_second * r.ramp.seconds, 0);
  const worst = (key: 'p50' | 'p99' | 'max'): number => Math.max(0, ...loads.map((r) => r.ramp.connect_ms[key]));
  return {
    seconds: Math.round(seconds * 1000) / 1000,
    per_second: seconds > 0 ? Math.round(connects / seconds) : 0,
    connect_ms: { p50: worst('p50'), p99: worst('p99'), max: worst('max'), count: loads.reduce((sum, r) => sum + r.ramp.connect_ms.count, 0) },
  };
}

function mergedErrors(loads: readonly LoadResult[]): Record<string, number> {
  const errors: Record<string, number> = {};
  for (const r of loads) for (const [errno, n] of Object.entries(r.errors)) errors[errno] = (errors[errno] ?? 0) + n;
  return errors;
}

/** The socket slab growth by cache at the last step that held, per connection (both ends here). */
function slabByCache(input: TargetResultInput, established: number): Record<string, number> {
  const base = input.timeline[0]?.slab_bytes ?? {};
  const last = input.timeline.filter((p) => p.phase === 'hold').at(-1)?.slab_bytes ?? {};
  const out: Record<string, number> = {};
  if (established <= 0) return out;
  for (const [cache, bytes] of Object.entries(last)) out[cache] = Math.round((bytes - (base[cache] ?? 0)) / established);
  return out;
}

function limitsOf(x: TargetExtrapolation): BenchResult['limits'] {
  const headroom: Partial<Record<LimitName, number>> = {};
  if (x.binding !== null && x.connections !== null) headroom[x.binding] = 0;
  if (x.after_binding && x.connections !== null) headroom[x.after_binding.name] = x.after_binding.allows - x.connections;
  return { binding: x.binding, headroom };
}

export function targetSection(input: TargetResultInput): TargetSection {
  const o = input.options;
  return {
    addresses: o.destinations.map(formatDestination),
    protocol: o.protocol.kind,
    server: {
      pid: 'pid' in o.server ? o.server.pid : null,
      cgroup: 'cgroup' in o.server ? o.server.cgroup : null,
      pids: input.server?.pids ?? [],
      holders: input.server?.holders.length ?? 0,
      fd_soft_limit: input.server?.fdSoftLimit ?? null,
    },
    connections: o.connections,
    steps_requested: o.steps,
    step_hold_seconds: o.stepHoldMs / 1000,
    baseline: input.baseline,
    steps: input.steps,
    fit: input.fit,
    kernel_fit: input.kernelFit,
    kernel_bytes_per_server_socket: Math.round(input.kernelFit.bytes_per_connection),
    kernel_bytes_per_connection: Math.round(2 * input.kernelFit.bytes_per_connection),
    failure: input.failure,
    extrapolation: input.extrapolation,
  };
}

export function buildTargetResult(input: TargetResultInput): BenchResult {
  const o = input.options;
  const last = input.steps.at(-1);
  const lastHeld = input.steps.filter((s) => s.ok).at(-1);
  const established = last?.established ?? 0;
  const held = lastHeld?.established ?? 0;
  return {
    schema: BENCH_SCHEMA,
    connections: { target: o.connections, established, verified: last?.verified ?? 0 },
    ramp: combinedRamp(input.loads),
    memory: {
      kernel_bytes_per_connection: Math.round(2 * input.kernelFit.bytes_per_connection),
      server_user_bytes_per_connection: Math.round(input.fit.bytes_per_connection),
      load_user_bytes_per_connection: established > 0 ? Math.round(input.loadPrivateBytes / established) : 0,
      kernel_by_cache: slabByCache(input, held),
      kernel_expected_bytes_per_connection: 2 * o.host.socketCost.kernelBytesPerSocket,
      server_private_bytes: lastHeld?.server_private_bytes ?? input.baseline.server_private_bytes,
      load_private_bytes: input.loadPrivateBytes,
    },
    broadcast: { p50_ms: 0, p99_ms: 0, max_ms: 0, delivered: 0 },
    limits: limitsOf(input.extrapolation),
    errors: mergedErrors(input.loads),
    processes: { server: input.server?.pids.length ?? 0, load: input.loads.reduce((sum, r) => sum + r.processes.load, 0) },
    outcome: input.outcome,
    hold_seconds: Math.round(input.steps.length * o.stepHoldMs) / 1000,
    hold_requested_seconds: Math.round(o.steps * o.stepHoldMs) / 1000,
    deaths: { server: [], load: input.deaths },
    machine: input.machine,
    started_at: input.startedAt,
    command: o.command,
    timeline: input.timeline,
    target: targetSection(input),
  };
}
