// Builds and runs the kernel-floor program (floor.c beside this file): N loopback
// connections over P process pairs, one broadcast frame each, the latency the kernel alone
// needs. Built with the system's cc into build/floor/ on first use (or when floor.c is
// newer); not part of the addon and not shipped.

import { execFile } from 'node:child_process';
import { mkdirSync, statSync } from 'node:fs';
import { createServer } from 'node:net';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

const run = promisify(execFile);
const SOURCE = fileURLToPath(new URL('./floor.c', import.meta.url));
const OUT_DIR = fileURLToPath(new URL('../../build/floor/', import.meta.url));
export const FLOOR_BINARY = `${OUT_DIR}floor`;

export interface FloorResult {
  schema: 'connlab.floor/1';
  connections: number;
  processes_per_side: number;
  connect_seconds: number;
  /** Arrival minus the server process's one stamp before its write loop: connlab's measure. */
  broadcast: { p50_ms: number; p99_ms: number; max_ms: number; delivered: number; total_ms: number };
  /** Arrival minus that connection's own write: the kernel's delivery alone. */
  delivery: { p50_ms: number; p99_ms: number; max_ms: number };
}

export interface FloorOptions {
  connections: number;
  processesPerSide: number;
  /** The first of processesPerSide consecutive listening ports on 127.0.0.1. */
  port: number;
  timeoutSeconds?: number;
}

const mtime = (path: string): number => {
  try {
    return statSync(path).mtimeMs;
  } catch {
    return -1;
  }
};

/** Compiles floor.c unless the binary is newer than it. */
export async function buildFloor(): Promise<string> {
  if (mtime(FLOOR_BINARY) > mtime(SOURCE)) return FLOOR_BINARY;
  mkdirSync(OUT_DIR, { recursive: true });
  await run('cc', ['-O2', '-Wall', '-Wextra', '-std=c11', '-o', FLOOR_BINARY, SOURCE]);
  return FLOOR_BINARY;
}

/** Runs the floor once; rejects with the program's own error (it has killed its children). */
export async function runFloor(options: FloorOptions): Promise<FloorResult> {
  const binary = await buildFloor();
  const timeoutSeconds = options.timeoutSeconds ?? 120;
  const args = [options.connections, options.processesPerSide, options.port, timeoutSeconds].map(String);
  try {
    // The program bounds itself; the extra 10 s only guards against it hanging in exit.
    const { stdout } = await run(binary, args, { timeout: (timeoutSeconds + 10) * 1000, killSignal: 'SIGKILL' });
    return JSON.parse(stdout) as FloorResult;
  } catch (error) {
    const out = (error as { stdout?: string; stderr?: string });
    const detail = out.stdout?.trim() || out.stderr?.trim() || String(error);
    throw new Error(`floor ${args.join(' ')} failed: ${detail}`, { cause: error });
  }
}

/** The first port from `from` on 127.0.0.1 with `count` free ports in a row (checked by listening). */
export async function freePortRun(count: number, from: number, to = 65535): Promise<number> {
  let start = from;
  for (let port = from; port <= to; port++) {
    if (!(await canListen(port))) start = port + 1;
    else if (port - start + 1 === count) return start;
  }
  throw new Error(`no ${count} consecutive free ports in ${from}-${to}`);
}

function canListen(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once('error', () => resolve(false));
    server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
  });
}

/** What floor-bench compares: connlab's ramp seconds and broadcast latency (bench --json). */
export interface BenchFigures {
  ramp: { seconds: number };
  broadcast: { p50_ms: number; p99_ms: number; max_ms: number };
}

export interface FloorComparison {
  /** The round with the median broadcast p99: the floor the broadcast ratios use. */
  floor: FloorResult;
  /** The median of the rounds' connect seconds: what ratio.connect divides by. */
  floor_connect_seconds: number;
  /** connlab / floor, 2 decimals; null where the floor's figure is 0. */
  ratio: { connect: number | null; p50: number | null; p99: number | null; max: number | null };
}

const median = <T>(items: readonly T[], key: (item: T) => number): T => [...items].sort((a, b) => key(a) - key(b))[Math.floor((items.length - 1) / 2)] as T;

/** connlab beside the floor rounds of the same run (at least one round). */
export function compareWithFloor(bench: BenchFigures, floors: readonly FloorResult[]): FloorComparison {
  if (floors.length === 0) throw new Error('compareWithFloor needs at least one floor round');
  const floor = median(floors, (f) => f.broadcast.p99_ms);
  const connectSeconds = median(floors, (f) => f.connect_seconds).connect_seconds;
  const ratio = (a: number, b: number): number | null => (b > 0 ? Math.round((a / b) * 100) / 100 : null);
  return {
    floor,
    floor_connect_seconds: connectSeconds,
    ratio: {
      connect: ratio(bench.ramp.seconds, connectSeconds),
      p50: ratio(bench.broadcast.p50_ms, floor.broadcast.p50_ms),
      p99: ratio(bench.broadcast.p99_ms, floor.broadcast.p99_ms),
      max: ratio(bench.broadcast.max_ms, floor.broadcast.max_ms),
    },
  };
}
