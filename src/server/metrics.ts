// Prometheus exposition for serve: every metric is collected from the supervisor's
// summed stats at scrape time, so nothing is updated on the connection path. Served on
// 127.0.0.1 by default: connection counts are nobody else's business.

import { createServer, type Server } from 'node:http';
import { Counter, Gauge, Registry } from 'prom-client';
import type { ServeHandle } from './serve.ts';

export function createServeRegistry(serve: ServeHandle): Registry {
  const registry = new Registry();
  const stats = () => serve.stats();
  new Gauge({
    name: 'connlab_connections', help: 'Connections held now.', registers: [registry],
    collect() { this.set(stats().connections); },
  });
  new Gauge({
    name: 'connlab_connections_peak', help: 'Most connections held at once.', registers: [registry],
    collect() { this.set(stats().peakConnections); },
  });
  new Counter({
    name: 'connlab_accepted_total', help: 'Connections accepted since start.', registers: [registry],
    collect() { this.reset(); this.inc(stats().totals.accepted); },
  });
  new Counter({
    name: 'connlab_closed_total', help: 'Connections closed, by reason.', labelNames: ['reason'], registers: [registry],
    collect() {
      this.reset();
      for (const [reason, n] of Object.entries(stats().totals.closed)) this.inc({ reason }, n);
    },
  });
  new Counter({
    name: 'connlab_errors_total', help: 'Accept errors, by errno.', labelNames: ['errno'], registers: [registry],
    collect() {
      this.reset();
      for (const [errno, n] of Object.entries(stats().totals.errors)) this.inc({ errno }, n);
    },
  });
  new Gauge({
    name: 'connlab_worker_connections', help: 'Connections held by each worker.', labelNames: ['worker'], registers: [registry],
    collect() { for (const w of stats().workers) this.set({ worker: String(w.index) }, w.established); },
  });
  new Gauge({
    name: 'connlab_worker_private_bytes', help: 'Private memory of each worker (smaps_rollup).', labelNames: ['worker'], registers: [registry],
    collect() { for (const w of stats().workers) this.set({ worker: String(w.index) }, w.privateBytes ?? 0); },
  });
  new Gauge({
    name: 'connlab_worker_heap_used_bytes', help: 'V8 heap in use in each worker.', labelNames: ['worker'], registers: [registry],
    collect() { for (const w of stats().workers) this.set({ worker: String(w.index) }, w.heapUsedBytes ?? 0); },
  });
  new Counter({
    name: 'connlab_worker_restarts_total', help: 'Workers restarted after dying.', registers: [registry],
    collect() { this.reset(); this.inc(stats().workers.reduce((sum, w) => sum + w.restarts, 0)); },
  });
  return registry;
}

/** GET /metrics on host:port; resolves once listening. */
export async function startMetricsServer(registry: Registry, host: string, port: number): Promise<Server> {
  const server = createServer((request, response) => {
    if (request.method !== 'GET' || request.url !== '/metrics') {
      response.writeHead(404).end('try GET /metrics\n');
      return;
    }
    registry.metrics().then(
      (text) => response.writeHead(200, { 'content-type': registry.contentType }).end(text),
      (error: unknown) => response.writeHead(500).end(String(error)),
    );
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => resolve());
  });
  return server;
}
