// How many descriptors a process has open: the length of /proc/PID/fd. Listing it
// creates a dentry per descriptor, so this is for soaks and tests at tens of thousands
// of sockets, never for the million-connection timeline (host-sample.ts avoids it).

import { readdir } from 'node:fs/promises';

/** Open descriptors of `pid`; undefined when the process has gone. */
export async function countDescriptors(pid: number, root = '/'): Promise<number | undefined> {
  try {
    return (await readdir(`${root}proc/${pid}/fd`)).length;
  } catch {
    return undefined;
  }
}
