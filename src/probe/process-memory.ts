// A process's memory as the kernel accounts it. User memory per connection is private
// memory (Private_Clean + Private_Dirty) or Pss from /proc/PID/smaps_rollup, never RSS:
// an idle Node 24 process shows ~45 MB RSS of which ~36 MB are the binary's shared pages,
// and summing RSS over a hundred workers would count them a hundred times.

import { readFile } from 'node:fs/promises';

export interface ProcessMemory {
  rssBytes: number;
  pssBytes: number;
  privateBytes: number;
  /**
   * Private_Dirty alone: pages this process wrote. Private_Clean is mostly code and file
   * pages, which turn shared the moment a sibling worker touches them too, so it moves
   * with what the workers happen to have run, not with what they hold.
   */
  privateDirtyBytes: number;
}

/** Parses smaps_rollup text (`Pss:  1234 kB`). */
export function parseSmapsRollup(text: string): ProcessMemory {
  const kb = (key: string): number => Number(new RegExp(`^${key}:\\s+(\\d+) kB`, 'm').exec(text)?.[1] ?? 0) * 1024;
  return {
    rssBytes: kb('Rss'),
    pssBytes: kb('Pss'),
    privateBytes: kb('Private_Clean') + kb('Private_Dirty'),
    privateDirtyBytes: kb('Private_Dirty'),
  };
}

/** Reads a live process's memory; undefined when it has gone or the file is closed to us. */
export async function readProcessMemory(pid: number | 'self', root = '/'): Promise<ProcessMemory | undefined> {
  try {
    return parseSmapsRollup(await readFile(`${root}proc/${pid}/smaps_rollup`, 'utf8'));
  } catch {
    return undefined;
  }
}
