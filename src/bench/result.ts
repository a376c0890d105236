// The one result shape of `connlab bench`: the contract of design.md (connections,
// ramp, memory, broadcast, limits, errors, processes) plus what the run saw over time.
// `--json`, the final table and the HTML report all render this object, nothing else.

import type { Books } from '../engine/books.ts';
import type { LatencySummaryMs, LatencyWindowMs } from '../engine/latency.ts';
import type { DeathRecord } from '../engine/worker-pool.ts';
import type { LimitName } from '../limits/model.ts';
import type { LatencyHistograms } from '../load/load.ts';
import type { BenchTlsSection } from './bench-tls.ts';
import type { TargetSection } from './target/target-result.ts';
import type { ThresholdVerdict } from '../thresholds/evaluate.ts';

export const BENCH_SCHEMA = 'connlab.bench/1';

/** One sample of the timeline, taken once a second. */
export interface TimelinePoint {
  /** Seconds since the bench started. */
  t: number;
  phase: BenchPhase;
  /** ESTABLISHED as the kernel counts it (sockstat TCP inuse, both ends here). */
  kernel_sockets: number;
  /** Connections serve holds / load holds, from the workers' reports. */
  server_connections: number;
  load_connections: number;
  /** Bytes in the socket slab caches (TCP, sock_inode_cache, filp, dentry, eventpoll_epi). */
  slab_bytes: Record<string, number>;
  /** /proc/meminfo Slab and MemAvailable, bytes. */
  meminfo_slab_bytes: number;
  mem_available_bytes: number;
  /** Private memory summed over each side's workers, bytes. */
  server_private_bytes: number;
  load_private_bytes: number;
  server_heap_bytes: number;
  load_heap_bytes: number;
  /** Busy share of all CPUs over the last interval, 0..1. */
  cpu_busy: number;
  /** Kernel counters since the start: ListenOverflows, ListenDrops, TCPAbortOnMemory, TCPTimeouts. */
  netstat: Record<string, number>;
  /** How long reading this sample's /proc files took, ms (absent in older results). */
  sample_read_ms?: number;
  /** How old slab_bytes is: /proc/slabinfo is read in the background (host-sampler-thread.ts), ms. */
  slab_age_ms?: number;
  /** The supervisor's longest event-loop delay since the previous point, ms (absent in older results). */
  loop_delay_ms?: number;
  /** Load's connect, ping round-trip and broadcast percentiles of the reports since the previous point (absent before 2026-12-03, and when none arrived). */
  latency_ms?: LatencyWindowMs;
}

export type BenchPhase = 'start' | 'ramp' | 'verify' | 'hold' | 'broadcast' | 'teardown';

export interface BenchResult {
  schema: typeof BENCH_SCHEMA;
  connections: { target: number; established: number; verified: number };
  ramp: { seconds: number; per_second: number; connect_ms: LatencySummaryMs };
  memory: {
    kernel_bytes_per_connection: number;
    server_user_bytes_per_connection: number;
    load_user_bytes_per_connection: number;
    /** Slab growth by cache over the run, bytes per connection. */
    kernel_by_cache: Record<string, number>;
    /** What the socket caches' object sizes predict for two sockets (doctor's figure). */
    kernel_expected_bytes_per_connection: number;
    server_private_bytes: number;
    load_private_bytes: number;
  };
  broadcast: { p50_ms: number; p99_ms: number; delivered: number; max_ms: number };
  limits: { binding: LimitName | null; headroom: Partial<Record<LimitName, number>> };
  errors: Record<string, number>;
  processes: {
    server: number;
    load: number;
    /**
     * The fewest and most connections one serve worker held after the liveness round:
     * SO_REUSEPORT's spread, which serve's worker count leaves room for. Absent before it
     * and when nothing was held.
     */
    server_held?: { min: number; max: number };
  };
  /** What the worker processes ran: `c` (no V8) or `node`; absent in results before it. */
  worker_runtime?: 'c' | 'node' | null;
  /**
   * How the run ended: `completed`, the signal that cut it short, `stopped` (close() from
   * the library), or `failed`.
   */
  outcome: 'completed' | 'SIGINT' | 'SIGTERM' | 'stopped' | 'failed';
  /** How long the connections were actually held (0 when stopped before the hold). */
  hold_seconds: number;
  /** The hold that was asked for (--hold). */
  hold_requested_seconds: number;
  /** Workers that died during the run, per side, and the connections each took along. */
  deaths: { server: DeathRecord[]; load: DeathRecord[] };
  /** Both sides' books balance (src/engine/books.ts); absent in results before 2026-12-03. */
  books_balanced?: boolean;
  /** Per side: accepted (server) or connected (load) = held + the sum of closed; null: that side never started. */
  books?: { server: Books | null; load: Books | null };
  machine: { hostname: string; kernel: string; cpus: number; memory_bytes: number; node: string; fd_limit: number };
  started_at: string;
  command: string;
  timeline: TimelinePoint[];
  /** Only from `bench --tls`: what the handshakes cost (docs/tls.md). */
  tls?: BenchTlsSection;
  /** Only from `bench --target`: the user's server, step by step (README "bench --target"). */
  target?: TargetSection;
  /** Load's latency histograms, encoded, so `connlab merge` is exact (absent before 2026-11-30). */
  histograms?: LatencyHistograms;
  /** Set by `connlab merge`: which results this one adds up. */
  merged?: MergeInfo;
  /** With --threshold or --thresholds: every threshold judged over this result (docs/thresholds.md). */
  thresholds?: ThresholdVerdict;
}

export interface MergeInfo {
  /** How many results were added. */
  inputs: number;
  /** Per input: its shard (when it was one) and what it held. */
  parts: { shard: string | null; hostname: string | null; target: number; established: number; verified: number }[];
  /** Sharded inputs: shard numbers (1-based) of the set that no input was. */
  missing_shards: number[];
}
