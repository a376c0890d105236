// `connlab serve`: flags → startServe → status line → final summary or JSON.

import { ConnlabError } from '../../errors.ts';
import type { ListenAddress } from '../../engine/messages.ts';
import { createServeRegistry, startMetricsServer } from '../../server/metrics.ts';
import { startServe, type ServeHandle, type ServeStats } from '../../server/serve.ts';
import { expandTargets, formatIpv4, parseTargets } from '../../tuple/address.ts';
import { formatBytes, formatCount, parseCount, parseDurationMs } from '../../units.ts';
import { oneOf, parseCommandArgs } from '../args.ts';
import { readHostFacts } from '../host-facts.ts';
import { dashboardOption, startCommandDashboard } from '../dashboard-flag.ts';
import type { Io } from '../io.ts';
import { StatusLine } from '../render/status-line.ts';
import { watchForStop } from '../stop.ts';

export const summary = 'hold very many connections: SO_REUSEPORT workers, ping/echo/broadcast, metrics';

export const help = `Usage: connlab serve --listen ADDR:PORT[,…] [options]

A holding server for very many idle connections. Worker processes share each listen
address through SO_REUSEPORT (the kernel balances them); each holds up to ~19,900
sockets under a 20,000 descriptor limit, on a native epoll holder of ~32 bytes per
connection. It answers PING with PONG and echoes ECHO frames (the wire protocol is in
the README), broadcasts on request, and restarts a worker that dies, saying why.

Options:
  --listen LIST            addresses to listen on: 127.0.0.1:9000, 127.0.0.1:9000-9003
  --connections N          expected connections: sizes --workers auto (default 20k)
  --workers auto|N         worker processes (auto: enough for N with 25% spare)
  --holder auto|native|node  the connection holder (auto: native when built)
  --backlog N              listen backlog per worker, capped by somaxconn (default 4096)
  --metrics [HOST:]PORT    Prometheus text at http://HOST:PORT/metrics (host 127.0.0.1)
  --dashboard [HOST:]PORT  a live page at http://HOST:PORT/, updated every second
  --duration D             stop after D (30s, 5m); default: until Ctrl-C or SIGTERM
  --broadcast-every D      broadcast one frame to every connection every D
  --json                   print the final summary as JSON (schema connlab.serve/1)
  -h, --help               this help

Examples:
  connlab serve --listen 127.0.0.1:9000 --connections 70000
  connlab serve --listen 127.0.0.1:9000-9003 --workers 8 --metrics 9464
  connlab serve --listen 127.0.0.1:9000 --duration 60s --broadcast-every 10s --json
`;

const options = {
  listen: { type: 'string' },
  connections: { type: 'string' },
  workers: { type: 'string' },
  holder: { type: 'string' },
  backlog: { type: 'string' },
  metrics: { type: 'string' },
  ...dashboardOption,
  duration: { type: 'string' },
  'broadcast-every': { type: 'string' },
  json: { type: 'boolean' },
} as const;

export function parseListen(text: string): ListenAddress[] {
  return expandTargets(parseTargets(text, '--listen')).map((d) => ({ host: formatIpv4(d.ip), port: d.port }));
}

export function parseWorkers(text: string | undefined): number | 'auto' {
  return text === undefined || text === 'auto' ? 'auto' : parseCount(text, '--workers', { min: 1 });
}

function parseMetrics(text: string): { host: string; port: number } {
  const [host, port] = text.includes(':') ? [text.slice(0, text.lastIndexOf(':')), text.slice(text.lastIndexOf(':') + 1)] : ['127.0.0.1', text];
  return { host, port: parseCount(port, '--metrics', { min: 1 }) };
}

/** The JSON summary: connections, memory per connection, closes, errors, workers. */
export function serveSummary(stats: ServeStats, holder: string) {
  return {
    schema: 'connlab.serve/1',
    connections: { peak: stats.peakConnections, accepted: stats.totals.accepted },
    closed: stats.totals.closed,
    errors: stats.totals.errors,
    accept_backoffs: stats.totals.acceptBackoffs,
    broadcasts_sent: stats.totals.broadcastsSent,
    memory: {
      server_private_bytes: stats.privateBytes,
      server_user_bytes_per_connection: stats.peakConnections > 0 ? Math.round(stats.privateBytes / stats.peakConnections) : null,
    },
    processes: { server: stats.workers.length },
    workers: stats.workers,
    holder,
  };
}

function statusText(stats: ServeStats): string {
  return `connections ${formatCount(stats.connections)} (peak ${formatCount(stats.peakConnections)}) · ` +
    `accepts ${formatCount(stats.acceptsPerSecond)}/s · workers ${stats.workers.length} · private ${formatBytes(stats.privateBytes)}`;
}

export async function run(argv: string[], io: Io): Promise<number> {
  const { values } = parseCommandArgs('serve', argv, options);
  if (values.help) {
    io.stdout.write(help);
    return 0;
  }
  if (!values.listen) throw new ConnlabError('CONNLAB_ERR_USAGE', 'serve needs --listen', { hint: 'pass --listen 127.0.0.1:9000' });
  const listen = parseListen(values.listen);
  const connections = values.connections === undefined ? 20_000 : parseCount(values.connections, '--connections', { min: 1 });
  const durationMs = values.duration === undefined ? undefined : parseDurationMs(values.duration, '--duration');
  const broadcastMs = values['broadcast-every'] === undefined ? undefined : parseDurationMs(values['broadcast-every'], '--broadcast-every');
  const metrics = values.metrics === undefined ? undefined : parseMetrics(values.metrics);
  const serve = await startServe({
    listen,
    connections,
    workers: parseWorkers(values.workers),
    holder: values.holder === undefined ? 'auto' : oneOf('--holder', values.holder, ['auto', 'native', 'node'] as const),
    backlog: values.backlog === undefined ? undefined : parseCount(values.backlog, '--backlog', { min: 1 }),
    fdSoftLimit: readHostFacts().fdSoftLimit,
  });
  const dashboard = await startCommandDashboard(values.dashboard, 'connlab serve').catch(async (error: unknown) => { await serve.close(); throw error; });
  dashboard?.addPool(serve.pool, { role: 'server' });
  if (dashboard) io.stderr.write(`dashboard at ${dashboard.url}\n`);
  return hold(serve, io, { durationMs, broadcastMs, metrics, json: Boolean(values.json), listen }).finally(() => dashboard?.close());
}

async function hold(
  serve: ServeHandle,
  io: Io,
  opts: { durationMs?: number; broadcastMs?: number; metrics?: { host: string; port: number }; json: boolean; listen: ListenAddress[] },
): Promise<number> {
  const stop = watchForStop(opts.durationMs, () => serve.destroy());
  const status = new StatusLine(io.stderr);
  serve.on('worker-exit', (index, reason, restarted) => {
    status.done();
    io.stderr.write(`worker ${index} died: ${reason}${restarted ? '; restarted' : ''}\n`);
  });
  const metricsServer = opts.metrics ? await startMetricsServer(createServeRegistry(serve), opts.metrics.host, opts.metrics.port).catch(async (error: unknown) => {
    await serve.close();
    throw new ConnlabError('CONNLAB_ERR_LISTEN', `cannot serve metrics on ${opts.metrics?.host}:${opts.metrics?.port}`, { cause: error, hint: 'pick another --metrics port' });
  }) : undefined;
  io.stderr.write(`serving on ${opts.listen.map((l) => `${l.host}:${l.port}`).join(', ')} with ${serve.pool.workers.length} ${serve.holder} worker(s)` +
    `${opts.metrics ? `; metrics at http://${opts.metrics.host}:${opts.metrics.port}/metrics` : ''}\n`);
  let nextBroadcast = opts.broadcastMs === undefined ? Infinity : performance.now() + opts.broadcastMs;
  let reason;
  while (!(reason = await stop.sleep(1000))) {
    status.update(statusText(serve.stats()));
    if (performance.now() >= nextBroadcast && opts.broadcastMs !== undefined) {
      const b = await serve.broadcast();
      nextBroadcast = performance.now() + opts.broadcastMs;
      status.done();
      io.stderr.write(`broadcast #${b.seq} written to ${formatCount(b.written)} connections in ${b.durationMs.toFixed(1)} ms\n`);
    }
  }
  status.done();
  stop.dispose();
  // Memory is read before closing: after it, the workers hold nothing and are gone.
  const held = await serve.refresh();
  const final = await serve.close();
  metricsServer?.close();
  const result = serveSummary({ ...final, privateBytes: held.privateBytes, workers: held.workers }, serve.holder);
  if (opts.json) io.stdout.write(`${JSON.stringify({ ...result, stopped_by: reason }, null, 2)}\n`);
  else io.stdout.write(`stopped (${reason}): held ${formatCount(result.connections.peak)} at peak, accepted ${formatCount(result.connections.accepted)}; ` +
    `${formatBytes(result.memory.server_private_bytes)} private over ${result.processes.server} worker(s)` +
    `${result.memory.server_user_bytes_per_connection ? ` = ${formatCount(result.memory.server_user_bytes_per_connection)} B per connection` : ''}\n`);
  return 0;
}
