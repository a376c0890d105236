// `connlab serve`: flags → startServe → status line → final summary or JSON.

import { ConnlabError, invalidArgument } from '../../errors.ts';
import type { ServerTlsOptions, SocketLimits } from '../../engine/holder.ts';
import {
  checkSendBufferBytes, checkStallTimeoutMs, DEFAULT_SEND_BUFFER_BYTES, DEFAULT_STALL_TIMEOUT_MS,
} from '../../engine/holder-args.ts';
import type { ListenAddress } from '../../engine/messages.ts';
import { checkBooks } from '../../engine/books.ts';
import { deathRecords, type StallRecord, type WorkerDeath } from '../../engine/worker-pool.ts';
import { snakeCaseKeys } from '../../json/snake-case.ts';
import { parseHostPort } from '../../metrics/http.ts';
import { failureReason, markResultWritten } from '../json-result.ts';
import { createServeRegistry, startMetricsServer } from '../../server/metrics.ts';
import { startServe, type ServeHandle, type ServeStats } from '../../server/serve.ts';
import { parseTargetList } from '../../target/parse-target.ts';
import { formatIpv4 } from '../../tuple/address.ts';
import { formatBytes, formatCount, parseBytes, parseCount, parseDurationMs } from '../../units.ts';
import { oneOf, parseCommandArgs } from '../args.ts';
import { readHostFacts } from '../../limits/host-facts.ts';
import { runtimeNote } from '../holder-note.ts';
import { describeCgroup, watchCgroup, type CgroupWatch } from '../../limits/cgroup-watch.ts';
import { isConnlabError } from '../../errors.ts';
import { parseMeminfo } from '../../limits/parsers.ts';
import { readFileSync } from 'node:fs';
import { dashboardOption, startCommandDashboard } from '../dashboard-flag.ts';
import type { Io } from '../io.ts';
import { PeriodicLog } from '../render/periodic-log.ts';
import { StatusLine } from '../render/status-line.ts';
import { watchForStop } from '../stop.ts';

export const summary = 'hold very many connections: SO_REUSEPORT workers, ping/echo/broadcast, metrics';

export const help = `Usage: connlab serve --listen ADDR:PORT[,…] [options]

A holding server for very many idle connections. Worker processes share each listen
address through SO_REUSEPORT (the kernel balances them); each holds up to ~19,900
sockets under a 20,000 descriptor limit, on a native epoll holder of ~32 bytes per
connection. It answers PING with PONG and echoes ECHO frames (the wire protocol is in
docs/internals.md), broadcasts on request, and restarts a worker that dies, saying why and
how many connections it took along (100 ms later, doubling to 5 s; a worker that dies 5
times within 60 s ends serve with CONNLAB_ERR_CRASH_LOOP and exit status 1).

Options:
  --listen LIST            addresses to listen on: 127.0.0.1:9000, 127.0.0.1:9000-9003,
                           [::1]:9000, [::]:9000 (dual-stack: IPv4 and IPv6)
  --connections N          expected connections: sizes --workers auto (default 20k)
  --workers auto|N         worker processes (auto: enough for N with 25% spare)
  --holder auto|native|node  the connection holder (auto: native when built)
  --worker-runtime auto|c|node  worker processes in C, no V8 (~1 MB each), or in Node
                           (~11 MB each); auto: c when built and the holder is native
  --backlog N              listen backlog per worker, capped by somaxconn (default 4096)
  --send-buffer SIZE       unsent bytes one connection may keep in the kernel before it is
                           closed as slow (SO_SNDBUF + TCP_NOTSENT_LOWAT; default 64KiB;
                           0: the kernel's autotuning, up to 4 MiB a socket here)
  --stall-timeout D        close a connection whose peer takes none of its queued data for
                           D (TCP_USER_TIMEOUT; default 30s; 0: the kernel's retries).
                           Both native holder only: Node cannot set them (docs/commands/serve.md)
  --tls-cert FILE          TLS on every connection: this PEM certificate (then its chain)
  --tls-key FILE           and its PEM private key. TLS 1.2+, no session tickets, in C
                           workers with the system's libssl.so.3 (Node workers with Node's
                           OpenSSL where it is missing); docs/tls.md
  --metrics [HOST:]PORT    Prometheus text at http://HOST:PORT/metrics (host 127.0.0.1)
  --dashboard [HOST:]PORT  a live page at http://HOST:PORT/, updated every second
  --duration D             stop after D (30s, 5m); default: until Ctrl-C or SIGTERM
  --broadcast-every D      broadcast one frame to every connection every D (at least 10ms)
  --json                   print the final summary as JSON (schema connlab.serve/1)
  -h, --help               this help

Examples:
  connlab serve --listen 127.0.0.1:9000 --connections 70000
  connlab serve --listen 127.0.0.1:9000-9003 --workers 8 --metrics 9464
  connlab serve --listen 127.0.0.1:9000 --duration 60s --broadcast-every 10s --json
  connlab serve --listen 127.0.0.1:9443 --tls-cert server.pem --tls-key server.key
`;

const options = {
  listen: { type: 'string' },
  connections: { type: 'string' },
  workers: { type: 'string' },
  holder: { type: 'string' },
  'worker-runtime': { type: 'string' },
  backlog: { type: 'string' },
  'send-buffer': { type: 'string' },
  'stall-timeout': { type: 'string' },
  'tls-cert': { type: 'string' },
  'tls-key': { type: 'string' },
  metrics: { type: 'string' },
  ...dashboardOption,
  duration: { type: 'string' },
  'broadcast-every': { type: 'string' },
  json: { type: 'boolean' },
} as const;

/**
 * `--listen` addresses: IPv4 (ranges), `[::]:P` (dual-stack: IPv4 too unless
 * net.ipv6.bindv6only), `[::1]:P`, `localhost` (127.0.0.1); ports and ranges as load's.
 */
export function parseListen(text: string): ListenAddress[] {
  const out: ListenAddress[] = [];
  for (const t of parseTargetList([text])) {
    if (t.scheme !== undefined || (t.host.kind === 'name' && t.host.name !== 'localhost')) {
      throw invalidArgument('--listen', t.text, 'an address to listen on: 127.0.0.1:9000, [::]:9000, [::1]:9000-9003');
    }
    for (let port = t.ports.first; port <= t.ports.last; port++) {
      if (t.host.kind === 'ipv6') out.push({ host: t.host.address, port });
      else if (t.host.kind === 'name') out.push({ host: '127.0.0.1', port });
      else for (let ip = t.host.ips.first; ip <= t.host.ips.last; ip++) out.push({ host: formatIpv4(ip), port });
    }
  }
  const seen = new Set<string>();
  return out.filter((a) => !seen.has(`${a.host}|${a.port}`) && seen.add(`${a.host}|${a.port}`) !== undefined);
}

export function parseWorkers(text: string | undefined): number | 'auto' {
  return text === undefined || text === 'auto' ? 'auto' : parseCount(text, '--workers', { min: 1 });
}

/** --send-buffer and --stall-timeout, checked like the library checks them. */
export function parseSocketLimits(values: { 'send-buffer'?: string; 'stall-timeout'?: string }): SocketLimits {
  const limits: SocketLimits = {};
  if (values['send-buffer'] !== undefined) {
    limits.sendBufferBytes = parseBytes(values['send-buffer'], '--send-buffer');
    checkSendBufferBytes('--send-buffer', limits.sendBufferBytes);
  }
  if (values['stall-timeout'] !== undefined) {
    limits.stallTimeoutMs = parseDurationMs(values['stall-timeout'], '--stall-timeout');
    checkStallTimeoutMs('--stall-timeout', limits.stallTimeoutMs);
  }
  return limits;
}

/** --tls-cert and --tls-key: both or neither. */
export function parseServerTls(values: { 'tls-cert'?: string; 'tls-key'?: string }): ServerTlsOptions | undefined {
  const cert = values['tls-cert'];
  const key = values['tls-key'];
  if (cert === undefined && key === undefined) return undefined;
  if (cert === undefined || key === undefined) {
    throw new ConnlabError('CONNLAB_ERR_USAGE', `${cert === undefined ? '--tls-key needs --tls-cert' : '--tls-cert needs --tls-key'}`, { hint: 'pass both: --tls-cert server.pem --tls-key server.key' });
  }
  return { certFile: cert, keyFile: key };
}

/** Broadcast rounds closer than this would only queue behind each other. */
export const MIN_BROADCAST_MS = 10;

export function parseBroadcastEvery(text: string): number {
  const ms = parseDurationMs(text, '--broadcast-every');
  if (ms < MIN_BROADCAST_MS) throw invalidArgument('--broadcast-every', text, `a duration of at least ${MIN_BROADCAST_MS}ms, like 200ms or 10s`);
  return ms;
}

/** The JSON summary: connections, memory per connection, closes, errors, workers. */
export function serveSummary(stats: ServeStats, holder: string, workerRuntime?: string) {
  const books = checkBooks(stats.totals, 'server', stats.deaths.reduce((sum, d) => sum + d.lostConnections, 0));
  return {
    schema: 'connlab.serve/1',
    connections: { peak: stats.peakConnections, accepted: stats.totals.accepted },
    /** accepted = the sum of these (+ any still held); `lost`: held by a worker that died. */
    closed: stats.totals.closed,
    deaths: deathRecords(stats.deaths),
    books_balanced: books.balanced,
    books,
    stalls: stats.stalls,
    errors: stats.totals.errors,
    accept_backoffs: stats.totals.acceptBackoffs,
    broadcasts_sent: stats.totals.broadcastsSent,
    /** TLS handshakes completed and failed by OpenSSL's reason (0 and {} without --tls-cert). */
    tls: stats.totals.tls,
    memory: {
      server_private_bytes: stats.privateBytes,
      server_user_bytes_per_connection: stats.peakConnections > 0 ? Math.round(stats.privateBytes / stats.peakConnections) : null,
    },
    processes: { server: stats.workers.length },
    /** snake_case; `privateBytes`/`heapUsedBytes` are 0.1's names, kept one release (deprecated). */
    workers: snakeCaseKeys(stats.workers, { keepCamelCase: true }),
    holder,
    worker_runtime: workerRuntime,
  };
}

/** What each connection may queue in the kernel, as the workers apply it. */
function limitsText(holder: string, limits: SocketLimits): string {
  if (holder !== 'native') return 'per connection: send buffer autotuned, no stall timeout (the node holder cannot set them)';
  const sendBuffer = limits.sendBufferBytes ?? DEFAULT_SEND_BUFFER_BYTES;
  const stallMs = limits.stallTimeoutMs ?? DEFAULT_STALL_TIMEOUT_MS;
  return `per connection: send buffer ${sendBuffer ? formatBytes(sendBuffer) : 'autotuned'}, ` +
    `stall timeout ${stallMs ? `${stallMs / 1000} s` : 'off'} (a peer past either is closed as slow)`;
}

function statusText(stats: ServeStats): string {
  const stalled = stats.workers.filter((w) => w.stalled).map((w) => w.index);
  return `connections ${formatCount(stats.connections)} (peak ${formatCount(stats.peakConnections)}) · ` +
    `accepts ${formatCount(stats.acceptsPerSecond)}/s · workers ${stats.workers.length} · private ${formatBytes(stats.privateBytes)}` +
    (stalled.length ? ` · stalled: worker ${stalled.join(', ')} (counts stale)` : '');
}

/** One line when a worker goes quiet, one when it reports again. */
export function describeStall(s: StallRecord): string {
  return s.recovered
    ? `worker ${s.worker} (pid ${s.pid ?? '?'}) reports again after ${s.seconds} s without a report`
    : `worker ${s.worker} (pid ${s.pid ?? '?'}) stalled: no report for ${s.seconds} s (stopped? starved?); its counts are stale`;
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
  const broadcastMs = values['broadcast-every'] === undefined ? undefined : parseBroadcastEvery(values['broadcast-every']);
  const metrics = values.metrics === undefined ? undefined : parseHostPort(values.metrics, '--metrics');
  // Checked here, before any worker starts, like --listen: a bad port is a usage error (exit 2).
  if (values.dashboard !== undefined) parseHostPort(values.dashboard, '--dashboard');
  const limits = parseSocketLimits(values);
  // The cgroup serve runs in (a container, a unit): its limits bind before the host's.
  const cgroup = io.platform === 'linux' ? watchCgroup() : undefined;
  const tls = parseServerTls(values);
  const serve = await startServe({
    ...(tls ? { tls } : {}),
    listen,
    connections,
    workers: parseWorkers(values.workers),
    holder: values.holder === undefined ? 'auto' : oneOf('--holder', values.holder, ['auto', 'native', 'node'] as const),
    workerRuntime: values['worker-runtime'] === undefined ? 'auto' : oneOf('--worker-runtime', values['worker-runtime'], ['auto', 'c', 'node'] as const),
    backlog: values.backlog === undefined ? undefined : parseCount(values.backlog, '--backlog', { min: 1 }),
    ...limits,
    fdSoftLimit: readHostFacts().fdSoftLimit,
  }).catch((error: unknown) => {
    throw cgroupStartError(error, cgroup);
  });
  io.stderr.write(runtimeNote({ holderChoice: values.holder, holder: serve.holder, runtimeChoice: values['worker-runtime'], runtime: serve.workerRuntime }));
  const dashboard = await startCommandDashboard(values.dashboard, 'connlab serve').catch(async (error: unknown) => { await serve.close(); throw error; });
  dashboard?.addPool(serve.pool, { role: 'server' });
  if (dashboard) io.stderr.write(`dashboard at ${dashboard.url}\n`);
  return hold(serve, io, { durationMs, broadcastMs, metrics, json: Boolean(values.json), listen, limits, cgroup, tls: tls !== undefined }).finally(() => dashboard?.close());
}

function hostAvailableBytes(): number | undefined {
  return parseMeminfo(readFileSync('/proc/meminfo', 'utf8')).get('MemAvailable');
}

/** A worker that could not start because pids.max is full is the cgroup's failure: say so. */
function cgroupStartError(error: unknown, cgroup: CgroupWatch | undefined): unknown {
  const failure = cgroup?.failure();
  if (!isConnlabError(error) || error.code !== 'CONNLAB_ERR_WORKER' || failure?.limit !== 'cgroup_pids') return error;
  return new ConnlabError('CONNLAB_ERR_WORKER', `${error.message.replace(/ \[CONNLAB_ERR_\w+\]$/, '')}: cgroup_pids — ${failure.line}`, {
    cause: error, hint: 'raise the cgroup\'s pids.max (TasksMax= in a unit, the kubelet\'s podPidsLimit), or run fewer --workers; doctor --pid shows how many fit',
  });
}

/** A worker killed while the cgroup's OOM killer fired is named as the cgroup's OOM kill. */
function deathLine(d: WorkerDeath, cgroup: CgroupWatch | undefined): string {
  const failure = /SIGKILL/.test(d.reason) ? cgroup?.failure() : null;
  return `${describeDeath(d)}${failure?.limit === 'cgroup_memory' ? `; cgroup_memory: ${failure.line}` : ''}`;
}

async function hold(
  serve: ServeHandle,
  io: Io,
  opts: { durationMs?: number; broadcastMs?: number; metrics?: { host: string; port: number }; json: boolean; listen: ListenAddress[]; limits: SocketLimits; cgroup?: CgroupWatch; tls: boolean },
): Promise<number> {
  const stop = watchForStop(opts.durationMs, () => serve.destroy());
  const status = new StatusLine(io.stderr);
  const rounds = new PeriodicLog(io.stderr, 'broadcast rounds');
  rounds.beforeWrite = () => status.done();
  serve.on('worker-exit', (_index, _reason, _restarted, death) => {
    status.done();
    io.stderr.write(`${deathLine(death, opts.cgroup)}\n`);
  });
  for (const event of ['worker-stalled', 'worker-recovered'] as const) {
    serve.on(event, (_index, stall) => {
      status.done();
      io.stderr.write(`${describeStall(stall)}\n`);
    });
  }
  const failed = new Promise<'failed'>((resolve) => serve.once('failed', () => resolve('failed')));
  const metricsServer = opts.metrics ? await startMetricsServer(createServeRegistry(serve), opts.metrics.host, opts.metrics.port).catch(async (error: unknown) => {
    await serve.close();
    throw new ConnlabError('CONNLAB_ERR_LISTEN', `cannot serve metrics on ${opts.metrics?.host}:${opts.metrics?.port}`, { cause: error, hint: 'pick another --metrics port' });
  }) : undefined;
  const metricsPort = (metricsServer?.address() as { port?: number } | null)?.port;
  io.stderr.write(`serving${opts.tls ? ' TLS' : ''} on ${opts.listen.map((l) => `${l.host}:${l.port}`).join(', ')} with ${serve.pool.workers.length} ${serve.holder} worker(s) in ${serve.workerRuntime}` +
    `${opts.metrics ? `; metrics at http://${opts.metrics.host}:${metricsPort ?? opts.metrics.port}/metrics` : ''}\n${limitsText(serve.holder, opts.limits)}\n` +
    `${opts.cgroup?.limited ? `${describeCgroup(opts.cgroup.summary(), hostAvailableBytes())}\n` : ''}`);
  // Wakes for whichever comes first, the status line (once a second) or the next
  // broadcast, so a sub-second --broadcast-every runs at its own pace.
  let nextBroadcast = opts.broadcastMs === undefined ? Infinity : performance.now() + opts.broadcastMs;
  let nextStatus = performance.now() + STATUS_MS;
  let reason;
  while (!(reason = await Promise.race([stop.sleep(Math.max(0, Math.min(nextStatus, nextBroadcast) - performance.now())), failed]))) {
    if (performance.now() >= nextStatus) {
      status.update(statusText(serve.stats()));
      nextStatus = performance.now() + STATUS_MS;
    }
    if (performance.now() >= nextBroadcast && opts.broadcastMs !== undefined) {
      const startedAt = performance.now();
      const b = await serve.broadcast();
      nextBroadcast = startedAt + opts.broadcastMs;
      rounds.add({ line: `broadcast #${b.seq} written to ${formatCount(b.written)} connections in ${b.durationMs.toFixed(1)} ms`, count: b.written, durationMs: b.durationMs });
    }
  }
  status.done();
  rounds.flush();
  stop.dispose();
  if (reason === 'failed') {
    // The crash loop is the news: close what still runs, the result with its books, then
    // one line and exit 1.
    const final = await serve.close();
    metricsServer?.close();
    const error = serve.failure ?? new ConnlabError('CONNLAB_ERR_CRASH_LOOP', 'a worker crash-looped');
    if (opts.json) {
      io.stdout.write(`${JSON.stringify({ ...serveSummary(final, serve.holder, serve.workerRuntime), outcome: 'failed', reason: failureReason(error), stopped_by: 'crash_loop' }, null, 2)}\n`);
    }
    throw markResultWritten(error);
  }
  // Memory is read before closing: after it, the workers hold nothing and are gone.
  const held = await serve.refresh();
  const final = await serve.close();
  metricsServer?.close();
  const result = serveSummary({ ...final, privateBytes: held.privateBytes, workers: held.workers }, serve.holder, serve.workerRuntime);
  const cgroup = opts.cgroup?.summary() ?? null;
  if (opts.json) io.stdout.write(`${JSON.stringify({ ...result, cgroup, outcome: 'stopped', reason: null, stopped_by: reason }, null, 2)}\n`);
  else io.stdout.write(`stopped (${reason}): held ${formatCount(result.connections.peak)} at peak, accepted ${formatCount(result.connections.accepted)}; ` +
    `${formatBytes(result.memory.server_private_bytes)} private over ${result.processes.server} worker(s)` +
    `${result.memory.server_user_bytes_per_connection ? ` = ${formatCount(result.memory.server_user_bytes_per_connection)} B per connection` : ''}\n` +
    `${cgroup && opts.cgroup?.limited ? `${describeCgroup(cgroup)}\n` : ''}` +
    final.deaths.map((d) => `${deathLine(d, opts.cgroup)}\n`).join(''));
  if (!result.books_balanced) io.stderr.write(`serve: the books do not balance: ${result.books.off}\n`);
  return 0;
}

const STATUS_MS = 1000;

/** One line per dead worker, the same during the run and in the final summary. */
export function describeDeath(d: WorkerDeath): string {
  return `worker ${d.index} (pid ${d.pid ?? '?'}) died: ${d.reason}; ${formatCount(d.lostConnections)} connection(s) lost${d.restarted ? '; restarted' : ''}`;
}
