// `connlab bench`: doctor's precheck → serve + load on loopback → progress → table,
// JSON and the HTML report. Ctrl-C or SIGTERM stops early and still writes the result.

import { writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { renderBenchReport } from '../../bench/report-html.ts';
import { startBench } from '../../bench/run-bench.ts';
import { planBench } from '../../bench/plan-bench.ts';
import { ConnlabError } from '../../errors.ts';
import { createHostReader } from '../../limits/host-reader.ts';
import { readHostSnapshot } from '../../limits/snapshot.ts';
import { formatCount, parseCount, parseDurationMs } from '../../units.ts';
import { parseCommandArgs } from '../args.ts';
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
without starting.

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
  --report FILE      the self-contained HTML report (default bench-report.html)
  --no-report        do not write the HTML report
  --json             print the result as JSON (schema connlab.bench/1)
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
  report: { type: 'string' },
  'no-report': { type: 'boolean' },
  json: { type: 'boolean' },
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
  const host = readHostSnapshot(createHostReader('/'), { user: io.user });
  const plan = planBench(host, connections);
  if (!plan.fits) {
    io.stderr.write(renderDoctorText(plan.report));
    throw new ConnlabError('CONNLAB_ERR_IMPOSSIBLE_TARGET',
      `this host cannot hold ${formatCount(connections)} connections with both ends here: ${plan.binding?.name} allows ${formatCount(plan.binding?.allows ?? 0)} (${plan.binding?.error})`,
      { hint: 'apply the advice above, or lower --connections' });
  }
  io.stderr.write(`bench: ${formatCount(connections)} connections over ${plan.serverWorkers} serve + ${plan.loadWorkers} load workers; hold ${holdMs / 1000}s\n`);
  const status = new StatusLine(io.stderr);
  const bench = startBench({
    connections,
    holdMs,
    host,
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
    io.stdout.write(values.json ? `${JSON.stringify(result, null, 2)}\n` : renderBenchText(result, reportPath));
    return result.outcome === 'completed' ? 0 : 130;
  } finally {
    stop.dispose();
  }
}
