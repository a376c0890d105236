// The live dashboard's view of worker pools: a timeline point a second in the bench
// timeline's shape (so the bench report's charts draw it), and one row per pool (role,
// shard). Bench feeds its own timeline points instead; load and serve are sampled here.

import type { TimelinePoint } from '../bench/result.ts';
import { LatencyWindow } from '../engine/latency.ts';
import type { WorkerPool } from '../engine/worker-pool.ts';
import { classifyErrno } from '../load/classify.ts';
import { cpuBusyShare, sampleHost, type HostSample } from '../probe/host-sample.ts';
import { counterDelta } from '../probe/netstat.ts';
import type { SourceLabels } from '../metrics/registry.ts';

export interface SourceRow {
  role: string;
  shard: string | null;
  connections: number;
  verified: number;
  connected: number;
  target: number | null;
  private_bytes: number;
  /** Workers with no report for several intervals: `connections` includes their stale counts. */
  stalled_workers?: number[];
}

export interface ErrorRow {
  errno: string;
  limit: string;
  count: number;
}

interface Tracked {
  pool: WorkerPool;
  labels: SourceLabels;
  target: number | null;
}

const privateBytesOf = (pool: WorkerPool): number => pool.workers.reduce((sum, w) => sum + (w.report?.memory?.privateBytes ?? 0), 0);
const heapBytesOf = (pool: WorkerPool): number => pool.workers.reduce((sum, w) => sum + (w.report?.heapUsedBytes ?? 0), 0);

export class PoolSampler {
  readonly #pools: Tracked[] = [];
  readonly #t0 = performance.now();
  /** The wall clock at t = 0, ms since the epoch. */
  readonly startedAtMs = performance.timeOrigin + this.#t0;
  readonly #latency = new LatencyWindow();
  #base: HostSample | undefined;
  #last: HostSample | undefined;
  #previousHeld: number | undefined;
  #phaseNow: TimelinePoint['phase'] = 'start';

  /** `target`: load's planned connections, which decide when its ramp ends. */
  addPool(pool: WorkerPool, labels: SourceLabels, target: number | null = null): void {
    this.#pools.push({ pool, labels, target });
    // Load's connect, ping and broadcast latencies, a window per timeline point.
    if (labels.role === 'load') pool.on('report', (_index, report) => this.#latency.add(report));
  }

  rows(): SourceRow[] {
    return this.#pools.map(({ pool, labels, target }) => {
      const t = pool.totals();
      return { role: labels.role, shard: labels.shard ?? null, connections: t.established, verified: t.verified, connected: t.connected, target, private_bytes: privateBytesOf(pool),
        stalled_workers: pool.workers.filter((w) => pool.isStalled(w.index)).map((w) => w.index) };
    });
  }

  errors(): ErrorRow[] {
    const counts = new Map<string, number>();
    for (const { pool } of this.#pools) for (const [errno, n] of Object.entries(pool.totals().errors)) counts.set(errno, (counts.get(errno) ?? 0) + n);
    return [...counts].filter(([, n]) => n > 0).sort((a, b) => b[1] - a[1]).map(([errno, count]) => ({ errno, limit: classifyErrno(errno).cause, count }));
  }

  /**
   * Load: start until its first connect, ramp while tuples are left to try, hold, then
   * teardown once its connections fall. Serve alone (no target to tell a ramp by): start
   * until the first accept, ramp while the count grows, hold while it stays, teardown
   * when it falls to none. Without a load pool the count is the server's.
   */
  #phase(): TimelinePoint['phase'] {
    const loads = this.#pools.filter((p) => p.labels.role === 'load');
    const side = loads.length > 0 ? loads : this.#pools;
    const failed = (t: ReturnType<WorkerPool['totals']>): number => Object.values(t.errors).reduce((a, b) => a + b, 0);
    const totals = side.map(({ pool, target }) => ({ t: pool.totals(), target }));
    const held = totals.reduce((sum, { t }) => sum + t.established, 0);
    const tried = totals.reduce((sum, { t }) => sum + t.connected + t.accepted + failed(t), 0);
    const previous = this.#previousHeld ?? 0;
    this.#previousHeld = held;
    if (tried === 0) return (this.#phaseNow = 'start');
    if (loads.length === 0) {
      if (held !== previous) return (this.#phaseNow = held > previous ? 'ramp' : 'teardown');
      return (this.#phaseNow = held > 0 ? 'hold' : this.#phaseNow);
    }
    if (totals.some(({ t, target }) => target !== null && t.connected + failed(t) < target)) return (this.#phaseNow = 'ramp');
    if (this.#phaseNow === 'teardown' || held < previous) return (this.#phaseNow = 'teardown');
    return (this.#phaseNow = 'hold');
  }

  async sample(): Promise<TimelinePoint> {
    const now = await sampleHost();
    const before = this.#last ?? now;
    const base = (this.#base ??= now);
    this.#last = now;
    const sum = (role: string, f: (pool: WorkerPool) => number): number =>
      this.#pools.filter((p) => p.labels.role === role).reduce((s, p) => s + f(p.pool), 0);
    return {
      t: Math.round(performance.now() - this.#t0) / 1000,
      phase: this.#phase(),
      kernel_sockets: now.tcpInUse,
      server_connections: sum('server', (p) => p.totals().established),
      load_connections: sum('load', (p) => p.totals().established),
      slab_bytes: now.slabBytes,
      meminfo_slab_bytes: now.meminfoSlabBytes,
      mem_available_bytes: now.memAvailableBytes,
      server_private_bytes: sum('server', privateBytesOf),
      load_private_bytes: sum('load', privateBytesOf),
      server_heap_bytes: sum('server', heapBytesOf),
      load_heap_bytes: sum('load', heapBytesOf),
      cpu_busy: Math.round(cpuBusyShare(before.cpu, now.cpu) * 1000) / 1000,
      netstat: counterDelta(base.netstat, now.netstat),
      ...this.#latencyField(),
    };
  }

  #latencyField(): Pick<TimelinePoint, 'latency_ms'> {
    const window = this.#latency.take();
    return Object.keys(window).length > 0 ? { latency_ms: window } : {};
  }
}
