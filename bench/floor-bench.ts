// connlab's broadcast beside the kernel's floor, at the same N in one run: `connlab bench`
// (serve + load on loopback, ramp, short hold, verify, broadcast) and then bench/floor/
// (the same number of connections over as many process pairs as bench used load workers,
// one frame each, nothing but syscalls), --rounds times (default 3: one run of either
// swings by 2x when anything else runs on the 2 cores), the median round by p99 taken.
// The first floor round runs before bench and the rest after it: this VM's speed drifts
// within minutes (the same 1M floor connected in 40 s and, an hour later, in 96 s), so
// rounds on both sides of bench keep a drift from landing on one side of the ratio.
// Prints both and the ratios connlab / floor: the broadcast's (p50, p99, max) and the
// ramp's (`ratio.connect`: bench's ramp seconds over the floor's connect seconds, the
// median of the rounds: the same N connected by as many process pairs doing nothing
// else); writes the JSON to
// bench/results/floor-<N>-<date>.json, every floor round included. Beside each phase it
// records the VM's memory tax (floor/vm-memory.ts): what first-touching fresh memory cost
// just before, and how much freed memory the guest handed back to the host during it.
// --settle waits before each phase until the guest has stopped handing memory back, so
// every phase starts with cold memory instead of whatever the one before left warm.
//
//   npm run bench:floor -- --connections 100k           (default 100k, hold 5s)
//   sudo npm run bench:floor -- --connections 2m --hold 10s
//   npm run bench:floor -- --connections 1m --settle      (every phase from cold memory)
//
// The floor needs as many open files as the bench: when fs.file-max binds, this script
// (as root) raises it once for both, as bench would, and restores it at the end, also
// after Ctrl-C or a failure.

import { mkdirSync, writeFileSync } from 'node:fs';
import { hostname, loadavg, userInfo } from 'node:os';
import { parseArgs } from 'node:util';
import { planFileMaxRaise } from '../src/bench/file-max.ts';
import { planBench } from '../src/bench/plan-bench.ts';
import { main } from '../src/cli/main.ts';
import { processIo } from '../src/cli/io.ts';
import { SettingsGuard } from '../src/demo/settings.ts';
import { createHostReader } from '../src/limits/host-reader.ts';
import { readHostSnapshot } from '../src/limits/snapshot.ts';
import { parseCount } from '../src/units.ts';
import { compareWithFloor, freePortRun, runFloor, type FloorResult } from './floor/floor.ts';
import { reportedKib, withMemoryTax, type MemoryTax } from './floor/vm-memory.ts';

const { values } = parseArgs({
  options: { connections: { type: 'string', default: '100k' }, hold: { type: 'string', default: '5s' }, rounds: { type: 'string', default: '3' }, settle: { type: 'boolean', default: false } },
});
const rounds = Math.max(1, Math.min(9, Number.parseInt(values.rounds, 10) || 3));
const size = values.connections;
const connections = parseCount(size, '--connections', { min: 1 });
// The box may be shared: the 1/5/15-minute load before and after says how quiet it was.
const loadBefore = loadavg();
const stamp = new Date().toISOString().replace(/[:.]/g, '-').slice(0, 19);
const dir = new URL('./results/', import.meta.url).pathname;
mkdirSync(dir, { recursive: true });

const guard = new SettingsGuard({
  signals: false, // bench's own Ctrl-C handling runs first; ours is installed after it
  onChange: (name, from, to) => process.stderr.write(`bench:floor: ${name} ${from} -> ${to} for the bench and the floor; restored afterwards\n`),
  onRestore: (r) => process.stderr.write(`bench:floor: ${r.name} ${r.restored ? `restored to ${r.after}` : `NOT restored: reads ${r.after}, was ${r.from}`}\n`),
});
const restore = (): void => void guard.restore();
process.once('exit', restore);
const host = readHostSnapshot(createHostReader('/'), { user: userInfo().username });
const raise = planFileMaxRaise(host, connections);
if (raise?.fitsAfter && process.getuid?.() === 0) guard.set('fs.file-max', String(raise.to));
// As many process pairs as bench will use load workers (the same plan bench makes).
const floorProcesses = Math.max(1, planBench(host, connections).loadWorkers);
// Floor timeout: the same window bench gives its round, in seconds (roundTimeoutMs).
const timeoutSeconds = Math.max(60, Math.ceil((connections * 0.12) / 1000) + 60);
/** One floor round and the VM's memory state around it. */
interface FloorRound {
  floor: FloorResult;
  memory: MemoryTax;
}
const floorRound = async (): Promise<FloorRound> => {
  const port = await freePortRun(floorProcesses, 47000);
  const { value: floor, memory } = await withMemoryTax(() => runFloor({ connections, processesPerSide: floorProcesses, port, timeoutSeconds }), values.settle);
  return { floor, memory };
};
// While a floor runs, a Ctrl-C ends it (its processes die with it) and restores file-max;
// while bench runs, bench's own handling does.
const onSignal = (signal: NodeJS.Signals): void => {
  guard.restore();
  process.kill(process.pid, signal);
};
const floorSignals = (on: boolean): void => {
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.off(signal, onSignal);
    if (on) process.once(signal, onSignal);
  }
};
floorSignals(true);
const floorRounds: FloorRound[] = [await floorRound()];
floorSignals(false);

let json = '';
const io = { ...processIo(), stdout: { write: (text: string) => (json += text), isTTY: false } };
const { value: status, memory: benchTax } = await withMemoryTax(() => main(['bench', '--connections', size, '--hold', values.hold, '--json', '--no-report'], io), values.settle);
floorSignals(true);
if (!json) {
  process.exitCode = status || 1;
} else {
  const bench = JSON.parse(json);
  if (bench.processes.load !== floorProcesses) process.stderr.write(`bench:floor: bench used ${bench.processes.load} load workers, the floor ${floorProcesses} process pairs\n`);
  while (floorRounds.length < rounds) floorRounds.push(await floorRound());
  const floors = floorRounds.map((r) => r.floor);
  const { floor, floor_connect_seconds: floorConnectSeconds, ratio } = compareWithFloor(bench, floors);
  const result = {
    schema: 'connlab.floor-bench/1',
    connections,
    machine: { hostname: hostname(), ...bench.machine, load_average_before: loadBefore, load_average_after: loadavg(), page_reporting: reportedKib() !== null },
    connlab: {
      outcome: bench.outcome, established: bench.connections.established, verified: bench.connections.verified, processes: bench.processes, ramp: bench.ramp, broadcast: bench.broadcast,
      /** The VM's memory tax around the bench (floor/vm-memory.ts). */
      memory: benchTax,
    },
    floor,
    /** In run order: the first before bench, the rest after it. */
    floor_rounds: floorRounds.map(({ floor: f, memory }, i) => ({ when: i === 0 ? 'before' : 'after', connect_seconds: f.connect_seconds, broadcast: f.broadcast, delivery: f.delivery, memory })),
    /** The floor's connect time that ratio.connect divides by: the median round's. */
    floor_connect_seconds: floorConnectSeconds,
    ratio,
    started_at: bench.started_at,
    command: `node bench/floor-bench.ts --connections ${size} --hold ${values.hold} --rounds ${rounds}${values.settle ? ' --settle' : ''}`,
  };
  const path = `${dir}floor-${size}-${stamp}.json`;
  writeFileSync(path, `${JSON.stringify(result, null, 2)}\n`);
  const b = bench.broadcast;
  const f = floor.broadcast;
  process.stdout.write(
    `connlab broadcast: ${b.delivered} delivered, p50 ${b.p50_ms} ms, p99 ${b.p99_ms} ms, max ${b.max_ms} ms (${bench.processes.server} serve + ${bench.processes.load} load workers)\n` +
      `kernel floor (median p99 of ${rounds}: ${floors.map((x) => x.broadcast.p99_ms).join(', ')} ms):\n` +
      `                   ${f.delivered} delivered, p50 ${f.p50_ms} ms, p99 ${f.p99_ms} ms, max ${f.max_ms} ms (${floor.processes_per_side} + ${floor.processes_per_side} processes; ` +
      `write to read alone p50 ${floor.delivery.p50_ms} ms, p99 ${floor.delivery.p99_ms} ms)\n` +
      `connlab ramp: ${bench.ramp.seconds} s; floor connect (median of ${rounds}: ${floors.map((x) => x.connect_seconds).join(', ')} s): ${floorConnectSeconds} s\n` +
      `memory first touch before each (µs a page): floor ${floorRounds.map((r) => r.memory.touch_us_per_page_before).join(', ')}; bench ${benchTax.touch_us_per_page_before}\n` +
      `ratio connlab / floor: connect ${result.ratio.connect}; broadcast p50 ${result.ratio.p50}, p99 ${result.ratio.p99}, max ${result.ratio.max}\nwrote ${path}\n`,
  );
  process.exitCode = status;
}
guard.restore();
floorSignals(false);
