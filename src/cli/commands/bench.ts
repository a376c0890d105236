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
import { oneOf, parseCommandArgs } from '../args.ts';
import { readHostFacts } from '../../limits/host-facts.ts';
import type { Io } from '../io.ts';
import { renderBenchText } from '../render/bench-text.ts';
import { renderDoctorText } from '../render/doctor-text.ts';
import { progressBar, StatusLine } from '../render/status-line.ts';
import { watchForStop } from '../stop.ts';
import { freeLoopbackPort } from '../../tuple/free-port.ts';

export const summary = 'the million-connection experiment on this host: ramp, hold, verify, broadcast, report';

export const help = `Usage: connlab bench [options]

Runs the last article's experiment on this host and measures what it only described:
connlab serve and connlab load on loopback, sized by doctor's model (processes on each
side, source addresses), ramp to N, hold, verify every connection with a ping, broadcast
one message to all of them, and report kernel and user memory per connection. If the
host cannot reach N, it says which limit stops it and how to lift it, and exits 2
without starting.

Options:
  --connections N    connections to establish and hold (default 100k)
  --hold D           how long to hold them before verifying (default 30s)
  --worker-runtime auto|c|node
                     worker processes in C, no V8 (~1 MB each), or in Node (~11 MB
                     each); auto: c when built (the native holder)
  --report FILE      the self-contained HTML report (default bench-report.html)
  --no-report        do not write the HTML report
  --json             print the result as JSON (schema connlab.bench/1)
  -h, --help         this help

Examples:
  connlab bench                                   100,000 connections, 30 s hold
  connlab bench --connections 1m --hold 60s       the million, both ends here
  connlab bench --connections 100k --hold 5s --json > result.json

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
  const connections = values.connections === undefined ? 100_000 : parseCount(values.connections, '--connections', { min: 1 });
  const holdMs = values.hold === undefined ? 30_000 : parseDurationMs(values.hold, '--hold');
  const workerRuntime = values['worker-runtime'] === undefined ? 'auto' : oneOf('--worker-runtime', values['worker-runtime'], ['auto', 'c', 'node'] as const);
  const reportPath = values['no-report'] ? undefined : resolve(values.report ?? 'bench-report.html');
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
    io.stdout.write(values.json ? `${JSON.stringify(result, null, 2)}\n` : renderBenchText(result, reportPath));
    return result.outcome === 'completed' ? 0 : 130;
  } finally {
    stop.dispose();
  }
}
