// What the kernel itself says, for demos that show a count rather than claim it: the
// socket table through ss (netlink, fast at 100k sockets), a process's descriptors,
// prlimit on a running process, and server ports outside every ephemeral range.

import { execFile } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { createServer } from 'node:net';
import { promisify } from 'node:util';

const run = promisify(execFile);

/** Rows of `ss -H <args>`, e.g. ['-tn', 'state', 'established', 'sport', '=', ':9000']. */
export async function ssRows(args: readonly string[]): Promise<string[]> {
  const { stdout } = await run('ss', ['-H', ...args], { maxBuffer: 512 * 1024 * 1024 });
  return stdout.split('\n').filter((line) => line.trim() !== '');
}

/** The fields of one ss row: netid/state columns vary, the last two are local and peer. */
export function ssAddresses(row: string): { local: string; peer: string } {
  const fields = row.trim().split(/\s+/);
  return { local: fields.at(-2) ?? '', peer: fields.at(-1) ?? '' };
}

/** `127.0.0.2:10000` → ['127.0.0.2', 10000]. */
export function splitAddress(address: string): [string, number] {
  const colon = address.lastIndexOf(':');
  return [address.slice(0, colon), Number(address.slice(colon + 1))];
}

/** Sets a running process's RLIMIT_NOFILE with util-linux prlimit. */
export async function prlimitNofile(pid: number, soft: number, hard: number): Promise<void> {
  await run('prlimit', ['--pid', String(pid), `--nofile=${soft}:${hard}`]);
}

/** Open descriptors of a process (a small table: only for processes holding hundreds). */
export function openDescriptors(pid: number): number | undefined {
  try {
    return readdirSync(`/proc/${pid}/fd`).length;
  } catch {
    return undefined;
  }
}

function isFree(port: number, host: string): Promise<boolean> {
  const server = createServer();
  return new Promise((resolve) => {
    server.once('error', () => resolve(false));
    server.listen({ port, host, exclusive: true }, () => server.close(() => resolve(true)));
  });
}

/**
 * `count` consecutive ports free on `host`, from 20000-30999: below the default
 * ephemeral range, so a demo's listeners never take ports from the pool it measures.
 */
export async function freeServerPorts(count: number, host = '127.0.0.1'): Promise<number[]> {
  for (let attempt = 0; attempt < 50; attempt++) {
    const base = 20_000 + Math.floor(Math.random() * (11_000 - count));
    const probes = await Promise.all(Array.from({ length: count }, (_, i) => isFree(base + i, host)));
    if (probes.every(Boolean)) return Array.from({ length: count }, (_, i) => base + i);
  }
  throw new Error(`no ${count} consecutive free ports in 20000-30999`);
}

/** Local ports in [first, last] that any TCP socket uses now (bound, listening, or in TIME_WAIT). */
export async function tcpPortsInUse(first: number, last: number): Promise<number> {
  const rows = await ssRows(['-tan', 'sport', '>=', `:${first}`, 'and', 'sport', '<=', `:${last}`]);
  return new Set(rows.map((row) => splitAddress(ssAddresses(row).local)[1])).size;
}

/**
 * Loopback sources the demos connect from: a block of their own (127.0.77.0/24), so a
 * bench or test running at the same time from 127.0.0.2 on never shares a source
 * address and port with them (a planned bind() would then fail with EADDRINUSE).
 */
export const DEMO_SOURCE_BLOCK = 0x7f004d00;
export const demoSource = (n: number): number => DEMO_SOURCE_BLOCK + n;
