// The kernel's TCP counters that explain failures load cannot see from its own sockets:
// ListenOverflows/ListenDrops (the accept queue overflowed), TCPAbortOnMemory (tcp_mem).

import { readFile } from 'node:fs/promises';
import { parseNetstat } from '../limits/parsers.ts';

export const WATCHED_COUNTERS = ['TcpExt.ListenOverflows', 'TcpExt.ListenDrops', 'TcpExt.TCPAbortOnMemory', 'TcpExt.TCPTimeouts'] as const;

export type NetstatCounters = Record<(typeof WATCHED_COUNTERS)[number], number>;

export async function readNetstatCounters(root = '/'): Promise<NetstatCounters> {
  let values = new Map<string, number>();
  try {
    values = parseNetstat(await readFile(`${root}proc/net/netstat`, 'utf8'));
  } catch {
    // No netstat (not Linux, or /proc hidden): every counter reads 0, nothing is blamed on them.
  }
  return Object.fromEntries(WATCHED_COUNTERS.map((name) => [name, values.get(name) ?? 0])) as NetstatCounters;
}

export function counterDelta(before: NetstatCounters, after: NetstatCounters): NetstatCounters {
  return Object.fromEntries(WATCHED_COUNTERS.map((name) => [name, after[name] - before[name]])) as NetstatCounters;
}
