// `--metrics [HOST:]PORT` for load and bench (serve has its own flag, same format): a
// metrics endpoint that lives as long as the command, over the shared registry.

import type { Server } from 'node:http';
import { ConnlabError } from '../errors.ts';
import { parseHostPort, startMetricsServer } from '../metrics/http.ts';
import { ConnlabMetrics } from '../metrics/registry.ts';

export const metricsOption = { metrics: { type: 'string' } } as const;

export const metricsHelp = `  --metrics [HOST:]PORT      Prometheus text at http://HOST:PORT/metrics while it runs
                             (host 127.0.0.1 unless given; names: docs/commands/metrics.md)`;

export interface CommandMetrics {
  metrics: ConnlabMetrics;
  url: string;
  close(): void;
}

export async function startCommandMetrics(text: string | undefined): Promise<CommandMetrics | undefined> {
  if (text === undefined) return undefined;
  const { host, port } = parseHostPort(text, '--metrics');
  const metrics = new ConnlabMetrics();
  let server: Server;
  try {
    server = await startMetricsServer(metrics.registry, host, port);
  } catch (error) {
    throw new ConnlabError('CONNLAB_ERR_LISTEN', `cannot serve metrics on ${host}:${port}`, { cause: error, hint: 'pick another --metrics port' });
  }
  const address = server.address();
  const bound = typeof address === 'object' && address ? address.port : port;
  return { metrics, url: `http://${host}:${bound}/metrics`, close: () => server.close() };
}
