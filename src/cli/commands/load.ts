// `connlab load`: plan → ramp with a progress bar → verify → hold with pings → result.
// A stop (duration, Ctrl-C, SIGTERM) at any point still closes every worker and writes
// the result so far.

import { ConnlabError, invalidArgument } from '../../errors.ts';
import { loadPlanJson, planLoad, startLoad, type LoadHandle, type LoadOptions, type LoadResult } from '../../load/load.ts';
import type { TuplePlan } from '../../tuple/plan.ts';
import { PROTOCOL_KINDS, type ProtocolSettings, type TlsSettings } from '../../load/protocol-options.ts';
import { judgeLoad } from '../../load/verdict.ts';
import { counterDelta, readNetstatCounters } from '../../probe/netstat.ts';
import { formatShard } from '../../shard/shard.ts';
import { expandTargets, formatIpv4, parseIpList, parsePortRange, parseTargets } from '../../tuple/address.ts';
import { formatCount, parseCount, parseDurationMs } from '../../units.ts';
import { oneOf, parseCommandArgs } from '../args.ts';
import { dashboardHelp, dashboardOption, startCommandDashboard } from '../dashboard-flag.ts';
import { metricsHelp, metricsOption, startCommandMetrics } from '../metrics-flag.ts';
import { renderShardPlan, shardFromFlags, shardHelp, shardOptions, waitForStartAt } from '../shard-flags.ts';
import { judgeThresholds, thresholdsExitCode, thresholdsFromFlags, thresholdsHelp, thresholdsOption, thresholdsText, watchThresholds } from '../thresholds-flag.ts';
import { readHostFacts } from '../../limits/host-facts.ts';
import { runtimeNote } from '../holder-note.ts';
import type { Io } from '../io.ts';
import { ProgressLine } from '../render/progress.ts';
import { watchForStop, type StopWatch } from '../stop.ts';
import { parseWorkers } from './serve.ts';

export const summary = 'open and hold N connections to any TCP server, past 65,535 from one host';

export const help = `Usage: connlab load ADDR:PORT[,…] -c N [options]

Opens and holds N connections to any TCP server. It plans the four-tuples itself:
each worker gets a disjoint slice of (source IP, source port, destination), one source
port serves every destination at once, and the kernel never searches for a free port,
so one host goes far past 65,535. Toward loopback it picks its own sources from
127.0.0.2 on. --protocol says what each connection speaks; the default, tcp, never
sends a byte. Each liveness round (after the ramp, every --ping, after the hold)
verifies every connection the way its protocol can; see docs/protocols.md.

Exit status: 0 when every target connection was held to the end and verified, else 1
with one line naming the shortfall and the limit behind it (--allow-partial: 0 anyway).
With --threshold or --thresholds, the thresholds decide instead: 0 when all pass, 1 when
one fails; 2 for a malformed one, before anything starts.

Options:
  -c, --connections N        connections to open and hold (100k, 1m)
  --rate R                   connects per second over all workers (default: as fast as
                             the server accepts, 1,024 in flight per worker)
  --source-ips LIST          source addresses: 127.0.0.2-127.0.0.40 (default: loopback
                             sources as needed toward 127/8, else the kernel's choice)
  --source-ports RANGE|kernel  planned source ports (default 10000-65000), or kernel
                             to let connect() pick ephemeral ports, for comparison
                             (toward loopback it then adds sources so no port pool is
                             over 25% full: connect()'s free-port search slows as it fills)
  --duration D               hold for D after the ramp (default 10s), then close
  --ping D                   a liveness round every D while holding (default 10s; 0: only
                             the round after the hold)
  --protocol P               tcp (default: hold, send nothing), http (a GET on connect and
                             per round), ws (upgrade, ping frames), mqtt (CONNECT, PINGREQ),
                             connlab (connlab serve's frames)
  --path P, --host H         http, ws: request path (default /) and Host header
  --header "K: V"            http, ws: an extra request header (repeatable)
  --subprotocol S            ws: Sec-WebSocket-Protocol
  --client-id-prefix S       mqtt: client ids are S<pid>-<n> (default connlab-)
  --username U, --password P mqtt: credentials for CONNECT
  --tls                      TLS under the protocol: https, wss, MQTT over TLS, TLS over
                             tcp (native holder; OpenSSL inside Node). Verifies the chain
                             against Node's roots and the name (--sni, else --host, else
                             the target IP)
  --sni NAME                 --tls: server_name to send and the name to verify (default:
                             --host without port; none for an IP)
  --alpn LIST                --tls: ALPN names, comma-separated (default http/1.1 for http
                             and ws, none otherwise)
  --ca FILE                  --tls: trust the CA certificates in this PEM file instead
  --insecure                 --tls: accept any certificate (self-signed test servers)
  --tls-groups LIST          --tls: key exchange groups (default X25519:P-256:P-384;
                             default: OpenSSL's list, with the hybrid X25519MLKEM768)
  --keepalive D              tcp: SO_KEEPALIVE probes every D (verified then needs an ACK
                             within 2×D); mqtt: the CONNECT keep-alive (default 60s)
  --allow-partial            exit 0 even when the target was not held and verified
  --connect-timeout D        give up on a handshake after D (default 10s)
  --churn PCT                after the ramp, reset and reconnect PCT percent of the
                             connections every second (a soak: 3 = 3%/s; default 0)
  --workers auto|N           worker processes (auto: as the descriptor limit needs)
  --holder auto|native|node  the connection holder (auto: native when built)
  --worker-runtime auto|c|node  worker processes in C, no V8 (~1 MB each), or in
                             Node (~11 MB each); auto: c when built and the holder is native
${shardHelp}
${metricsHelp}
${dashboardHelp}
${thresholdsHelp}
  --dry-run                  print the plan and what limits it, open nothing
  --json                     print the result as JSON (schema connlab.load/1)
  -h, --help                 this help

Examples:
  connlab load 127.0.0.1:9000 -c 70000 --duration 20s --protocol connlab
  connlab load 127.0.0.1:8080 -c 60000 --protocol http --path /health --duration 60s
  connlab load 127.0.0.1:1883 -c 15000 --protocol mqtt --ping 30s
  connlab load 127.0.0.1:8443 -c 2000 --protocol http --tls --sni example.test --ca ca.pem
  connlab load 127.0.0.1:9000-9003 -c 200k --source-ips 127.0.0.2-127.0.0.5 --json
  connlab load 127.0.0.1:8080 -c 50000 --rate 5000 --source-ports kernel
  connlab load 127.0.0.1:9000 -c 1m --dry-run
  connlab load 127.0.0.1:9000 -c 30000 --shard 2/3 --start-at 2026-11-30T14:00:00Z
`;

/** What each connection speaks: the same flags on load and on bench --target. */
export const PROTOCOL_FLAGS = {
  protocol: { type: 'string' },
  path: { type: 'string' },
  host: { type: 'string' },
  header: { type: 'string', multiple: true },
  subprotocol: { type: 'string' },
  'client-id-prefix': { type: 'string' },
  username: { type: 'string' },
  password: { type: 'string' },
  keepalive: { type: 'string' },
  tls: { type: 'boolean' },
  sni: { type: 'string' },
  alpn: { type: 'string' },
  ca: { type: 'string' },
  insecure: { type: 'boolean' },
  'tls-groups': { type: 'string' },
} as const;

const options = {
  connections: { type: 'string', short: 'c' },
  rate: { type: 'string' },
  'source-ips': { type: 'string' },
  'source-ports': { type: 'string' },
  duration: { type: 'string' },
  ping: { type: 'string' },
  'connect-timeout': { type: 'string' },
  churn: { type: 'string' },
  workers: { type: 'string' },
  holder: { type: 'string' },
  ...PROTOCOL_FLAGS,
  'allow-partial': { type: 'boolean' },
  'worker-runtime': { type: 'string' },
  'dry-run': { type: 'boolean' },
  json: { type: 'boolean' },
  ...shardOptions,
  ...metricsOption,
  ...dashboardOption,
  ...thresholdsOption,
} as const;

type Values = ReturnType<typeof parseCommandArgs<typeof options>>['values'];

export function loadOptionsFromFlags(targets: string, values: Values): LoadOptions {
  if (values.connections === undefined) throw new ConnlabError('CONNLAB_ERR_USAGE', 'load needs -c N', { hint: 'pass -c 10000' });
  const sourcePorts = values['source-ports'];
  const facts = readHostFacts();
  return {
    destinations: expandTargets(parseTargets(targets, 'target')),
    connections: parseCount(values.connections, '--connections', { min: 1 }),
    sourceIps: values['source-ips'] === undefined ? undefined : parseIpList(values['source-ips'], '--source-ips'),
    sourcePorts: sourcePorts === undefined ? undefined : sourcePorts === 'kernel' ? 'kernel' : parsePortRange(sourcePorts, '--source-ports'),
    ratePerSec: values.rate === undefined ? null : parseCount(values.rate, '--rate', { min: 1 }),
    workers: parseWorkers(values.workers),
    holder: values.holder === undefined ? 'auto' : oneOf('--holder', values.holder, ['auto', 'native', 'node'] as const),
    workerRuntime: values['worker-runtime'] === undefined ? 'auto' : oneOf('--worker-runtime', values['worker-runtime'], ['auto', 'c', 'node'] as const),
    connectTimeoutMs: values['connect-timeout'] === undefined ? undefined : parseDurationMs(values['connect-timeout'], '--connect-timeout'),
    fdSoftLimit: facts.fdSoftLimit,
    kernelPoolSize: facts.kernelPoolSize,
    churnPercentPerSec: values.churn === undefined ? undefined : parsePercent(values.churn, '--churn'),
    protocol: protocolFromFlags(values),
    shard: shardFromFlags(values, process.env),
  };
}

type ProtocolValues = Pick<Values, keyof typeof PROTOCOL_FLAGS>;

export function protocolFromFlags(values: ProtocolValues): ProtocolSettings {
  const kind = values.protocol === undefined ? 'tcp' : oneOf('--protocol', values.protocol, PROTOCOL_KINDS);
  const keepaliveMs = values.keepalive === undefined ? undefined : parseDurationMs(values.keepalive, '--keepalive');
  const keepaliveSeconds = keepaliveMs === undefined ? undefined : Math.max(1, Math.round(keepaliveMs / 1000));
  return {
    kind, path: values.path, host: values.host, headers: values.header, subprotocol: values.subprotocol,
    clientIdPrefix: values['client-id-prefix'], username: values.username, password: values.password,
    keepaliveSeconds: kind === 'mqtt' ? keepaliveSeconds : undefined,
    tcpKeepaliveSeconds: kind === 'tcp' ? keepaliveSeconds : undefined,
    tls: tlsFromFlags(values),
  };
}

function tlsFromFlags(values: Values): TlsSettings | undefined {
  const tlsOnly = (['sni', 'alpn', 'ca', 'insecure', 'tls-groups'] as const).find((flag) => values[flag] !== undefined);
  if (!values.tls) {
    if (tlsOnly) throw new ConnlabError('CONNLAB_ERR_USAGE', `--${tlsOnly} needs --tls`, { hint: 'add --tls' });
    return undefined;
  }
  const alpn = values.alpn === undefined ? undefined : values.alpn.split(',').map((a) => a.trim()).filter((a) => a !== '');
  return { sni: values.sni, alpn, caFile: values.ca, insecure: values.insecure, groups: values['tls-groups'] };
}

/** `3` or `3%`: a share from 0 to 100. */
function parsePercent(input: string, option: string): number {
  const value = Number(input.replace(/%$/, ''));
  if (input.trim() === '' || !Number.isFinite(value) || value < 0 || value > 100) {
    throw invalidArgument(option, input, 'a percent from 0 to 100, e.g. 3 or 3%');
  }
  return value;
}

export function renderPlan(plan: TuplePlan, options: LoadOptions): string {
  const sources = plan.sourceIps === 1 && !options.sourceIps ? 'the kernel\'s choice' : `${formatCount(plan.sourceIps)} source IP(s)`;
  const lines = [
    `Plan: ${formatCount(plan.connections)} connections over ${plan.slices.length} worker(s), ${plan.strategy} source ports`,
    `  four-tuples available: ${sources} × ${formatCount(plan.sourcePorts)} source ports × ${formatCount(plan.destinations)} destination(s) = ${formatCount(plan.capacity)}`,
    `  uses ${(100 * plan.connections / plan.capacity).toFixed(1)}% of them; the first connection: ${describeFirst(options, plan)}`,
    ...plan.slices.map((s) => `  worker ${s.worker}: connections ${formatCount(s.start)}–${formatCount(s.start + s.count - 1)}`),
  ];
  return `${lines.join('\n')}\n`;
}

function describeFirst(options: LoadOptions, plan: TuplePlan): string {
  const dest = options.destinations[0];
  return dest ? `→ ${formatIpv4(dest.ip)}:${dest.port} (${plan.destinations} destination(s) share each source port)` : '';
}

export async function run(argv: string[], io: Io): Promise<number> {
  const { values, positionals } = parseCommandArgs('load', argv, options, true);
  if (values.help) {
    io.stdout.write(help);
    return 0;
  }
  if (positionals.length !== 1) {
    throw new ConnlabError('CONNLAB_ERR_USAGE', positionals.length === 0 ? 'load needs a target ADDR:PORT' : `load takes one target list, got ${positionals.length}`, {
      hint: 'join several targets with commas: 127.0.0.1:9000,127.0.0.1:9001',
    });
  }
  const loadOptions = loadOptionsFromFlags(positionals[0] ?? '', values);
  const holdMs = values.duration === undefined ? 10_000 : parseDurationMs(values.duration, '--duration');
  const pingMs = values.ping === undefined ? 10_000 : parseDurationMs(values.ping, '--ping');
  const thresholds = thresholdsFromFlags(values, 'load');
  if (values['dry-run']) {
    const { plan, input } = planLoad(loadOptions);
    io.stdout.write(values.json ? `${JSON.stringify(dryRunJson(plan), null, 2)}\n` : renderPlan(plan, loadOptions) + renderShardPlan(plan, input, loadOptions.ratePerSec ?? null));
    return 0;
  }
  await waitForStartAt(values['start-at']);
  const netstatBefore = await readNetstatCounters();
  const metrics = await startCommandMetrics(values.metrics);
  const dashboard = await startCommandDashboard(values.dashboard, 'connlab load').catch((error: unknown) => { metrics?.close(); throw error; });
  const load = await startLoad(loadOptions).catch(async (error: unknown) => { metrics?.close(); await dashboard?.close(); throw error; });
  const labels = { role: 'load', ...(loadOptions.shard ? { shard: formatShard(loadOptions.shard) } : {}) } as const;
  metrics?.metrics.addPool(load.pool, labels);
  dashboard?.addPool(load.pool, labels, load.plan.connections);
  if (metrics) io.stderr.write(`metrics at ${metrics.url}\n`);
  if (dashboard) io.stderr.write(`dashboard at ${dashboard.url}\n`);
  io.stderr.write(runtimeNote({ holderChoice: loadOptions.holder, holder: load.holder, runtimeChoice: loadOptions.workerRuntime, runtime: load.pool.runtime, tls: values.tls === true }));
  const stop = watchForStop(undefined, () => load.destroy());
  const watch = watchThresholds(thresholds, () => load.pool.totals(), load.plan.connections, () => stop.stop('threshold'));
  try {
    const reason = await drive(load, stop, io, holdMs, pingMs);
    const delta = counterDelta(netstatBefore, await readNetstatCounters());
    const result = await load.close({ listenOverflowsRose: delta['TcpExt.ListenOverflows'] > 0 });
    const verdict = judgeLoad(result, reason);
    const withReason = { ...result, stopped_by: reason, kernel: delta, reached: verdict.reached };
    const judged = judgeThresholds(thresholds, withReason, io, 'load', watch.abortedBy());
    io.stdout.write(values.json ? `${JSON.stringify(judged ? { ...withReason, thresholds: judged } : withReason, null, 2)}\n` : renderResult(result, reason) + thresholdsText(judged));
    if (verdict.line) io.stderr.write(`${verdict.line}\n`);
    return thresholdsExitCode(judged, verdict.reached || values['allow-partial'] ? 0 : 1, reason === 'SIGINT' || reason === 'SIGTERM');
  } finally {
    watch.dispose();
    stop.dispose();
    metrics?.close();
    await dashboard?.close();
  }
}

async function drive(load: LoadHandle, stop: StopWatch, io: Io, holdMs: number, pingMs: number): Promise<string> {
  const progress = new ProgressLine(io.stderr);
  let verified: number | undefined;
  const show = (phase: string, holdEndsAtMs?: number): void => {
    const p = load.progress();
    progress.update({ phase, held: p.established, target: p.target, failed: p.failed, verified, holdEndsAtMs });
  };
  const ramp = load.rampDone();
  let reason: string | undefined;
  let ramped = false;
  void ramp.then(() => (ramped = true));
  while (!ramped && !reason) {
    reason = await Promise.race([stop.sleep(250), ramp.then(() => undefined)]);
    show('ramp');
  }
  // The bar shows counts from the last worker report, which can predate the ramp's end:
  // erase it so the summary below is the only figure on screen.
  progress.clear();
  if (reason) return reason;
  // --ping 0: no rounds while holding, only the one after the hold that `verified` reports.
  if (pingMs > 0) {
    const first = await load.ping();
    verified = first.verified;
    io.stderr.write(`ramped; ${formatCount(first.verified)} of ${formatCount(first.established)} verified; holding for ${(holdMs / 1000).toFixed(0)}s\n`);
  } else {
    io.stderr.write(`ramped; holding for ${(holdMs / 1000).toFixed(0)}s\n`);
  }
  reason = await hold(load, stop, holdMs, pingMs, (holdEndsAtMs, v) => {
    verified = v ?? verified;
    show('hold', holdEndsAtMs);
  });
  progress.clear();
  if (reason) return reason;
  await load.ping();
  return 'duration';
}

/** The hold: a liveness round every pingMs, a progress tick every second; a stop reason or undefined. */
async function hold(load: LoadHandle, stop: StopWatch, holdMs: number, pingMs: number, tick: (holdEndsAtMs: number, verified?: number) => void): Promise<string | undefined> {
  const holdEnd = performance.now() + holdMs;
  let nextPing = pingMs > 0 ? performance.now() + pingMs : Infinity;
  tick(holdEnd);
  while (performance.now() < holdEnd) {
    const reason = await stop.sleep(Math.max(0, Math.min(1000, nextPing - performance.now(), holdEnd - performance.now())));
    if (reason) return reason;
    let verified: number | undefined;
    if (performance.now() >= nextPing && performance.now() < holdEnd - 1) {
      verified = (await load.ping()).verified;
      nextPing = performance.now() + pingMs;
    }
    tick(holdEnd, verified);
  }
  return undefined;
}

function renderResult(r: LoadResult, reason: string): string {
  const lines = [
    `stopped (${reason}): ${formatCount(r.connections.established)} of ${formatCount(r.connections.target)} held at the end (peak ${formatCount(r.connections.peak)}), ${formatCount(r.connections.verified)} verified (${r.protocol}${r.tls ? ' over TLS' : ''})`,
    `ramp: ${r.ramp.seconds}s, ${formatCount(r.ramp.per_second)} connects/s; connect p50 ${r.ramp.connect_ms.p50} ms, p99 ${r.ramp.connect_ms.p99} ms, max ${r.ramp.connect_ms.max} ms`,
    r.ping.rtt_ms.count > 0 ? `round trip (${r.protocol}): p50 ${r.ping.rtt_ms.p50} ms, p99 ${r.ping.rtt_ms.p99} ms over ${formatCount(r.ping.rtt_ms.count)} answers` : r.protocol === 'tcp' ? 'round trip: none (tcp sends nothing; verified is the kernel\'s view)' : 'round trip: no answers',
    ...(r.broadcast.received > 0 ? [`messages from the server: ${formatCount(r.broadcast.received)}${r.broadcast.latency_ms.count > 0 ? `, delivery p50 ${r.broadcast.latency_ms.p50} ms, p99 ${r.broadcast.latency_ms.p99} ms (${formatCount(r.broadcast.latency_ms.count)} stamped)` : ''}`] : []),
    ...closedLines(r),
    `memory: ${formatCount(r.memory.load_private_bytes)} B private over ${r.processes.load} worker(s)${r.memory.load_user_bytes_per_connection ? ` = ${formatCount(r.memory.load_user_bytes_per_connection)} B per connection` : ''}`,
    ...r.explained.map((e) => `error ${e.errno} × ${formatCount(e.count)}: ${e.cause} — ${e.explanation}`),
    ...r.deaths.map((d) => `worker ${d.worker} (pid ${d.pid ?? '?'}) died: ${d.reason}; ${formatCount(d.lost_connections)} connection(s) lost`),
  ];
  return `${lines.join('\n')}\n`;
}

function closedLines(r: LoadResult): string[] {
  const closed = Object.entries(r.closed).filter(([reason, n]) => n > 0 && reason !== 'local');
  const codes = (Object.entries(r.codes) as [string, Record<string, number>][]).flatMap(([kind, table]) => Object.entries(table).map(([code, n]) => `${kind} ${code} × ${formatCount(n)}`));
  return [
    ...(closed.length ? [`closed: ${closed.map(([reason, n]) => `${reason} ${formatCount(n)}`).join(', ')}${r.closed_early ? ` (${formatCount(r.closed_early)} right after the handshake)` : ''}`] : []),
    ...(codes.length ? [`codes: ${codes.join(', ')}`] : []),
    ...(r.tls ? [`tls: ${formatCount(r.tls.handshakes)} handshakes${Object.keys(r.tls.errors).length ? `; failed: ${Object.entries(r.tls.errors).map(([why, n]) => `${why} × ${formatCount(n)}`).join(', ')}` : ''}`] : []),
    ...(r.protocol_bytes.length ? [`protocol violations, first bytes: ${r.protocol_bytes.join(' ')}`] : []),
  ];
}

/** `load --dry-run --json` (schema connlab.load-plan/1): the result's plan keys plus the slices. */
function dryRunJson(plan: TuplePlan): Record<string, unknown> {
  const { slices, ...rest } = plan;
  const { source_ports: _range, ...keys } = loadPlanJson(rest, '');
  return { schema: 'connlab.load-plan/1', ...keys, slices };
}
