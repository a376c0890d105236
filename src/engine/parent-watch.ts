// Makes a worker process die with its supervisor, however the supervisor died: a worker
// left behind holds up to ~19,900 sockets (issue 8: 24 orphans held 275,530 sockets for
// ~5 s after `kill -9` of a bench supervisor, each closing its connections gracefully).
// Three layers, cheapest first:
//  1. PR_SET_PDEATHSIG(SIGKILL) through the native addon: the kernel kills the worker
//     the moment its parent goes, even with SIGKILL, even while the worker is busy;
//  2. the IPC channel closing ('disconnect' in worker.ts): the worker exits at once and
//     lets the kernel close its sockets, no graceful close for a parent that is gone;
//  3. a periodic getppid() check, for the fallback without the addon when the event loop
//     misses the channel's end, and to close the race in 1: a parent that died between
//     fork() and prctl() has already handed the worker to init, so prctl arms nothing.

import { constants as osConstants } from 'node:os';
import { loadNativeBinding } from './native-holder.ts';

/** How often the fallback compares getppid() with the supervisor's PID. */
export const PARENT_CHECK_MS = 200;

/** The worker's argv: [supervisor PID]; the pool passes it (see worker-pool.ts). */
export function expectedParentPid(argv: readonly string[] = process.argv.slice(2)): number {
  const pid = Number(argv[0]);
  return Number.isSafeInteger(pid) && pid > 0 ? pid : process.ppid;
}

/**
 * Arms PR_SET_PDEATHSIG when the addon loads; returns whether it did. The signal fires
 * when the parent *thread* that forked this process exits, not the parent process:
 * WorkerPool forks from Node's main thread (child_process runs on the event loop), so
 * that is the supervisor's whole life. A supervisor running in a worker_thread would
 * take its workers with it when that thread ends, which is what it should do anyway.
 */
export function armParentDeathSignal(): boolean {
  try {
    return loadNativeBinding().setParentDeathSignal(osConstants.signals.SIGKILL) === 0;
  } catch {
    return false; // no addon: layers 2 and 3 alone
  }
}

export interface ParentWatch {
  /** True when the kernel will kill this process with its parent. */
  deathSignal: boolean;
  stop(): void;
}

/**
 * Arms every layer that does not depend on the IPC channel. `onOrphaned` runs (and
 * should exit at once) when the parent is found gone, including right now.
 * `useDeathSignal: false` leaves out layer 1: tests use it to prove the fallback.
 */
export function watchParent(parentPid: number, onOrphaned: () => void, { useDeathSignal = true } = {}): ParentWatch {
  const deathSignal = useDeathSignal && armParentDeathSignal();
  // Checked after prctl: from here on either the signal is armed or the parent is gone.
  if (process.ppid !== parentPid) onOrphaned();
  const timer = setInterval(() => {
    if (process.ppid !== parentPid) onOrphaned();
  }, PARENT_CHECK_MS);
  timer.unref();
  return { deathSignal, stop: () => clearInterval(timer) };
}
