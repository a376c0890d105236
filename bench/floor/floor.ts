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
