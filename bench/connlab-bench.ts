// Runs `connlab bench` as a user would and keeps its result: JSON and the HTML report
// under bench/results/, named by size and date. `npm run bench` (100k, 30 s hold) and
// `npm run bench:million` (1m, 60 s hold) call this with their flags.
//
//   node bench/connlab-bench.ts --connections 100k --hold 30s

import { mkdirSync, writeFileSync } from 'node:fs';
import { main } from '../src/cli/main.ts';
import { processIo } from '../src/cli/io.ts';

const args = process.argv.slice(2);
const size = args[args.indexOf('--connections') + 1] ?? '100k';
const stamp = new Date().toISOString().replace(/[:.]/g, '-').slice(0, 19);
const dir = new URL('./results/', import.meta.url).pathname;
mkdirSync(dir, { recursive: true });
const base = `${dir}bench-${size}-${stamp}`;

let json = '';
const io = { ...processIo(), stdout: { write: (text: string) => (json += text), isTTY: false } };
const status = await main(['bench', ...args, '--json', '--report', `${base}.html`], io);
if (json) {
  writeFileSync(`${base}.json`, json);
  const r = JSON.parse(json);
  process.stdout.write(
    `${r.connections.established}/${r.connections.target} established, ${r.connections.verified} verified; ` +
      `ramp ${r.ramp.seconds}s (${r.ramp.per_second}/s); kernel ${r.memory.kernel_bytes_per_connection} B, ` +
      `serve ${r.memory.server_user_bytes_per_connection} B, load ${r.memory.load_user_bytes_per_connection} B per connection; ` +
      `broadcast p99 ${r.broadcast.p99_ms} ms\nwrote ${base}.json and .html\n`,
  );
}
process.exitCode = status;
