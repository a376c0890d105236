// One Prometheus registry over any number of worker pools (serve's, load's, or both in a
// bench), each labelled with its role and shard. Counters and gauges are read from the
// pools' summed stats at scrape time, so nothing is updated on the connection path;
// latency samples already cross to the supervisor in batches (worker reports) and are
// observed into histograms there, once per report.

import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { HolderSamples, HolderStats } from '../engine/holder.ts';
import { forEachRecorded } from '../engine/latency.ts';
import type { EncodedLatency } from '../engine/messages.ts';
import { RateMeter, STATS_RATE_INTERVAL_MS } from '../engine/rate-meter.ts';
import type { WorkerPool } from '../engine/worker-pool.ts';
import { classifyErrno } from '../load/classify.ts';
import { LATENCY_BUCKETS_SECONDS, METRICS, type MetricName } from './names.ts';

export type Role = 'server' | 'load';

export interface SourceLabels {
  role: Role;
  /** `2/3` for a load shard; absent otherwise. */
  shard?: string;
}

interface Source {
  labels: Record<string, string>;
  role: Role;
  pool: WorkerPool;
  peak: number;
  rate: RateMeter;
  totals(): HolderStats;
}

const BASE_LABELS = ['role', 'shard'];
const spec = (metric: MetricName) => ({ name: metric.name, help: metric.help, labelNames: [...BASE_LABELS, ...metric.labels] });

export class ConnlabMetrics {
  readonly registry = new Registry();
  readonly #sources: Source[] = [];
  readonly #connect: Histogram;
  readonly #rtt: Histogram;
  readonly #broadcast: Histogram;

  constructor() {
    const sources = this.#sources;
    const registers = [this.registry];
    const gauge = (metric: MetricName, value: (s: Source, t: HolderStats) => number, roles?: Role) =>
      new Gauge({ ...spec(metric), registers, collect() { this.reset(); for (const s of sources) if (!roles || s.role === roles) this.set(s.labels, value(s, s.totals())); } });
    const counter = (metric: MetricName, value: (s: Source, t: HolderStats) => number, roles?: Role) =>
      new Counter({ ...spec(metric), registers, collect() { this.reset(); for (const s of sources) if (!roles || s.role === roles) this.inc(s.labels, value(s, s.totals())); } });
    gauge(METRICS.connections, (_s, t) => t.established);
    gauge(METRICS.connectionsPeak, (s, t) => (s.peak = Math.max(s.peak, t.established)));
    gauge(METRICS.connectionsVerified, (_s, t) => t.verified, 'load');
    counter(METRICS.accepted, (_s, t) => t.accepted, 'server');
    counter(METRICS.connects, (_s, t) => t.connected, 'load');
    gauge(METRICS.connectsPerSecond, (s, t) => s.rate.update(s.role === 'server' ? t.accepted : t.connected));
    gauge(METRICS.privateBytes, (s) => s.pool.workers.reduce((sum, w) => sum + (w.report?.memory?.privateBytes ?? 0), 0));
    counter(METRICS.workerRestarts, (s) => s.pool.workers.reduce((sum, w) => sum + w.restarts, 0));
    gauge(METRICS.workersStalled, (s) => s.pool.workers.filter((w) => s.pool.isStalled(w.index)).length);
    this.#labelled();
    this.#perWorker();
    const histogram = (metric: MetricName) => new Histogram({ ...spec(metric), buckets: LATENCY_BUCKETS_SECONDS, registers });
    this.#connect = histogram(METRICS.connectSeconds);
    this.#rtt = histogram(METRICS.rttSeconds);
    this.#broadcast = histogram(METRICS.broadcastSeconds);
  }

  /** Errors by errno and limit, closes by reason: one series per non-zero entry. */
  #labelled(): void {
    const sources = this.#sources;
    new Counter({
      ...spec(METRICS.errors), registers: [this.registry],
      collect() {
        this.reset();
        for (const s of sources) for (const [errno, n] of Object.entries(s.totals().errors)) this.inc({ ...s.labels, errno, limit: classifyErrno(errno).cause }, n);
      },
    });
    new Counter({
      ...spec(METRICS.closed), registers: [this.registry],
      collect() {
        this.reset();
        for (const s of sources) for (const [reason, n] of Object.entries(s.totals().closed)) this.inc({ ...s.labels, reason }, n);
      },
    });
  }

  #perWorker(): void {
    const sources = this.#sources;
    type Worker = WorkerPool['workers'][number];
    // `value` undefined: no series for that worker (a stalled worker's count is not current).
    const each = (metric: MetricName, value: (w: Worker, pool: WorkerPool) => number | undefined) => new Gauge({
      ...spec(metric), registers: [this.registry],
      collect() {
        this.reset();
        for (const s of sources) {
          for (const w of s.pool.workers) {
            const v = value(w, s.pool);
            if (v !== undefined) this.set({ ...s.labels, worker: String(w.index) }, v);
          }
        }
      },
    });
    each(METRICS.workerConnections, (w, pool) => (pool.isStalled(w.index) ? undefined : w.report?.stats.established ?? 0));
    each(METRICS.workerStalled, (w, pool) => (pool.isStalled(w.index) ? 1 : 0));
    each(METRICS.workerReportAge, (w, pool) => { const ms = pool.reportAgeMs(w.index); return ms === null ? undefined : ms / 1000; });
    each(METRICS.workerPrivateBytes, (w) => w.report?.memory?.privateBytes ?? 0);
    each(METRICS.workerHeapUsedBytes, (w) => w.report?.heapUsedBytes ?? 0);
  }

  /** Exposes a pool's counters under its labels and observes its latency samples from now on. */
  addPool(pool: WorkerPool, labels: SourceLabels): void {
    const flat: Record<string, string> = { role: labels.role, ...(labels.shard ? { shard: labels.shard } : {}) };
    const source: Source = { labels: flat, role: labels.role, pool, peak: 0, rate: new RateMeter({ minIntervalMs: STATS_RATE_INTERVAL_MS }), totals: () => pool.totals() };
    this.#sources.push(source);
    pool.on('report', (_index, report) => {
      source.peak = Math.max(source.peak, pool.sum((s) => s.established));
      this.#observe(flat, report);
    });
  }

  /** A report's latencies, whichever shape it carries: raw samples or encoded deltas. */
  #observe(labels: Record<string, string>, report: { samples?: HolderSamples; latency?: EncodedLatency }): void {
    const kinds: [Histogram, keyof HolderSamples][] = [[this.#connect, 'connectUs'], [this.#rtt, 'rttUs'], [this.#broadcast, 'broadcastUs']];
    for (const [h, kind] of kinds) {
      const raw = report.samples?.[kind];
      if (raw) for (let i = 0; i < raw.length; i++) h.observe(labels, (raw[i] ?? 0) / 1e6);
      const encoded = report.latency?.[kind];
      if (encoded) {
        forEachRecorded(encoded, (us, count) => {
          for (let i = 0; i < count; i++) h.observe(labels, us / 1e6);
        });
      }
    }
  }

}
