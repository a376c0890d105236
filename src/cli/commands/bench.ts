// `connlab bench`: doctor's precheck → serve + load on loopback → progress → table,
// JSON and the HTML report. Ctrl-C or SIGTERM stops early and still writes the result.
// When fs.file-max is what binds, root raises it for the run and restores it afterwards.

import { renderBenchReport } from '../../bench/report-html.ts';
import { startBench } from '../../bench/run-bench.ts';
import { benchLimits, planBench, type BenchPlan } from '../../bench/plan-bench.ts';
import { planFileMaxRaise } from '../../bench/file-max.ts';
import { SettingsGuard } from '../../demo/settings.ts';
import { resolveHolderKind } from '../../engine/create-holder.ts';
import { resolveWorkerRuntime, type WorkerRuntimeChoice } from '../../engine/worker-process.ts';
import type { HostSnapshot } from '../../limits/snapshot.ts';
import { ConnlabError } from '../../errors.ts';
import { createHostReader } from '../../limits/host-reader.ts';
import { readHostSnapshot } from '../../limits/snapshot.ts';
import { formatCount, parseCount, parseDurationMs } from '../../units.ts';
import { dashboardOption, startCommandDashboard } from '../dashboard-flag.ts';
import { metricsOption, startCommandMetrics } from '../metrics-flag.ts';
import { oneOf, parseCommandArgs } from '../args.ts';
import { runtimeNote } from '../holder-note.ts';
import { checkOutputPath, writeReportAfterResult } from '../output-file.ts';
import { readHostFacts } from '../../limits/host-facts.ts';
import type { Io } from '../io.ts';
import { renderBenchText } from '../render/bench-text.ts';
import { renderDoctorText } from '../render/doctor-text.ts';
import { ProgressLine } from '../render/progress.ts';
import { watchForStop } from '../stop.ts';
import { freeLoopbackPort } from '../../tuple/free-port.ts';
import { runTargetBench, TARGET_FLAGS } from './bench-target.ts';
import { judgeThresholds, thresholdsExitCode, thresholdsFromFlags, thresholdsHelp, thresholdsOption, thresholdsText, watchThresholds, type CommandThresholds } from '../thresholds-flag.ts';
import type { WorkerPool } from '../../engine/worker-pool.ts';

export const summary = 'the million-connection experiment on this host: ramp, hold, verify, broadcast, report';

export const help = `Usage: connlab bench [options]

Runs the last article's experiment on this host and measures what it only described:
connlab serve and connlab load on loopback, sized by doctor's model (processes on each
side, source addresses), ramp to N, hold, verify every connection with a ping, broadcast
one message to all of them, and report kernel and user memory per connection. If the
host cannot reach N, it says which limit stops it and how to lift it, and exits 2
without starting. One limit it lifts itself: when fs.file-max binds (two million
connections here are four million open files) and the run fits once it is raised, bench
run as root raises it to doctor's advice for the run, prints the change, and restores
it afterwards, also after Ctrl-C, SIGTERM or a failure.

With --target, it measures YOUR server instead: load ramps to it in --steps steps,
verifying and holding each, while the server's processes (--server-pid: that PID and
all its descendants; --server-cgroup: the members of a cgroup, v2 or v1's memory
hierarchy, e.g. a systemd unit or a container) are sampled: private memory from
smaps_rollup, CPU, socket slab and sockstat. It reports the server's user bytes per connection (the slope of a fit over
the steps, with r²), kernel bytes per connection, the step and error at which the
server failed, and doctor's extrapolation: how many connections that server holds on
this host, bound by what. With --server-pid or --server-cgroup only loopback targets
(127.0.0.0/8) are accepted: both ends run here. A server on another host is read from
its Prometheus endpoints instead (--server-metrics, docs/bench-target-remote.md): its
memory metric, and node_exporter's sockets, slab and memory at each step; the report
says what those endpoints could not show. Exit status 0 when every step held, 1 when
the server failed at a step.

Options:
  --connections N    connections to establish and hold (default 100k; --target: 10k)
  --hold D           how long to hold them before verifying (default 30s; --target:
                     each step, after its liveness round, default 1s)
  --target TARGET    the server to measure, on IPv4 loopback (127.0.0.0/8 only): as
                     load takes it, ADDR:PORT[,…], name:PORT or a URL (http://localhost:
                     8080/health sets --protocol http and the path); --resolve,
                     --ip-family and --dns-server as in load
  --server-pid PID   the server's process; its descendants are sampled too
  --server-cgroup PATH  or its cgroup (absolute, or under the hierarchy); its limit and usage
                        go beside the host's and an OOM kill there fails the step as cgroup_memory
  --server-metrics URL  or, for a server on another host, its /metrics and the host's
                     node_exporter (repeatable; each scrape bounded: 2 s, 8 MiB)
  --server-memory-metric NAME  the server's memory series (default
                     process_resident_memory_bytes)
  --steps K          ramp in K equal steps (default 5, at least 2)
  --protocol P, --path, --host, --header, --subprotocol, --client-id-prefix,
  --username, --password, --keepalive, --rate, --holder, --connect-timeout
                     --target only: what each connection speaks, as in connlab load
  --tls              both ends speak TLS through connlab: serve with a throwaway
                     certificate (openssl CLI), load trusting exactly it; the result
                     adds handshakes per second and CPU per handshake (docs/tls.md)
  --worker-runtime auto|c|node
                     worker processes in C, no V8 (~1 MB each), or in Node (~11 MB
                     each); auto: c when built (the native holder)
  --report FILE      the self-contained HTML report (default bench-report.html)
  --no-report        do not write the HTML report
  --metrics [H:]P    Prometheus text at http://H:P/metrics while it runs, serve and
                     load labelled role="server" / role="load" (host 127.0.0.1)
  --dashboard [H:]P  a live page at http://H:P/, the report's charts updated every
                     second by server-sent events (host 127.0.0.1; works offline)
${thresholdsHelp}
  --json             print the result as JSON (schema connlab.bench/1)
  --root DIR         read the limits from DIR/proc, DIR/etc (and raise fs.file-max
                     there) instead of this host: for tests with a copied tree
  -h, --help         this help

Examples:
  connlab bench                                   100,000 connections, 30 s hold
  connlab bench --connections 1m --hold 60s       the million, both ends here
  connlab bench --connections 100k --hold 5s --json > result.json
  connlab bench --tls --connections 50k --hold 10s --json > tls.json
  connlab bench --target 127.0.0.1:8080 --protocol http --server-pid $(pgrep -o nginx) \\
      --connections 60k --steps 6
  connlab bench --target 10.0.0.5:8080 --protocol ws --connections 50k \\
      --server-metrics http://10.0.0.5:8080/metrics --server-metrics http://10.0.0.5:9100/metrics

Ctrl-C (or SIGTERM) stops early: every worker is ended and the partial result is still
written. A second Ctrl-C ends the workers by PID at once.
`;

const options = {
  connections: { type: 'string' },
  hold: { type: 'string' },
  'worker-runtime': { type: 'string' },
  report: { type: 'string' },
  'no-report': { type: 'boolean' },
  json: { type: 'boolean' },
  ...metricsOption,
  ...dashboardOption,
  root: { type: 'string' },
  ...TARGET_FLAGS,
  ...thresholdsOption,
} as const;

export async function run(argv: string[], io: Io): Promise<number> {
  const { values } = parseCommandArgs('bench', argv, options);
  if (values.help) {
    io.stdout.write(help);
    return 0;
  }
  if (values.report !== undefined && values['no-report']) {
    throw new ConnlabError('CONNLAB_ERR_USAGE', '--report and --no-report contradict each other', { hint: 'pass one of them' });
  }
  const reportPath = values['no-report'] ? undefined : checkOutputPath(values.report ?? 'bench-report.html', '--report');
  const thresholds = thresholdsFromFlags(values, 'bench');
  if (values.target !== undefined) return runTargetBench(values, argv, io, reportPath, thresholds);
  const stray = Object.keys(TARGET_FLAGS).find((flag) => flag !== 'tls' && values[flag as keyof typeof TARGET_FLAGS] !== undefined);
  if (stray) throw new ConnlabError('CONNLAB_ERR_USAGE', `--${stray} needs --target`, { hint: 'bench --target ADDR:PORT --server-pid PID measures your server; without --target bench runs connlab serve' });
  const connections = values.connections === undefined ? 100_000 : parseCount(values.connections, '--connections', { min: 1 });
  const holdMs = values.hold === undefined ? 30_000 : parseDurationMs(values.hold, '--hold');
  const workerRuntime = values['worker-runtime'] === undefined ? 'auto' : oneOf('--worker-runtime', values['worker-runtime'], ['auto', 'c', 'node'] as const);
  const root = values.root ?? '/';
  const guard = new SettingsGuard({
    root,
    signals: false, // watchForStop stops gracefully; the finally below (or 'exit') restores
    onChange: (name, from, to) => io.stderr.write(`bench: ${name} ${from} -> ${to} for this run (it binds at ${formatCount(connections)} connections); restored afterwards\n`),
    onRestore: (r) => io.stderr.write(r.restored ? `bench: ${r.name} restored to ${r.after}\n` : `bench: ${r.name} NOT restored: reads ${r.after ?? 'nothing'}, was ${r.from}\n`),
  });
  const restoreOnExit = (): void => void guard.restore();
  process.once('exit', restoreOnExit);
  try {
    const { host, plan } = precheck(root, connections, io, guard);
    return await runBench(argv, io, { connections, holdMs, reportPath, json: values.json === true, host, plan, metrics: values.metrics, dashboard: values.dashboard, workerRuntime, thresholds, tls: values.tls === true });
  } finally {
    guard.restore();
    process.off('exit', restoreOnExit);
  }
}

/** doctor's precheck, raising fs.file-max (root only) when it is all that binds. */
function precheck(root: string, connections: number, io: Io, guard: SettingsGuard): { host: HostSnapshot; plan: BenchPlan } {
  const read = (): HostSnapshot => readHostSnapshot(createHostReader(root), { user: io.user });
  let host = read();
  let plan = planBench(host, connections);
  const raise = plan.fits ? null : planFileMaxRaise(host, connections);
  if (raise?.fitsAfter && io.uid === 0) {
    guard.set('fs.file-max', String(raise.to));
    host = read();
    plan = planBench(host, connections);
  } else if (raise?.fitsAfter) {
    io.stderr.write(`bench: fs.file-max (${formatCount(raise.from)}) binds; run as root, bench raises it to ${formatCount(raise.to)} for the run and restores it afterwards\n`);
  }
  if (!plan.fits) {
    io.stderr.write(renderDoctorText(plan.report));
    throw new ConnlabError('CONNLAB_ERR_IMPOSSIBLE_TARGET',
      `this host cannot hold ${formatCount(connections)} connections with both ends here: ${plan.binding?.name} allows ${formatCount(plan.binding?.allows ?? 0)} (${plan.binding?.error})`,
      { hint: 'apply the advice above, or lower --connections' });
  }
  return { host, plan };
}

interface BenchCommand {
  connections: number;
  holdMs: number;
  reportPath: string | undefined;
  json: boolean;
  host: HostSnapshot;
  plan: BenchPlan;
  /** --metrics and --dashboard as given. */
  metrics: string | undefined;
  dashboard: string | undefined;
  workerRuntime: WorkerRuntimeChoice;
  thresholds: CommandThresholds | undefined;
  /** --tls: both ends speak TLS through connlab (a throwaway certificate). */
  tls: boolean;
}

async function runBench(argv: string[], io: Io, { connections, holdMs, reportPath, json, host, plan, workerRuntime, thresholds, tls, ...flags }: BenchCommand): Promise<number> {
  io.stderr.write(`bench: ${formatCount(connections)} ${tls ? 'TLS ' : ''}connections over ${plan.serverWorkers} serve + ${plan.loadWorkers} load workers; hold ${holdMs / 1000}s\n`);
  const holder = resolveHolderKind('auto');
  io.stderr.write(runtimeNote({ holderChoice: undefined, holder, runtimeChoice: workerRuntime, runtime: resolveWorkerRuntime(workerRuntime, holder, tls), tls }));
  const progress = new ProgressLine(io.stderr);
  let holdEndsAtMs: number | undefined;
  const metrics = await startCommandMetrics(flags.metrics);
  const dashboard = await startCommandDashboard(flags.dashboard, 'connlab bench').catch((error: unknown) => { metrics?.close(); throw error; });
  if (metrics) io.stderr.write(`metrics at ${metrics.url}\n`);
  if (dashboard) io.stderr.write(`dashboard at ${dashboard.url}\n`);
  dashboard?.setLimits(benchLimits(plan));
  let loadPool: WorkerPool | undefined;
  const bench = startBench({
    onPool: (pool, role) => {
      if (role === 'load') loadPool = pool;
      metrics?.metrics.addPool(pool, { role });
      dashboard?.addPool(pool, { role }, role === 'load' ? connections : null);
    },
    onSample: (point, startedAtMs) => dashboard?.pushPoint(point, startedAtMs),
    connections,
    holdMs,
    host,
    workerRuntime,
    tls,
    kernelPoolSize: readHostFacts().kernelPoolSize,
    port: await freeLoopbackPort(),
    command: ['connlab', 'bench', ...argv].join(' '),
    onProgress: (p) => progress.update({ phase: p.phase, held: p.established, target: p.target, holdEndsAtMs: p.phase === 'hold' ? holdEndsAtMs : undefined }),
    // A log (not a terminal) gets one line per phase instead of the status line.
    onPhase: (phase) => {
      if (phase === 'hold') holdEndsAtMs = performance.now() + holdMs;
      if (!io.stderr.isTTY) io.stderr.write(`bench: ${phase}\n`);
    },
  });
  const stop = watchForStop(undefined, () => bench.destroy());
  void stop.stopped.then((reason) => {
    if (reason !== 'duration') bench.stop(reason === 'threshold' ? 'stopped' : reason);
  });
  const watch = watchThresholds(thresholds, () => loadPool?.totals(), connections, () => stop.stop('threshold'));
  try {
    const result = await bench.done;
    progress.done();
    const judged = judgeThresholds(thresholds, result, io, 'bench', watch.abortedBy());
    const final = judged ? { ...result, thresholds: judged } : result;
    // The result first: a report that cannot be written must not take it along.
    io.stdout.write(json ? `${JSON.stringify(final, null, 2)}\n` : renderBenchText(result, reportPath) + thresholdsText(judged));
    if (reportPath) writeReportAfterResult(reportPath, renderBenchReport(final));
    return thresholdsExitCode(judged, result.outcome === 'completed' ? 0 : 130, result.outcome === 'SIGINT' || result.outcome === 'SIGTERM');
  } finally {
    watch.dispose();
    stop.dispose();
    metrics?.close();
    await dashboard?.close();
  }
}
