// The C worker beside the Node worker: `connlab bench` once per runtime in one run, both
// ends on this host, and the private bytes per connection per side of each, written to
// bench/results/worker-runtime-<date>.json. `npm run bench:runtime` runs 100k with a
// 10 s hold; flags after it go to both benches.
//
//   node bench/worker-runtime.ts --connections 100k --hold 10s

import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus, totalmem } from 'node:os';
import { main } from '../src/cli/main.ts';
import { processIo } from '../src/cli/io.ts';
import type { BenchResult } from '../src/bench/result.ts';

const RUNTIMES = ['c', 'node'] as const;

const loadAverage = (): number => Number(readFileSync('/proc/loadavg', 'utf8').split(' ')[0]);

async function benchOnce(runtime: string, args: string[]): Promise<{ result: BenchResult | undefined; status: number; load_average_before: number }> {
  const load_average_before = loadAverage();
  let json = '';
  const io = { ...processIo(), stdout: { write: (text: string) => (json += text), isTTY: false } };
  const status = await main(['bench', ...args, '--worker-runtime', runtime, '--json', '--no-report'], io);
  return { result: json ? (JSON.parse(json) as BenchResult) : undefined, status, load_average_before };
}

/** The figures compared, per runtime. */
function summarize(result: BenchResult | undefined) {
  if (!result) return null;
  return {
    established: result.connections.established,
    verified: result.connections.verified,
    processes: result.processes,
    server_user_bytes_per_connection: result.memory.server_user_bytes_per_connection,
    load_user_bytes_per_connection: result.memory.load_user_bytes_per_connection,
    server_private_bytes: result.memory.server_private_bytes,
    load_private_bytes: result.memory.load_private_bytes,
    kernel_bytes_per_connection: result.memory.kernel_bytes_per_connection,
    ramp: { seconds: result.ramp.seconds, per_second: result.ramp.per_second },
    broadcast: { delivered: result.broadcast.delivered, p99_ms: result.broadcast.p99_ms },
    errors: result.errors,
    outcome: result.outcome,
  };
}

const args = process.argv.slice(2).length > 0 ? process.argv.slice(2) : ['--connections', '100k', '--hold', '10s'];
const runs: Record<string, unknown> = {};
let status = 0;
for (const runtime of RUNTIMES) {
  const run = await benchOnce(runtime, args);
  runs[runtime] = { load_average_before: run.load_average_before, ...summarize(run.result) };
  status ||= run.status;
  const s = summarize(run.result);
  process.stdout.write(`${runtime}: ${s ? `${s.verified}/${s.established} verified; serve ${s.server_user_bytes_per_connection} B, load ${s.load_user_bytes_per_connection} B per connection; ${s.processes.server}+${s.processes.load} workers` : `no result (exit ${run.status})`}\n`);
}
const stamp = new Date().toISOString().replace(/[:.]/g, '-').slice(0, 19);
const dir = new URL('./results/', import.meta.url).pathname;
mkdirSync(dir, { recursive: true });
const file = `${dir}worker-runtime-${stamp}.json`;
const machine = { cpus: cpus().length, memory_bytes: totalmem(), node: process.version, kernel: readFileSync('/proc/sys/kernel/osrelease', 'utf8').trim() };
writeFileSync(file, `${JSON.stringify({ schema: 'connlab.worker-runtime/1', command: ['node', 'bench/worker-runtime.ts', ...args].join(' '), machine, runs }, null, 2)}\n`);
process.stdout.write(`wrote ${file}\n`);
process.exitCode = status;
