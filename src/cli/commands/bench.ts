// `connlab bench`: doctor's precheck → serve + load on loopback → progress → table,
// JSON and the HTML report. Ctrl-C or SIGTERM stops early and still writes the result.
// When fs.file-max is what binds, root raises it for the run and restores it afterwards.

import { writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { renderBenchReport } from '../../bench/report-html.ts';
import { startBench } from '../../bench/run-bench.ts';
import { benchLimits, planBench, type BenchPlan } from '../../bench/plan-bench.ts';
import { planFileMaxRaise } from '../../bench/file-max.ts';
import { SettingsGuard } from '../../demo/settings.ts';
import type { WorkerRuntimeChoice } from '../../engine/worker-process.ts';
import type { HostSnapshot } from '../../limits/snapshot.ts';
import { ConnlabError } from '../../errors.ts';
import { createHostReader } from '../../limits/host-reader.ts';
import { readHostSnapshot } from '../../limits/snapshot.ts';
import { formatCount, parseCount, parseDurationMs } from '../../units.ts';
import { dashboardOption, startCommandDashboard } from '../dashboard-flag.ts';
import { metricsOption, startCommandMetrics } from '../metrics-flag.ts';
import { oneOf, parseCommandArgs } from '../args.ts';
import { readHostFacts } from '../../limits/host-facts.ts';
import type { Io } from '../io.ts';
import { renderBenchText } from '../render/bench-text.ts';
import { renderDoctorText } from '../render/doctor-text.ts';
import { progressBar, StatusLine } from '../render/status-line.ts';
import { watchForStop } from '../stop.ts';
import { freeLoopbackPort } from '../../tuple/free-port.ts';
import { runTargetBench, TARGET_FLAGS } from './bench-target.ts';

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
all its descendants; --server-cgroup: the members of a cgroup v2, e.g. a systemd unit
or a container) are sampled: private memory from smaps_rollup, CPU, socket slab and
sockstat. It reports the server's user bytes per connection (the slope of a fit over
the steps, with r²), kernel bytes per connection, the step and error at which the
server failed, and doctor's extrapolation: how many connections that server holds on
this host, bound by what. Only loopback targets (127.0.0.0/8) are accepted: both ends
run here. Exit status 0 when every step held, 1 when the server failed at a step.

Options:
  --connections N    connections to establish and hold (default 100k; --target: 10k)
  --hold D           how long to hold them before verifying (default 30s; --target:
                     each step, after its liveness round, default 1s)
  --target ADDR:PORT[,…]  the server to measure, on loopback (127.0.0.0/8 only)
  --server-pid PID   the server's process; its descendants are sampled too
  --server-cgroup PATH  or its cgroup (absolute, or under /sys/fs/cgroup)
  --steps K          ramp in K equal steps (default 5, at least 2)
  --protocol P, --path, --host, --header, --subprotocol, --client-id-prefix,
  --username, --password, --keepalive, --rate, --holder, --connect-timeout
                     --target only: what each connection speaks, as in connlab load
  --worker-runtime auto|c|node
                     worker processes in C, no V8 (~1 MB each), or in Node (~11 MB
                     each); auto: c when built (the native holder)
  --report FILE      the self-contained HTML report (default bench-report.html)
  --no-report        do not write the HTML report
  --metrics [H:]P    Prometheus text at http://H:P/metrics while it runs, serve and
                     load labelled role="server" / role="load" (host 127.0.0.1)
  --dashboard [H:]P  a live page at http://H:P/, the report's charts updated every
                     second by server-sent events (host 127.0.0.1; works offline)
  --json             print the result as JSON (schema connlab.bench/1)
  --root DIR         read the limits from DIR/proc, DIR/etc (and raise fs.file-max
                     there) instead of this host: for tests with a copied tree
  -h, --help         this help

Examples:
  connlab bench                                   100,000 connections, 30 s hold
  connlab bench --connections 1m --hold 60s       the million, both ends here
  connlab bench --connections 100k --hold 5s --json > result.json
  connlab bench --target 127.0.0.1:8080 --protocol http --server-pid $(pgrep -o nginx) \\
      --connections 60k --steps 6

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
  const reportPath = values['no-report'] ? undefined : resolve(values.report ?? 'bench-report.html');
  if (values.target !== undefined) return runTargetBench(values, argv, io, reportPath);
  const stray = Object.keys(TARGET_FLAGS).find((flag) => values[flag as keyof typeof TARGET_FLAGS] !== undefined);
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
    return await runBench(argv, io, { connections, holdMs, reportPath, json: values.json === true, host, plan, metrics: values.metrics, dashboard: values.dashboard, workerRuntime });
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
}

async function runBench(argv: string[], io: Io, { connections, holdMs, reportPath, json, host, plan, workerRuntime, ...flags }: BenchCommand): Promise<number> {
  io.stderr.write(`bench: ${formatCount(connections)} connections over ${plan.serverWorkers} serve + ${plan.loadWorkers} load workers; hold ${holdMs / 1000}s\n`);
  const status = new StatusLine(io.stderr);
  const metrics = await startCommandMetrics(flags.metrics);
  const dashboard = await startCommandDashboard(flags.dashboard, 'connlab bench').catch((error: unknown) => { metrics?.close(); throw error; });
  if (metrics) io.stderr.write(`metrics at ${metrics.url}\n`);
  if (dashboard) io.stderr.write(`dashboard at ${dashboard.url}\n`);
  dashboard?.setLimits(benchLimits(plan));
  const bench = startBench({
    onPool: (pool, role) => {
      metrics?.metrics.addPool(pool, { role });
      dashboard?.addPool(pool, { role }, role === 'load' ? connections : null);
    },
    onSample: (point, startedAtMs) => dashboard?.pushPoint(point, startedAtMs),
    connections,
    holdMs,
    host,
    workerRuntime,
    kernelPoolSize: readHostFacts().kernelPoolSize,
    port: await freeLoopbackPort(),
    command: ['connlab', 'bench', ...argv].join(' '),
    onProgress: (p) => status.update(`${p.phase.padEnd(9)} ${progressBar(p.established, p.target)} ${formatCount(p.established)} · ${formatCount(p.connectsPerSecond)}/s · ${p.seconds.toFixed(0)}s`),
    // A log (not a terminal) gets one line per phase instead of the status line.
    onPhase: (phase) => {
      if (!io.stderr.isTTY) io.stderr.write(`bench: ${phase}\n`);
    },
  });
  const stop = watchForStop(undefined, () => bench.destroy());
  void stop.stopped.then((reason) => {
    if (reason !== 'duration') bench.stop(reason);
  });
  try {
    const result = await bench.done;
    status.done();
    if (reportPath) writeFileSync(reportPath, renderBenchReport(result));
    io.stdout.write(json ? `${JSON.stringify(result, null, 2)}\n` : renderBenchText(result, reportPath));
    return result.outcome === 'completed' ? 0 : 130;
  } finally {
    stop.dispose();
    metrics?.close();
    await dashboard?.close();
  }
}
