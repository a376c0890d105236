// Bounded polling for state that has no event to await (a holder's counters): checks
// `predicate` every few milliseconds and fails with `describe()` after `timeoutMs`.

import { setTimeout as delay } from 'node:timers/promises';

export interface WaitOptions {
  timeoutMs?: number;
  /** What to print when time runs out, e.g. the last stats. */
  describe?: () => string;
}

const POLL_MS = 5;

export async function waitFor(predicate: () => boolean, { timeoutMs = 10_000, describe }: WaitOptions = {}): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!predicate()) {
    if (Date.now() > deadline) {
      throw new Error(`condition not met in ${timeoutMs} ms${describe ? `: ${describe()}` : ''}`);
    }
    await delay(POLL_MS);
  }
}
