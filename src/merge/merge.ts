// `connlab merge` as a library: adds load (connlab.load/1) or bench (connlab.bench/1)
// results from many hosts into one result of the same schema, so every renderer of that
// schema renders the merge too. Counts, errors and closes add; latency percentiles come
// from the added histograms (exact); per-connection memory is recomputed from the added
// bytes; a bench timeline adds second by second, aligned on each run's start.

import { mergeBooks } from '../engine/books.ts';
import { BENCH_SCHEMA, type BenchResult, type MergeInfo, type TimelinePoint } from '../bench/result.ts';
import { ConnlabError } from '../errors.ts';
import { classifyErrors } from '../load/classify.ts';
import type { LatencyHistograms, LoadResult } from '../load/load.ts';
import { formatShard } from '../shard/shard.ts';
import { mergeEncoded } from './histograms.ts';

export type MergedLoadResult = LoadResult & { merged: MergeInfo };
export type AnyResult = LoadResult | BenchResult;

export interface LabelledResult<T> {
  /** Where it came from (a file name), for errors. */
  label: string;
  result: T;
}

function addRecords<K extends string>(records: readonly Record<K, number>[]): Record<K, number> {
  const out = {} as Record<K, number>;
  for (const record of records) for (const [k, v] of Object.entries(record) as [K, number][]) out[k] = (out[k] ?? 0) + v;
  return out;
}

const sum = (values: readonly number[]): number => values.reduce((a, b) => a + b, 0);

function histogramsOf<T extends { histograms?: LatencyHistograms | undefined }>(inputs: readonly LabelledResult<T>[]): LatencyHistograms[] {
  return inputs.map(({ label, result }) => {
    if (!result.histograms) {
      throw new ConnlabError('CONNLAB_ERR_INVALID_ARGUMENT', `${label} carries no latency histograms, so its percentiles cannot be merged exactly`, {
        hint: 'write the results with this connlab version (--json), which includes them',
      });
    }
    return result.histograms;
  });
}

/** Exact maxima per histogram: a decoded histogram knows its maximum only to its bucket. */
type Maxima = Record<keyof LatencyHistograms, number[]>;

function mergeHistograms(inputs: readonly LabelledResult<{ histograms?: LatencyHistograms | undefined }>[], maxima: Maxima) {
  const all = histogramsOf(inputs);
  const one = (key: keyof LatencyHistograms) => mergeEncoded(all.map((h, i) => ({ label: `${inputs[i]?.label} ${key}`, value: h[key] })), maxima[key]);
  const connect = one('connect_us');
  const rtt = one('rtt_us');
  const broadcast = one('broadcast_us');
  return { connect, rtt, broadcast, encoded: { connect_us: connect.encoded, rtt_us: rtt.encoded, broadcast_us: broadcast.encoded } };
}

/** Shard numbers (1-based) of the shard set that no input was; [] when unsharded. */
function missingShards(shards: readonly ({ index: number; count: number } | undefined)[]): number[] {
  const present = shards.filter((s) => s !== undefined);
  const count = present[0]?.count;
  if (count === undefined) return [];
  if (present.some((s) => s.count !== count)) {
    throw new ConnlabError('CONNLAB_ERR_INVALID_ARGUMENT', 'the results come from shard sets of different sizes', { hint: 'merge the shards of one run' });
  }
  const seen = new Set<number>();
  for (const s of present) {
    if (seen.has(s.index)) throw new ConnlabError('CONNLAB_ERR_INVALID_ARGUMENT', `shard ${formatShard(s)} appears twice`, { hint: 'merge each shard\'s result once' });
    seen.add(s.index);
  }
  return Array.from({ length: count }, (_, i) => i).filter((i) => !seen.has(i)).map((i) => i + 1);
}

function requireSchema(inputs: readonly LabelledResult<{ schema?: unknown }>[]): string {
  const schema = inputs[0]?.result.schema;
  if (inputs.length === 0) throw new ConnlabError('CONNLAB_ERR_USAGE', 'merge needs at least one result', { hint: 'connlab merge a.json b.json' });
  for (const { label, result } of inputs) {
    if (result.schema !== 'connlab.load/1' && result.schema !== BENCH_SCHEMA) {
      throw new ConnlabError('CONNLAB_ERR_INVALID_ARGUMENT', `${label} is not a connlab load or bench result (schema ${JSON.stringify(result.schema)})`, { hint: 'merge files written by load --json or bench --json' });
    }
    if (result.schema !== schema) {
      throw new ConnlabError('CONNLAB_ERR_INVALID_ARGUMENT', `${label} is ${String(result.schema)} but the first result is ${String(schema)}`, { hint: 'merge load results with load results, bench with bench' });
    }
  }
  return schema as string;
}

export function mergeLoadResults(inputs: readonly LabelledResult<LoadResult>[]): MergedLoadResult {
  const results = inputs.map((i) => i.result);
  const h = mergeHistograms(inputs, {
    connect_us: results.map((r) => r.ramp.connect_ms.max), rtt_us: results.map((r) => r.ping.rtt_ms.max), broadcast_us: results.map((r) => r.broadcast.latency_ms.max),
  });
  const errors = addRecords(results.map((r) => r.errors));
  const established = sum(results.map((r) => r.connections.established));
  const privateBytes = sum(results.map((r) => r.memory.load_private_bytes));
  const seconds = Math.max(0, ...results.map((r) => r.ramp.seconds));
  const first = results[0] as LoadResult;
  const shards = results.map((r) => r.plan.shard);
  // The merge is no longer one shard: its plan keeps the shape, not the shard.
  const { shard: _shard, ...plan } = first.plan;
  return {
    ...first,
    connections: {
      target: first.plan.shard ? first.plan.shard.total : sum(results.map((r) => r.connections.target)),
      established,
      verified: sum(results.map((r) => r.connections.verified)),
      // Shards peak at their own moments: the sum is what they held at most together.
      peak: sum(results.map((r) => r.connections.peak ?? r.connections.established)),
      silent: sum(results.map((r) => r.connections.silent ?? 0)),
    },
    // Shards ramp side by side (--start-at): the merged ramp lasts as long as the slowest.
    ramp: { seconds, per_second: sum(results.map((r) => r.ramp.per_second)), connect_ms: h.connect.summary },
    ping: { rtt_ms: h.rtt.summary },
    broadcast: { received: sum(results.map((r) => r.broadcast.received)), latency_ms: h.broadcast.summary },
    errors,
    explained: classifyErrors(errors),
    closed: addRecords(results.map((r) => r.closed)) as LoadResult['closed'],
    deaths: results.flatMap((r) => r.deaths ?? []),
    ...mergedBooks(results),
    stalls: results.flatMap((r) => r.stalls ?? []),
    closed_early: sum(results.map((r) => r.closed_early ?? 0)),
    codes: {
      http_status: addRecords(results.map((r) => r.codes?.http_status ?? {})),
      ws_close: addRecords(results.map((r) => r.codes?.ws_close ?? {})),
      mqtt_connack: addRecords(results.map((r) => r.codes?.mqtt_connack ?? {})),
    },
    protocol_bytes: results.flatMap((r) => r.protocol_bytes ?? []).slice(0, 8),
    tls: results.some((r) => r.tls)
      ? { handshakes: sum(results.map((r) => r.tls?.handshakes ?? 0)), errors: addRecords(results.map((r) => r.tls?.errors ?? {})) }
      : null,
    processes: { load: sum(results.map((r) => r.processes.load)) },
    plan: { ...plan, connections: sum(results.map((r) => r.plan.connections)) },
    ...mergedTargets(results),
    memory: { load_private_bytes: privateBytes, load_user_bytes_per_connection: established > 0 ? Math.round(privateBytes / established) : null },
    holder: [...new Set(results.map((r) => r.holder))].join(','),
    worker_runtime: [...new Set(results.map((r) => r.worker_runtime))].join(','),
    histograms: h.encoded,
    merged: {
      inputs: results.length,
      parts: results.map((r) => ({ shard: r.plan.shard ? formatShard(r.plan.shard) : null, hostname: null, ...r.connections })),
      missing_shards: missingShards(shards),
    },
  };
}

/** Books of the parts together; balanced only when every part says so. */
function mergedBooks(results: readonly LoadResult[]): Pick<LoadResult, 'books' | 'books_balanced'> {
  const books = mergeBooks(results.map((r) => r.books ?? undefined));
  return { books, books_balanced: books?.balanced ?? false };
}

/**
 * Every destination and resolved name any shard used, once each, in either family: shards on
 * several hosts may have resolved a name to different addresses.
 */
function mergedTargets(results: readonly LoadResult[]): Pick<LoadResult, 'targets'> {
  const withTargets = results.filter((r) => r.targets);
  if (withTargets.length === 0) return {};
  const destinations = [...new Set(withTargets.flatMap((r) => r.targets?.destinations ?? []))];
  const seen = new Set<string>();
  const resolved = withTargets.flatMap((r) => r.targets?.resolved ?? []).filter((n) => {
    const key = `${n.name}|${n.addresses.join(',')}`;
    return !seen.has(key) && seen.add(key) !== undefined;
  });
  return { targets: { destinations, resolved } };
}

/** Timelines added point by point (index = seconds since each run's start); phase from the first. */
function addTimelines(timelines: readonly TimelinePoint[][]): TimelinePoint[] {
  const length = Math.max(0, ...timelines.map((t) => t.length));
  return Array.from({ length }, (_, i) => {
    const points = timelines.map((t) => t[i] ?? t.at(-1)).filter((p) => p !== undefined);
    const base = points[0] as TimelinePoint;
    const add = (f: (p: TimelinePoint) => number): number => sum(points.map(f));
    return {
      t: base.t, phase: base.phase,
      kernel_sockets: add((p) => p.kernel_sockets), server_connections: add((p) => p.server_connections), load_connections: add((p) => p.load_connections),
      slab_bytes: addRecords(points.map((p) => p.slab_bytes)), meminfo_slab_bytes: add((p) => p.meminfo_slab_bytes), mem_available_bytes: add((p) => p.mem_available_bytes),
      server_private_bytes: add((p) => p.server_private_bytes), load_private_bytes: add((p) => p.load_private_bytes),
      server_heap_bytes: add((p) => p.server_heap_bytes), load_heap_bytes: add((p) => p.load_heap_bytes),
      cpu_busy: add((p) => p.cpu_busy) / points.length, netstat: addRecords(points.map((p) => p.netstat)),
    };
  });
}

export function mergeBenchResults(inputs: readonly LabelledResult<BenchResult>[], command: string): BenchResult {
  const results = inputs.map((i) => i.result);
  // Bench results keep no ping summary: the rtt maximum stays the histogram's own.
  const h = mergeHistograms(inputs, { connect_us: results.map((r) => r.ramp.connect_ms.max), rtt_us: [], broadcast_us: results.map((r) => r.broadcast.max_ms) });
  const first = results[0] as BenchResult;
  const established = sum(results.map((r) => r.connections.established));
  // Per-connection figures weighted by what each host held: the merged bytes over the merged count.
  const weighted = (f: (r: BenchResult) => number): number =>
    established > 0 ? Math.round(sum(results.map((r) => f(r) * r.connections.established)) / established) : 0;
  const serverPrivate = sum(results.map((r) => r.memory.server_private_bytes));
  const loadPrivate = sum(results.map((r) => r.memory.load_private_bytes));
  return {
    ...first,
    connections: { target: sum(results.map((r) => r.connections.target)), established, verified: sum(results.map((r) => r.connections.verified)) },
    ramp: { seconds: Math.max(0, ...results.map((r) => r.ramp.seconds)), per_second: sum(results.map((r) => r.ramp.per_second)), connect_ms: h.connect.summary },
    memory: {
      ...first.memory,
      kernel_bytes_per_connection: weighted((r) => r.memory.kernel_bytes_per_connection),
      // Each run measured its per-connection bytes at its hold, not at the end: weight those.
      server_user_bytes_per_connection: weighted((r) => r.memory.server_user_bytes_per_connection),
      load_user_bytes_per_connection: weighted((r) => r.memory.load_user_bytes_per_connection),
      server_private_bytes: serverPrivate,
      load_private_bytes: loadPrivate,
    },
    broadcast: { p50_ms: h.broadcast.summary.p50, p99_ms: h.broadcast.summary.p99, max_ms: h.broadcast.summary.max, delivered: sum(results.map((r) => r.broadcast.delivered)) },
    errors: addRecords(results.map((r) => r.errors)),
    processes: { server: sum(results.map((r) => r.processes.server)), load: sum(results.map((r) => r.processes.load)) },
    outcome: results.find((r) => r.outcome !== 'completed')?.outcome ?? 'completed',
    machine: { ...first.machine, hostname: [...new Set(results.map((r) => r.machine.hostname))].join(' + ') },
    command,
    timeline: addTimelines(results.map((r) => r.timeline)),
    histograms: h.encoded,
    merged: {
      inputs: results.length,
      parts: results.map((r) => ({ shard: null, hostname: r.machine.hostname, ...r.connections })),
      missing_shards: [],
    },
  };
}

/** Merges results of one schema; the schema of the first decides which merge applies. */
export function mergeResults(inputs: readonly LabelledResult<AnyResult>[], command: string): MergedLoadResult | BenchResult {
  const schema = requireSchema(inputs);
  return schema === BENCH_SCHEMA
    ? mergeBenchResults(inputs as LabelledResult<BenchResult>[], command)
    : mergeLoadResults(inputs as LabelledResult<LoadResult>[]);
}
