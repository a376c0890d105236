// What the kernel itself says, for tests that prove a count: the socket table through
// ss (netlink, fast at 100k sockets), runs of free ports, and sysctls that are always
// restored.

import { readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { ssRows } from '../../src/probe/kernel-tools.ts';

/** Established TCP sockets matching an ss filter, e.g. ['sport', '=', ':9000']. */
export function establishedSockets(filter: string[]): Promise<string[]> {
  return ssRows(['-tn', 'state', 'established', ...filter]);
}

/** Consecutive free ports: tries a few random bases below the ephemeral range. */
export async function freePortRange(count: number): Promise<number> {
  for (let attempt = 0; attempt < 20; attempt++) {
    const base = 20_000 + Math.floor(Math.random() * 10_000);
    const probes = await Promise.all(Array.from({ length: count }, (_, i) => isFree(base + i)));
    if (probes.every(Boolean)) return base;
  }
  throw new Error(`no ${count} consecutive free ports found`);
}

function isFree(port: number): Promise<boolean> {
  const server = createServer();
  return new Promise((resolve) => {
    server.once('error', () => resolve(false));
    server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
  });
}

/** Sets a sysctl for the length of `fn`, restoring it afterwards whatever happens. */
export async function withSysctl<T>(name: string, value: string, fn: () => Promise<T>): Promise<T> {
  const path = `/proc/sys/${name.replaceAll('.', '/')}`;
  const original = readFileSync(path, 'utf8');
  const restore = (): void => writeFileSync(path, original);
  // An interrupted test run must not leave the host changed either.
  const onSignal = (signal: NodeJS.Signals): void => {
    restore();
    process.kill(process.pid, signal);
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  writeFileSync(path, value);
  try {
    return await fn();
  } finally {
    restore();
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
}

/** True once no process with this PID exists. */
export function isGone(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return false;
  } catch {
    return true;
  }
}
