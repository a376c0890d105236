// Periodic events (serve's broadcast rounds) in a log that stays readable: an event
// that opens a quiet window is written as it happens; the others are counted and written
// as one summary line when their window closes. Slow events (one every 30 s) so still
// get a line each, at once; fast ones (every 10 ms) one line per window instead of a
// hundred a second. The window is 10 s without a terminal (logs, journald, pipes) and
// 1 s on one.

import type { Io } from '../io.ts';

/** One event: its own line, and the figures a summary of many adds up. */
export interface PeriodicEvent {
  line: string;
  /** What the summary reports of it: a count (connections written) and a duration. */
  count: number;
  durationMs: number;
}

/** Windows, in milliseconds. */
export const LOG_WINDOW_MS = 10_000;
export const TTY_WINDOW_MS = 1_000;

export class PeriodicLog {
  readonly #stream: Io['stderr'];
  readonly #what: string;
  readonly #windowMs: number;
  readonly #now: () => number;
  /** Called before a line is written (a status line steps aside). */
  beforeWrite: () => void = () => {};
  #windowStart = Number.NEGATIVE_INFINITY;
  #held: PeriodicEvent[] = [];

  /** `what` names the events in the summary ("broadcast rounds"); `now` is for tests. */
  constructor(stream: Io['stderr'], what: string, now: () => number = () => performance.now()) {
    this.#stream = stream;
    this.#what = what;
    this.#windowMs = stream.isTTY ? TTY_WINDOW_MS : LOG_WINDOW_MS;
    this.#now = now;
  }

  add(event: PeriodicEvent): void {
    const now = this.#now();
    if (now - this.#windowStart >= this.#windowMs) {
      const busy = this.#held.length > 0;
      this.flush();
      this.#windowStart = now;
      if (!busy) {
        this.beforeWrite();
        this.#stream.write(`${event.line}\n`);
        return;
      }
    }
    this.#held.push(event);
  }

  /** Writes the summary of the events held back, if any (also at the end of a run). */
  flush(): void {
    const held = this.#held;
    if (held.length === 0) return;
    this.#held = [];
    const durations = held.map((e) => e.durationMs).sort((a, b) => a - b);
    const counts = held.map((e) => e.count);
    const seconds = (this.#now() - this.#windowStart) / 1000;
    this.beforeWrite();
    this.#stream.write(`${held.length} ${this.#what} in ${seconds.toFixed(1)} s: ` +
      `${Math.min(...counts).toLocaleString('en-US')}-${Math.max(...counts).toLocaleString('en-US')} connections each, ` +
      `${durations[0]?.toFixed(1)}-${durations.at(-1)?.toFixed(1)} ms (median ${durations[Math.floor(durations.length / 2)]?.toFixed(1)} ms)\n`);
  }
}
