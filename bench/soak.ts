// The soak benchmark (issue 8): serve and load on loopback hold N connections while a
// few percent of them are reset and reconnected every second, for minutes, sampled on a
// fixed cadence. Flat lines for descriptors, private memory and kernel socket memory are
// the pass; the slopes go in the README.
//
//   node bench/soak.ts [--connections 50k] [--churn 3] [--duration 10m] [--every 10s]
//                      [--warmup 60s] [--port 19700] [--holder auto|native|node]
//                      [--worker-runtime auto|c|node]
//
// Writes bench/results/soak-<size>-<ISO date-time>.json and prints one line a sample.
// Loopback only; Ctrl-C ends the soak early and still writes what was sampled.

import { mkdirSync, writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { readHostFacts } from '../src/limits/host-facts.ts';
import { runSoak, type SoakSample } from '../src/soak/run-soak.ts';
import { formatBytes, formatCount, parseCount, parseDurationMs } from '../src/units.ts';

const { values } = parseArgs({
  options: {
    connections: { type: 'string', default: '50k' },
    churn: { type: 'string', default: '3' },
    duration: { type: 'string', default: '10m' },
    every: { type: 'string', default: '10s' },
    warmup: { type: 'string', default: '60s' },
    port: { type: 'string', default: '19700' },
    holder: { type: 'string', default: 'auto' },
    'worker-runtime': { type: 'string', default: 'auto' },
  },
});

const connections = parseCount(values.connections, '--connections', { min: 1 });
const churn = Number(values.churn);
if (!(churn > 0 && churn <= 100)) throw new Error(`--churn ${values.churn}: expected a percent per second, 0 < p <= 100`);
const controller = new AbortController();
process.once('SIGINT', () => controller.abort());
process.once('SIGTERM', () => controller.abort());

const facts = readHostFacts();
const line = (s: SoakSample): string =>
  `${s.seconds.toFixed(0).padStart(5)} s  held ${formatCount(s.established.serve)}/${formatCount(s.established.load)}` +
  `  fds ${formatCount(s.descriptors.serve + s.descriptors.load)}` +
  `  private ${formatBytes(s.private_bytes.serve + s.private_bytes.load)}` +
  `  own buffers ${formatBytes(s.kernel.own_buffer_bytes)}  tcp mem ${formatBytes(s.kernel.tcp_mem_bytes)}  slab ${formatBytes(s.kernel.socket_slab_bytes)}` +
  `  churned ${formatCount(s.churned)}  errors ${s.reconnect_errors}\n`;

const result = await runSoak({
  connections,
  churnPercentPerSec: churn,
  durationMs: parseDurationMs(values.duration, '--duration'),
  sampleIntervalMs: parseDurationMs(values.every, '--every'),
  warmupMs: parseDurationMs(values.warmup, '--warmup'),
  host: '127.0.0.1',
  port: Number(values.port),
  fdSoftLimit: facts.fdSoftLimit,
  kernelPoolSize: facts.kernelPoolSize,
  holder: values.holder as 'auto' | 'native' | 'node',
  workerRuntime: values['worker-runtime'] as 'auto' | 'c' | 'node',
  signal: controller.signal,
  onSample: (s) => process.stdout.write(line(s)),
});

const dir = new URL('./results/', import.meta.url).pathname;
mkdirSync(dir, { recursive: true });
const stamp = new Date().toISOString().replace(/[:.]/g, '-').slice(0, 19);
const file = `${dir}soak-${values.connections}-${stamp}.json`;
writeFileSync(file, `${JSON.stringify(result, null, 2)}\n`);
for (const [name, d] of Object.entries(result.drift)) {
  process.stdout.write(`${name.padEnd(18)} slope ${d.slope_per_minute}/min (r² ${d.r2}), mean ${formatCount(d.mean)}, change over the fit ${d.change_percent}%\n`);
}
process.stdout.write(`churned ${formatCount(result.churned)} over ${result.soak_seconds} s with ${result.worker_runtime} workers, ${result.reconnect_errors} reconnect errors; wrote ${file}\n`);
