// Prometheus exposition for serve: the shared registry (src/metrics/) over serve's
// worker pool, labelled role="server". Names live in src/metrics/names.ts.

import type { Registry } from 'prom-client';
import { ConnlabMetrics } from '../metrics/registry.ts';
import type { ServeHandle } from './serve.ts';

export { startMetricsServer } from '../metrics/http.ts';

export function createServeRegistry(serve: ServeHandle): Registry {
  const metrics = new ConnlabMetrics();
  metrics.addPool(serve.pool, { role: 'server' });
  return metrics.registry;
}
