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

