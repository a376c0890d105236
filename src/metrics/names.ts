// Every Prometheus metric connlab exposes, in one table: serve, load and bench use these
// names; docs/commands/metrics.md's table and the Grafana dashboard are checked against them.
// Labels common to all: `role` (server | load) and, for a load shard, `shard` ("2/3").

export type MetricType = 'gauge' | 'counter' | 'histogram';

export interface MetricName {
  name: string;
  type: MetricType;
  help: string;
  /** Labels beyond role and shard. */
  labels: readonly string[];
}

const m = (name: string, type: MetricType, help: string, labels: readonly string[] = []): MetricName => ({ name, type, help, labels });

export const METRICS = {
  connections: m('connlab_connections', 'gauge', 'Connections held now.'),
  connectionsPeak: m('connlab_connections_peak', 'gauge', 'Most connections held at once since start.'),
  connectionsVerified: m('connlab_connections_verified', 'gauge', 'Load: connections that answered the latest liveness round.'),
  accepted: m('connlab_accepted_total', 'counter', 'Server: connections accepted since start.'),
  connects: m('connlab_connects_total', 'counter', 'Load: handshakes completed since start.'),
  connectsPerSecond: m('connlab_connects_per_second', 'gauge', 'Accepts (server) or connects (load) per second over the last report interval.'),
  errors: m('connlab_errors_total', 'counter', 'Socket errors, by errno and by the limit behind them (doctor\'s limit names).', ['errno', 'limit']),
  closed: m('connlab_closed_total', 'counter', 'Connections closed, by reason (peer, reset, protocol, slow, local, timeout).', ['reason']),
  connectSeconds: m('connlab_connect_seconds', 'histogram', 'Load: connect() to handshake complete.'),
  rttSeconds: m('connlab_rtt_seconds', 'histogram', 'Load: liveness ping round trip.'),
  broadcastSeconds: m('connlab_broadcast_seconds', 'histogram', 'Load: broadcast frame sent by the server to its arrival.'),
  privateBytes: m('connlab_private_bytes', 'gauge', 'Private memory (smaps_rollup Private_*) summed over the role\'s workers.'),
  workerConnections: m('connlab_worker_connections', 'gauge', 'Connections held by each worker.', ['worker']),
  workerPrivateBytes: m('connlab_worker_private_bytes', 'gauge', 'Private memory of each worker (smaps_rollup).', ['worker']),
  workerHeapUsedBytes: m('connlab_worker_heap_used_bytes', 'gauge', 'V8 heap in use in each worker.', ['worker']),
  workerRestarts: m('connlab_worker_restarts_total', 'counter', 'Workers restarted after dying.'),
} as const satisfies Record<string, MetricName>;

/** Latency buckets in seconds: 100 µs to a minute, about three per decade. */
export const LATENCY_BUCKETS_SECONDS = [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60];

/** Every series name a scrape can contain (histograms add _bucket, _sum and _count). */
export function exposedSeriesNames(): string[] {
  return Object.values(METRICS).flatMap((metric) =>
    metric.type === 'histogram' ? ['_bucket', '_sum', '_count'].map((suffix) => metric.name + suffix) : [metric.name]);
}
