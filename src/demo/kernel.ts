// What the kernel itself says, for demos that show a count rather than claim it: the
// socket table through ss (netlink, fast at 100k sockets), a process's descriptors,
// prlimit on a running process, and server ports outside every ephemeral range.

import { execFile } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { createServer } from 'node:net';
import { promisify } from 'node:util';

import { splitAddress, ssAddresses, ssRows } from '../probe/kernel-tools.ts';

export { prlimitNofile, splitAddress, ssAddresses, ssRows } from '../probe/kernel-tools.ts';

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
