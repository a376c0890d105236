// `connlab bench --target`: flags → the experiment against the user's server → step lines
// on stderr → table or JSON, and the HTML report. Exit 0 when every step held, 1 when the
// server failed at a step (the line says where and why), 130 when stopped.

import { writeFileSync } from 'node:fs';
import { renderBenchReport } from '../../bench/report-html.ts';
import { startTargetBench } from '../../bench/target/run-target.ts';
import type { ServerSource } from '../../bench/target/server-processes.ts';
import { ConnlabError } from '../../errors.ts';
import { readHostFacts } from '../../limits/host-facts.ts';
import { createHostReader } from '../../limits/host-reader.ts';
import { readHostSnapshot } from '../../limits/snapshot.ts';
import { parseTargetList } from '../../target/parse-target.ts';
import { RESOLVE_FLAGS, targetsFromFlags, urlSettings } from '../target-flags.ts';
import { formatCount, parseCount, parseDurationMs } from '../../units.ts';
import { oneOf } from '../args.ts';
import type { Io } from '../io.ts';
import { renderTargetText } from '../render/bench-target-text.ts';
import { watchForStop } from '../stop.ts';
import { protocolFromFlags, PROTOCOL_FLAGS } from './load.ts';

/** bench's flags that only mean something with --target. */
export const TARGET_FLAGS = {
  target: { type: 'string' },
  'server-pid': { type: 'string' },
  'server-cgroup': { type: 'string' },
  steps: { type: 'string' },
  rate: { type: 'string' },
  holder: { type: 'string' },
  'connect-timeout': { type: 'string' },
  ...PROTOCOL_FLAGS,
  ...RESOLVE_FLAGS,
} as const;

type Str = string | undefined;
type FlagValue<F> = F extends { type: 'boolean' } ? boolean : F extends { multiple: true } ? string[] : string;
export type TargetValues = { [K in keyof typeof TARGET_FLAGS]?: FlagValue<(typeof TARGET_FLAGS)[K]> }
  & { connections?: Str; hold?: Str; json?: boolean };

function serverSource(values: TargetValues): ServerSource {
  const pid = values['server-pid'];
  const cgroup = values['server-cgroup'];
  if ((pid === undefined) === (cgroup === undefined)) {
    throw new ConnlabError('CONNLAB_ERR_USAGE', 'bench --target needs exactly one of --server-pid PID and --server-cgroup PATH', {
      hint: 'say which processes are the server: --server-pid $(pgrep -o nginx), or --server-cgroup system.slice/nginx.service',
    });
  }
  return pid !== undefined ? { pid: parseCount(pid, '--server-pid', { min: 1 }) } : { cgroup: cgroup as string };
}

export async function runTargetBench(values: TargetValues, argv: string[], io: Io, reportPath: string | undefined): Promise<number> {
  const server = serverSource(values);
  const steps = values.steps === undefined ? 5 : parseCount(values.steps, '--steps', { min: 2 });
  const facts = readHostFacts();
  // A URL target says the protocol, path and Host as it does for load (urlSettings).
  const parsed = parseTargetList([values.target ?? '']);
  const protocol = protocolFromFlags(values, urlSettings(parsed, values));
  const targets = await targetsFromFlags(parsed, values);
  const bench = startTargetBench({
    destinations: targets.destinations,
    server,
    connections: values.connections === undefined ? 10_000 : parseCount(values.connections, '--connections', { min: 1 }),
    steps,
    stepHoldMs: values.hold === undefined ? 1_000 : parseDurationMs(values.hold, '--hold'),
    protocol,
    host: readHostSnapshot(createHostReader('/'), { user: io.user }),
    kernelPoolSize: facts.kernelPoolSize,
    fdSoftLimit: facts.fdSoftLimit,
    ratePerSec: values.rate === undefined ? null : parseCount(values.rate, '--rate', { min: 1 }),
    holder: values.holder === undefined ? 'auto' : oneOf('--holder', values.holder, ['auto', 'native', 'node'] as const),
    connectTimeoutMs: values['connect-timeout'] === undefined ? undefined : parseDurationMs(values['connect-timeout'], '--connect-timeout'),
    command: ['connlab', 'bench', ...argv].join(' '),
    onStep: (s) => io.stderr.write(`bench: step ${s.step}/${steps} ${s.ok ? 'held' : 'FAILED'}: ${formatCount(s.established)} of ${formatCount(s.target)}, verified ${formatCount(s.verified)}, server private dirty ${formatCount(s.server_private_dirty_bytes)} B\n`),
  });
  const stop = watchForStop(undefined, () => bench.destroy());
  void stop.stopped.then((reason) => {
    if (reason !== 'duration') bench.stop(reason);
  });
  try {
    const result = await bench.done;
    if (reportPath) writeFileSync(reportPath, renderBenchReport(result));
    io.stdout.write(values.json ? `${JSON.stringify(result, null, 2)}\n` : renderTargetText(result, reportPath));
    if (result.target?.failure) io.stderr.write(`bench: the server failed at ${result.target.failure.line}\n`);
    return result.outcome === 'completed' ? 0 : result.outcome === 'failed' ? 1 : 130;
  } finally {
    stop.dispose();
  }
}
