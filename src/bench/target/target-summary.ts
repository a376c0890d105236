// A `bench --target` run as one connlab.bench/1 result: the contract keys filled with
// what they mean against a user's server (established and verified at the last step,
// the fitted bytes per connection, doctor's limits for that server), and the `target`
// section with the steps, fits, failure and extrapolation. The broadcast is connlab
// serve's feature and is not run here: its keys are zero.

import type { DeathRecord } from '../../engine/worker-pool.ts';
import type { LatencySummaryMs } from '../../engine/latency.ts';
import type { LatencyHistograms, LoadResult } from '../../load/load.ts';
import { mergeEncoded } from '../../merge/histograms.ts';
import { formatIpv4 } from '../../tuple/address.ts';
import type { LimitName } from '../../limits/model.ts';
import { BENCH_SCHEMA, type BenchResult, type TimelinePoint } from '../result.ts';
import type { ServerSample } from './server-processes.ts';
import type { TargetBenchOptions } from './run-target.ts';
import type { RemoteSection } from './probe.ts';
import type { TargetBaseline, TargetExtrapolation, TargetFailure, TargetFit, TargetSection, TargetStep } from './target-result.ts';

export interface TargetResultInput {
  options: TargetBenchOptions;
  /** What the endpoints of a server on another host showed (--server-metrics), else undefined. */
  remote?: RemoteSection;
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

/** The steps' latency histograms added: exact percentiles over every step, and what merge and thresholds read. */
function combinedHistograms(loads: readonly LoadResult[]): { histograms: LatencyHistograms; connect: LatencySummaryMs } {
  const add = (key: keyof LatencyHistograms, maxMs: number[] = []) =>
    mergeEncoded(loads.map((r, i) => ({ label: `step ${i + 1}`, value: r.histograms[key] })), maxMs);
  const connect = add('connect_us', loads.map((r) => r.ramp.connect_ms.max));
  return { histograms: { connect_us: connect.encoded, rtt_us: add('rtt_us').encoded, broadcast_us: add('broadcast_us').encoded }, connect: connect.summary };
}

/** The steps' ramps together: their seconds and connects add; latency from the added histograms. */
function combinedRamp(loads: readonly LoadResult[], connect: LatencySummaryMs): BenchResult['ramp'] {
  const seconds = loads.reduce((sum, r) => sum + r.ramp.seconds, 0);
  const connects = loads.reduce((sum, r) => sum + r.ramp.per_second * r.ramp.seconds, 0);
  return { seconds: Math.round(seconds * 1000) / 1000, per_second: seconds > 0 ? Math.round(connects / seconds) : 0, connect_ms: connect };
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

/** Sockets per connection on the host measured: both ends on loopback, one on a remote server's host. */
const socketsPerConnection = (input: TargetResultInput): number => (input.remote ? 1 : 2);

export function targetSection(input: TargetResultInput): TargetSection {
  const o = input.options;
  return {
    addresses: o.destinations.map((d) => `${formatIpv4(d.ip)}:${d.port}`),
    protocol: o.protocol.kind,
    server: {
      pid: o.server && 'pid' in o.server ? o.server.pid : null,
      cgroup: o.server && 'cgroup' in o.server ? o.server.cgroup : null,
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
    kernel_bytes_per_connection: Math.round(socketsPerConnection(input) * input.kernelFit.bytes_per_connection),
    failure: input.failure,
    extrapolation: input.extrapolation,
    ...(input.remote ? { remote: input.remote } : {}),
  };
}

export function buildTargetResult(input: TargetResultInput): BenchResult {
  const o = input.options;
  const last = input.steps.at(-1);
  const lastHeld = input.steps.filter((s) => s.ok).at(-1);
  const established = last?.established ?? 0;
  const held = lastHeld?.established ?? 0;
  const latency = combinedHistograms(input.loads);
  return {
    schema: BENCH_SCHEMA,
    connections: { target: o.connections, established, verified: last?.verified ?? 0 },
    ramp: combinedRamp(input.loads, latency.connect),
    memory: {
      kernel_bytes_per_connection: Math.round(socketsPerConnection(input) * input.kernelFit.bytes_per_connection),
      server_user_bytes_per_connection: Math.round(input.fit.bytes_per_connection),
      load_user_bytes_per_connection: established > 0 ? Math.round(input.loadPrivateBytes / established) : 0,
      kernel_by_cache: slabByCache(input, held),
      kernel_expected_bytes_per_connection: socketsPerConnection(input) * (input.remote ? input.extrapolation.kernel_bytes_per_socket : o.host.socketCost.kernelBytesPerSocket),
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
    histograms: latency.histograms,
  };
}
