// GET /metrics over plain node:http: the one exposition endpoint serve, load and bench
// share. 127.0.0.1 unless the user names another host: connection counts are nobody
// else's business.

import { createServer, type Server } from 'node:http';
import type { Registry } from 'prom-client';
import { invalidArgument } from '../errors.ts';

export const DEFAULT_METRICS_HOST = '127.0.0.1';

/** `[HOST:]PORT`, host 127.0.0.1 when omitted; port 0 picks a free one. */
export function parseHostPort(text: string, option: string): { host: string; port: number } {
  const colon = text.lastIndexOf(':');
  const host = colon < 0 ? DEFAULT_METRICS_HOST : text.slice(0, colon);
  const portText = colon < 0 ? text : text.slice(colon + 1);
  const port = /^\d{1,5}$/.test(portText) ? Number(portText) : Number.NaN;
  if (!(port >= 0 && port <= 65535) || host === '') throw invalidArgument(option, text, '[HOST:]PORT like 9464 or 127.0.0.1:9464');
  return { host, port };
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
