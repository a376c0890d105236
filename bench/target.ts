// `bench --target` side by side, as a user would run it: a fresh nginx (4 workers) and a
// fresh connlab serve on loopback, each measured by `connlab bench --target` in its own
// child process, ramped in steps to the same N (or until the server fails). Writes
// bench/results/target-<date>.json (machine, load average, each command and its whole
// result) and the HTML reports next to it, and prints a markdown table for the README.
// Needs nginx (sh bench/setup.sh).
//
//   node bench/target.ts [--connections 100k] [--steps 10] [--hold 1s]      (npm run bench:target)

import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, totalmem } from 'node:os';
import { setTimeout as delay } from 'node:timers/promises';
import { parseArgs } from 'node:util';
import type { BenchResult } from '../src/bench/result.ts';
import { freeLoopbackPort } from '../src/tuple/free-port.ts';
import { resolveWorkerEntry } from '../src/engine/worker-entry.ts';
import { startNginx, type RealServer } from '../test/helpers/real-servers.ts';

const { values } = parseArgs({ options: { connections: { type: 'string', default: '100k' }, steps: { type: 'string', default: '10' }, hold: { type: 'string', default: '1s' } } });
const BIN = new URL('../bin/connlab.js', import.meta.url).pathname;
const stamp = new Date().toISOString().replace(/[:.]/g, '-').slice(0, 19);
const dir = new URL('./results/', import.meta.url).pathname;
mkdirSync(dir, { recursive: true });

interface Run { server: string; command: string; exit: number | null; result: BenchResult }

/** connlab serve as its own process tree, like a user's server: its PID is the supervisor's. */
async function startConnlabServe(port: number, connections: string): Promise<RealServer> {
  const child = spawn(process.execPath, [BIN, 'serve', '--listen', `127.0.0.1:${port}`, '--connections', connections], { stdio: ['ignore', 'ignore', 'pipe'] });
  let err = '';
  child.stderr?.on('data', (chunk: Buffer) => (err += chunk.toString()));
  while (!/^serving on/m.test(err)) {
    if (child.exitCode !== null) throw new Error(`connlab serve did not start: ${err}`);
    await delay(50);
  }
  const exited = once(child, 'exit');
  return { port, pids: [child.pid as number], stop: async () => void (child.kill('SIGTERM'), await exited) };
}

async function measure(name: string, server: RealServer, protocol: string): Promise<Run> {
  const args = ['bench', '--target', `127.0.0.1:${server.port}`, '--protocol', protocol, '--server-pid', String(server.pids[0]),
    '--connections', values.connections, '--steps', values.steps, '--hold', values.hold, '--json', '--report', `${dir}target-${name}-${stamp}.html`];
  process.stderr.write(`$ connlab ${args.join(' ')}\n`);
  const child = spawn(process.execPath, [BIN, ...args], { stdio: ['ignore', 'pipe', 'inherit'] });
  let out = '';
  child.stdout?.on('data', (chunk: Buffer) => (out += chunk.toString()));
  const [exit] = (await once(child, 'exit')) as [number | null];
  return { server: name, command: `connlab ${args.join(' ')}`, exit, result: JSON.parse(out) as BenchResult };
}

function row(run: Run): string {
  const t = run.result.target!;
  const failed = t.failure ? `step ${t.failure.step} (${t.failure.error?.errno ?? '?'}: ${t.failure.error?.cause ?? '?'})` : 'no';
  return `| ${run.server} | ${t.steps.filter((s) => s.ok).at(-1)?.established.toLocaleString('en-US') ?? 0} | ${t.fit.bytes_per_connection} B (r² ${t.fit.r2}) `
    + `| ${(t.fit.intercept_bytes / 2 ** 20).toFixed(1)} MiB / ${t.server.pids.length} | ${t.kernel_bytes_per_server_socket.toLocaleString('en-US')} B (r² ${t.kernel_fit.r2}) | ${failed} | ${t.extrapolation.line.replace(/;.*/, '')} |`;
}

// Type-stripped workers cost ~11.7 MB more each, which the serve fit's intercept would show.
const entry = resolveWorkerEntry();
if (entry.kind !== 'js') process.stderr.write(`warning: workers run TypeScript (${entry.reason}); run npm run build first\n`);
const before = loadavg()[0] ?? 0;
const runs: Run[] = [];
for (const [name, protocol, start] of [
  ['nginx', 'http', (port: number) => startNginx(port, 4)],
  ['connlab-serve', 'connlab', (port: number) => startConnlabServe(port, values.connections)],
] as const) {
  const server = await start(await freeLoopbackPort());
  try {
    runs.push(await measure(name, server, protocol));
  } finally {
    await server.stop();
  }
}
const file = `${dir}target-${stamp}.json`;
const machine = { cpus: cpus().length, memory_bytes: totalmem(), node: process.version, kernel: readFileSync('/proc/sys/kernel/osrelease', 'utf8').trim(), load_average_before: before, load_average_after: loadavg()[0] ?? 0, worker_entry: entry.kind };
writeFileSync(file, `${JSON.stringify({ machine, runs }, null, 2)}\n`);
process.stdout.write(`| server | held | user bytes/connection (fit) | fixed / processes | kernel bytes/socket | failed at | extrapolation |\n|---|---|---|---|---|---|---|\n${runs.map(row).join('\n')}\n\nwrote ${file}\n`);
