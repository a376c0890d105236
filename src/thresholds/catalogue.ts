// The metric names a threshold may use, and how each is read from a result. Names follow
// the JSON (`connections.verified` is `verified`, `ramp.connect_ms.p99` is
// `connect_ms.p99`), so what a user sees in `--json` is what they write. One table says
// each name's unit (which suffixes its value may carry), whether it can be a percent of
// the target, and whether it only ever grows during a run (what --abort-on-fail needs).

import hdr from 'hdr-histogram-js';
import type { CloseReason } from '../engine/holder.ts';

/** The unit a metric is measured in: it decides which suffixes a threshold's value may carry. */
export type MetricUnit = 'connections' | 'ms' | 'seconds' | 'bytes' | 'per_second' | 'ratio';

/** Which result a metric can be read from: `connlab.load/1` or `connlab.bench/1` (and their merges). */
export type ResultKind = 'load' | 'bench';

export interface MetricDef {
  /** The name as written in a threshold. */
  name: string;
  unit: MetricUnit;
  /** `verified>=99.9%`: the value may be a percent of connections.target. */
  percent: boolean;
  /** Only grows while the run goes on: an upper bound once crossed stays crossed. */
  monotone: boolean;
  in: readonly ResultKind[];
  /** Where it is in the JSON, for errors and the docs. */
  path: string;
}

/** Every close reason a load result counts (HolderStats.closed). */
export const CLOSE_REASONS = [
  'peer', 'reset', 'protocol', 'slow', 'local', 'timeout', 'churn', 'lost', 'server_close', 'idle', 'refused', 'keepalive', 'tls',
] as const satisfies readonly CloseReason[];

const BOTH: readonly ResultKind[] = ['load', 'bench'];
const LOAD: readonly ResultKind[] = ['load'];
const BENCH: readonly ResultKind[] = ['bench'];

const count = (name: string, path: string, kinds = BOTH, monotone = false): MetricDef =>
  ({ name, unit: 'connections', percent: true, monotone, in: kinds, path });

/** Names that are not a family (`errors.<ERRNO>`, `closed.<reason>`, `connect_ms.<stat>`, `memory.<key>`). */
const FIXED: readonly MetricDef[] = [
  count('established', 'connections.established'),
  count('held', 'connections.established'),
  count('verified', 'connections.verified'),
  count('peak', 'connections.peak', LOAD),
  count('silent', 'connections.silent', LOAD),
  count('errors', 'errors (the sum)', BOTH, true),
  count('closed', 'closed (the sum, without local)', LOAD, true),
  count('closed_early', 'closed_early', LOAD, true),
  count('broadcast.delivered', 'broadcast.delivered', BENCH),
  count('broadcast.received', 'broadcast.received', LOAD),
  count('extrapolation.connections', 'target.extrapolation.connections', BENCH),
  { name: 'ramp.per_second', unit: 'per_second', percent: false, monotone: false, in: BOTH, path: 'ramp.per_second' },
  { name: 'ramp.seconds', unit: 'seconds', percent: false, monotone: false, in: BOTH, path: 'ramp.seconds' },
  { name: 'fit.r2', unit: 'ratio', percent: false, monotone: false, in: BENCH, path: 'target.fit.r2' },
];

/** Latency families: which summary and which encoded histogram each reads. */
const LATENCIES = {
  connect_ms: { in: BOTH, load: 'ramp.connect_ms', bench: 'ramp.connect_ms', histogram: 'connect_us' },
  rtt_ms: { in: LOAD, load: 'ping.rtt_ms', bench: '', histogram: 'rtt_us' },
  broadcast_ms: { in: BOTH, load: 'broadcast.latency_ms', bench: 'broadcast', histogram: 'broadcast_us' },
} as const;

type LatencyFamily = keyof typeof LATENCIES;

/** `p50`, `p99`, `p99.9`, `max`: a percentile from 0 to 100, max being 100. */
function percentileOf(stat: string): number | undefined {
  if (stat === 'max') return 100;
  const match = /^p(\d{1,2}(?:\.\d+)?|100)$/.exec(stat);
  const p = match ? Number(match[1]) : NaN;
  return p > 0 && p <= 100 ? p : undefined;
}

/** The definition of `name`, or undefined when no metric has that name. */
export function lookupMetric(name: string): MetricDef | undefined {
  const fixed = FIXED.find((m) => m.name === name);
  if (fixed) return fixed;
  const dot = name.indexOf('.');
  const family = dot < 0 ? name : name.slice(0, dot);
  const rest = dot < 0 ? '' : name.slice(dot + 1);
  if (family === 'errors' && /^[A-Z][A-Z0-9_]*$/.test(rest)) return count(name, `errors.${rest}`, BOTH, true);
  if (family === 'closed' && (CLOSE_REASONS as readonly string[]).includes(rest)) return count(name, `closed.${rest}`, LOAD, true);
  if (family === 'memory' && /^[a-z][a-z_]*_bytes(_per_connection)?$/.test(rest)) {
    return { name, unit: 'bytes', percent: false, monotone: false, in: BOTH, path: `memory.${rest}` };
  }
  if (family in LATENCIES && percentileOf(rest) !== undefined) {
    const l = LATENCIES[family as LatencyFamily];
    return { name, unit: 'ms', percent: false, monotone: rest === 'max', in: l.in, path: `${l.load}.${rest}` };
  }
  return undefined;
}

/** Names to suggest when one is unknown: the fixed ones and an example of each family. */
export const METRIC_EXAMPLES: readonly string[] = [
  ...FIXED.map((m) => m.name), 'errors.EADDRNOTAVAIL', 'closed.reset',
  'connect_ms.p50', 'connect_ms.p90', 'connect_ms.p99', 'connect_ms.max', 'rtt_ms.p99', 'broadcast_ms.p99',
  'memory.server_user_bytes_per_connection', 'memory.load_user_bytes_per_connection', 'memory.kernel_bytes_per_connection',
];

type Json = Record<string, unknown>;

function at(result: unknown, path: string): unknown {
  return path.split('.').reduce<unknown>((v, k) => (v !== null && typeof v === 'object' ? (v as Json)[k] : undefined), result);
}

const num = (v: unknown): number | null => (typeof v === 'number' && Number.isFinite(v) ? v : null);

const sum = (table: unknown, skip: readonly string[] = []): number | null => table !== null && typeof table === 'object'
  ? Object.entries(table as Json).reduce((s, [k, v]) => s + (skip.includes(k) ? 0 : num(v) ?? 0), 0)
  : null;

/** `connlab.bench/…` results are bench's; everything else (load, merged load) is load's. */
export function resultKind(result: unknown): ResultKind {
  const schema = at(result, 'schema');
  return typeof schema === 'string' && schema.startsWith('connlab.bench/') ? 'bench' : 'load';
}

/** A latency statistic in ms: from the summary when it has it, else from the encoded histogram. */
function readLatency(result: unknown, family: LatencyFamily, stat: string): number | null {
  const l = LATENCIES[family];
  const kind = resultKind(result);
  if (kind === 'bench' && family === 'broadcast_ms') {
    if ((num(at(result, 'broadcast.delivered')) ?? 0) === 0) return null;
    const value = num(at(result, `broadcast.${stat}_ms`));
    if (value !== null) return value;
  } else {
    const summary = at(result, kind === 'bench' ? l.bench : l.load);
    if ((num(at(summary, 'count')) ?? 0) === 0) return null;
    const value = num(at(summary, stat));
    if (value !== null) return value;
  }
  return fromHistogram(at(result, `histograms.${l.histogram}`), percentileOf(stat) ?? 100);
}

function fromHistogram(encoded: unknown, percentile: number): number | null {
  if (typeof encoded !== 'string' || encoded === '') return null;
  let h: hdr.Histogram;
  try {
    h = hdr.decodeFromCompressedBase64(encoded);
  } catch {
    return null;
  }
  const value = h.totalCount === 0 ? null : Math.round(h.getValueAtPercentile(percentile)) / 1000;
  h.destroy();
  return value;
}

/** The observed value of a metric in a result; null when the result does not have it. */
export function readMetric(def: MetricDef, result: unknown): number | null {
  const name = def.name;
  if (name === 'errors') return sum(at(result, 'errors'));
  if (name === 'closed') return sum(at(result, 'closed'), ['local']);
  if (name === 'held') return num(at(result, 'connections.established'));
  if (name.startsWith('errors.')) return at(result, 'errors') === undefined ? null : num(at(result, name)) ?? 0;
  if (name.startsWith('closed.')) return at(result, 'closed') === undefined ? null : num(at(result, name)) ?? 0;
  const dot = name.indexOf('.');
  const family = name.slice(0, dot);
  if (family in LATENCIES) return readLatency(result, family as LatencyFamily, name.slice(dot + 1));
  return num(at(result, def.path));
}
