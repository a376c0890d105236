// What holds the four-tuples toward some destinations, read from the kernel's socket
// table (/proc/net/tcp): sockets in TIME_WAIT (closed in the last 60 s, by an earlier
// run or this one's churn) against live ones. EADDRNOTAVAIL means "that tuple, or every
// port toward that destination, is taken"; only this table says by what. Read once, when
// the error first shows, streamed and counted: nothing is kept per socket, so a table of
// a million lines costs a pass, not memory.

import { createReadStream } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { createInterface } from 'node:readline';
import type { Destination } from '../tuple/address.ts';

/** Sockets toward the destinations asked about, by what holds them. */
export interface TupleOccupancy {
  /** How many destinations were counted. */
  destinations: number;
  /** In TIME_WAIT: the tuple stays taken for 60 s after an active close. */
  time_wait: number;
  /** In any other state (established, SYN_SENT, FIN_WAIT, CLOSE_WAIT, ...). */
  live: number;
  /** Ports in net.ipv4.ip_local_port_range; null when unreadable. */
  port_range: number | null;
}

const TIME_WAIT = 0x06;
const LISTEN = 0x0a;

/** A destination as /proc/net/tcp writes a remote address: host-order hex IP, hex port. */
export function tableKey(d: Destination): string {
  const ip = d.ip >>> 0;
  // The kernel prints the 32-bit address as stored (network order) read as a
  // little-endian integer: 127.0.0.1 is 0100007F.
  const swapped = (((ip & 0xff) << 24) | ((ip & 0xff00) << 8) | ((ip >>> 8) & 0xff00) | (ip >>> 24)) >>> 0;
  return `${swapped.toString(16).toUpperCase().padStart(8, '0')}:${d.port.toString(16).toUpperCase().padStart(4, '0')}`;
}

/** Counts one /proc/net/tcp line into `into` if its remote end is one of `keys`. */
export function countTableLine(line: string, keys: ReadonlySet<string>, into: { time_wait: number; live: number }): void {
  // "  12: 0100007F:9C40 0100007F:2328 01 ..." -> local, remote, state
  const fields = line.trim().split(/\s+/, 4);
  const remote = fields[2];
  const state = Number.parseInt(fields[3] ?? '', 16);
  if (remote === undefined || !keys.has(remote) || Number.isNaN(state) || state === LISTEN) return;
  if (state === TIME_WAIT) into.time_wait++;
  else into.live++;
}

/** Ports in ip_local_port_range ("32768\t60999"); null when unreadable. */
export function parsePortRange(text: string): number | null {
  const [first, last] = text.trim().split(/\s+/).map(Number);
  return first !== undefined && last !== undefined && Number.isInteger(first) && Number.isInteger(last) && last >= first ? last - first + 1 : null;
}

/** Counts the IPv4 sockets toward `destinations` by state; `root` points at a fixture tree in tests. */
export async function readTupleOccupancy(destinations: readonly Destination[], root = '/'): Promise<TupleOccupancy> {
  const keys = new Set(destinations.map(tableKey));
  const counts = { time_wait: 0, live: 0 };
  try {
    const lines = createInterface({ input: createReadStream(`${root}proc/net/tcp`, { encoding: 'utf8' }), crlfDelay: Infinity });
    for await (const line of lines) countTableLine(line, keys, counts);
  } catch {
    // No table (not Linux, /proc hidden): counts stay 0 and nothing is blamed on them.
  }
  let portRange: number | null = null;
  try {
    portRange = parsePortRange(await readFile(`${root}proc/sys/net/ipv4/ip_local_port_range`, 'utf8'));
  } catch {
    portRange = null;
  }
  return { destinations: keys.size, ...counts, port_range: portRange };
}
