// `connlab bench --target`: flags → the experiment against the user's server → step lines
// on stderr → table or JSON, and the HTML report. Exit 0 when every step held, 1 when the
// server failed at a step (the line says where and why), 130 when stopped.

import { renderBenchReport } from '../../bench/report-html.ts';
import { startTargetBench } from '../../bench/target/run-target.ts';
import type { ServerSource } from '../../bench/target/server-processes.ts';
import { ConnlabError, invalidArgument } from '../../errors.ts';
import type { RemoteServer } from '../../bench/target/probe.ts';
import { readHostFacts } from '../../limits/host-facts.ts';
import { createHostReader } from '../../limits/host-reader.ts';
import { readHostSnapshot } from '../../limits/snapshot.ts';
import { expandTargets, parseTargets } from '../../tuple/address.ts';
import { formatCount, parseCount, parseDurationMs } from '../../units.ts';
import { oneOf } from '../args.ts';
import { writeReportAfterResult } from '../output-file.ts';
import type { Io } from '../io.ts';
import { renderTargetText } from '../render/bench-target-text.ts';
import { watchForStop } from '../stop.ts';
import { protocolFromFlags, PROTOCOL_FLAGS } from './load.ts';
import { judgeThresholds, thresholdsExitCode, thresholdsText, watchThresholds, type CommandThresholds } from '../thresholds-flag.ts';
import type { LoadHandle } from '../../load/load.ts';
import { sumStats } from '../../engine/aggregate.ts';

/** bench's flags that only mean something with --target. */
export const TARGET_FLAGS = {
  target: { type: 'string' },
  'server-pid': { type: 'string' },
  'server-cgroup': { type: 'string' },
  'server-metrics': { type: 'string', multiple: true },
  'server-memory-metric': { type: 'string' },
  steps: { type: 'string' },
  rate: { type: 'string' },
  holder: { type: 'string' },
  'connect-timeout': { type: 'string' },
  ...PROTOCOL_FLAGS,
} as const;

type Str = string | undefined;
type FlagValue<F> = F extends { type: 'boolean' } ? boolean : F extends { multiple: true } ? string[] : string;
export type TargetValues = { [K in keyof typeof TARGET_FLAGS]?: FlagValue<(typeof TARGET_FLAGS)[K]> }
  & { connections?: Str; hold?: Str; json?: boolean };

function serverSource(values: TargetValues): ServerSource | undefined {
  const pid = values['server-pid'];
  const cgroup = values['server-cgroup'];
  if (values['server-metrics'] !== undefined) {
    if (pid !== undefined || cgroup !== undefined) throw new ConnlabError('CONNLAB_ERR_USAGE', '--server-metrics reads a server on another host: drop --server-pid and --server-cgroup', { hint: 'a server on this host: --server-pid or --server-cgroup; elsewhere: --server-metrics URL' });
    return undefined;
  }
  if (values['server-memory-metric'] !== undefined) throw new ConnlabError('CONNLAB_ERR_USAGE', '--server-memory-metric needs --server-metrics', { hint: 'pass --server-metrics http://HOST:PORT/metrics' });
  if ((pid === undefined) === (cgroup === undefined)) {
    throw new ConnlabError('CONNLAB_ERR_USAGE', 'bench --target needs exactly one of --server-pid PID and --server-cgroup PATH', {
      hint: 'say which processes are the server: --server-pid $(pgrep -o nginx), or --server-cgroup system.slice/nginx.service; on another host: --server-metrics URL',
    });
  }
  return pid !== undefined ? { pid: parseCount(pid, '--server-pid', { min: 1 }) } : { cgroup: cgroup as string };
}

/** --server-metrics URL… (http or https only) and --server-memory-metric NAME. */
function remoteFromFlags(values: TargetValues): RemoteServer | undefined {
  const urls = values['server-metrics'];
  if (urls === undefined) return undefined;
  for (const url of urls) {
    let parsed: URL | undefined;
    try {
      parsed = new URL(url);
    } catch {
      parsed = undefined;
    }
    if (!parsed || (parsed.protocol !== 'http:' && parsed.protocol !== 'https:')) throw invalidArgument('--server-metrics', url, 'an http(s) URL like http://10.0.0.5:9100/metrics');
  }
  const metric = values['server-memory-metric'];
  if (metric !== undefined && !/^[a-zA-Z_:][a-zA-Z0-9_:]*$/.test(metric)) throw invalidArgument('--server-memory-metric', metric, 'a Prometheus metric name like process_resident_memory_bytes');
  return { metricsUrls: urls, memoryMetric: metric };
}

export async function runTargetBench(values: TargetValues, argv: string[], io: Io, reportPath: string | undefined, thresholds?: CommandThresholds): Promise<number> {
  const server = serverSource(values);
  const steps = values.steps === undefined ? 5 : parseCount(values.steps, '--steps', { min: 2 });
  const facts = readHostFacts();
  const loads: LoadHandle[] = [];
  const connections = values.connections === undefined ? 10_000 : parseCount(values.connections, '--connections', { min: 1 });
  const bench = startTargetBench({
    onLoad: (handle) => loads.push(handle),
    destinations: expandTargets(parseTargets(values.target ?? '', '--target')),
    server,
    remote: remoteFromFlags(values),
    connections,
    steps,
    stepHoldMs: values.hold === undefined ? 1_000 : parseDurationMs(values.hold, '--hold'),
    protocol: protocolFromFlags(values),
    host: readHostSnapshot(createHostReader('/'), { user: io.user }),
    kernelPoolSize: facts.kernelPoolSize,
    fdSoftLimit: facts.fdSoftLimit,
    ratePerSec: values.rate === undefined ? null : parseCount(values.rate, '--rate', { min: 1 }),
    holder: values.holder === undefined ? 'auto' : oneOf('--holder', values.holder, ['auto', 'native', 'node'] as const),
    connectTimeoutMs: values['connect-timeout'] === undefined ? undefined : parseDurationMs(values['connect-timeout'], '--connect-timeout'),
    command: ['connlab', 'bench', ...argv].join(' '),
    onStep: (s) => io.stderr.write(`bench: step ${s.step}/${steps} ${s.ok ? 'held' : 'FAILED'}: ${formatCount(s.established)} of ${formatCount(s.target)}, verified ${formatCount(s.verified)}, ${values['server-metrics'] ? 'server memory' : 'server private dirty'} ${formatCount(s.server_private_dirty_bytes)} B\n`),
  });
  const stop = watchForStop(undefined, () => bench.destroy());
  void stop.stopped.then((reason) => {
    if (reason !== 'duration') bench.stop(reason === 'threshold' ? 'stopped' : reason);
  });
  const watch = watchThresholds(thresholds, () => sumStats(loads.map((h) => h.pool.totals())), connections, () => stop.stop('threshold'));
  try {
    const result = await bench.done;
    const judged = judgeThresholds(thresholds, result, io, 'bench', watch.abortedBy());
    const final = judged ? { ...result, thresholds: judged } : result;
    io.stdout.write(values.json ? `${JSON.stringify(final, null, 2)}\n` : renderTargetText(result, reportPath) + thresholdsText(judged));
    if (result.target?.failure) io.stderr.write(`bench: the server failed at ${result.target.failure.line}\n`);
    if (reportPath) writeReportAfterResult(reportPath, renderBenchReport(final));
    const own = result.outcome === 'completed' ? 0 : result.outcome === 'failed' ? 1 : 130;
    return thresholdsExitCode(judged, own, result.outcome === 'SIGINT' || result.outcome === 'SIGTERM');
  } finally {
    watch.dispose();
    stop.dispose();
  }
}
