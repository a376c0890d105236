// The kernel's own word, through its tools: the socket table via ss (netlink, fast at
// 100k sockets, unlike /proc/net/tcp) and prlimit on a running process. Used where a
// count must be shown from the kernel rather than claimed: demos and proofs.

import { execFile } from 'node:child_process';
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


/** One TCP socket's queues as `ss -tmn` prints them (bytes). */
export interface SocketQueues {
  local: string;
  peer: string;
  /** Received, not yet read by the application. */
  recvQ: number;
  /** Established: written and not yet acknowledged by the peer (sent or not). */
  sendQ: number;
  /** skmem's fields: `w` is the send queue with the kernel's buffer overhead, `tb` the send buffer size. */
  skmem: Record<string, number>;
  /** Of sendQ, the bytes not sent yet (ss -i prints `notsent:` only when nonzero). */
  notsent: number;
}

/**
 * The rows of `ss -tmin -H state established …` (each socket's line, then its skmem and
 * info line). With a state filter ss prints no State column: Recv-Q Send-Q Local Peer.
 */
export function parseSocketQueues(rows: readonly string[]): SocketQueues[] {
  const sockets: SocketQueues[] = [];
  for (const row of rows) {
    const skmem = /skmem:\(([^)]*)\)/.exec(row);
    const last = sockets.at(-1);
    if (skmem && last) {
      for (const [, name, value] of (skmem[1] ?? '').matchAll(/([a-z]+)(\d+)/g)) last.skmem[name as string] = Number(value);
      last.notsent = Number(/\bnotsent:(\d+)/.exec(row)?.[1] ?? 0);
      continue;
    }
    const [recvQ, sendQ, local, peer] = row.trim().split(/\s+/);
    if (peer === undefined || !/^\d+$/.test(recvQ ?? '') || !/^\d+$/.test(sendQ ?? '')) continue;
    sockets.push({ local: local as string, peer, recvQ: Number(recvQ), sendQ: Number(sendQ), skmem: {}, notsent: 0 });
  }
  return sockets;
}

/** Established sockets matching an ss filter (['src', '127.0.0.1:9000']) with their queues (ss -tmin). */
export async function socketQueues(filter: readonly string[]): Promise<SocketQueues[]> {
  return parseSocketQueues(await ssRows(['-tmin', 'state', 'established', ...filter]));
}
