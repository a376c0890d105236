// The one-line progress display of load and bench on a terminal: phase, held/target,
// the rate over the last second, an ETA while ramping, a countdown while holding, and
// verified once a round has answered. It computes the rate itself from the counts it is
// shown, over a sliding second, because the counts arrive in worker reports that land at
// uneven moments: a rate taken between two reports (one worker's delta over a few
// milliseconds) swings wildly, and a rate kept by the engine lags a whole phase when the
// ramp is shorter than its window. Off a terminal it draws nothing: the commands print
// one summary line per phase instead.

import { formatCount } from '../../units.ts';
import { progressBar, StatusLine } from './status-line.ts';
import type { Io } from '../io.ts';

/** What the command knows at one moment. */
export interface ProgressState {
  /** ramp, hold, verify, teardown, … as the command names its phases. */
  phase: string;
  /** Connections established now. */
  held: number;
  target: number;
  /** Connections that answered the last liveness round, once one has. */
  verified?: number | undefined;
  /** When the hold ends (performance.now() clock), while holding. */
  holdEndsAtMs?: number | undefined;
  /** Connects that failed so far. */
  failed?: number | undefined;
}

/** How far back the rate looks: "over the last second". */
export const RATE_WINDOW_MS = 1000;

/** Pure formatting of one progress line; `ratePerSec` and `nowMs` come from the caller. */
export function formatProgress(s: ProgressState, ratePerSec: number, nowMs: number): string {
  const head = `${s.phase.padEnd(8)} ${progressBar(s.held, s.target)} ${formatCount(s.held)}/${formatCount(s.target)}`;
  const parts = [head];
  if (s.phase === 'ramp') {
    parts.push(`${formatCount(Math.max(0, Math.round(ratePerSec)))}/s`);
    const left = s.target - s.held;
    if (ratePerSec > 0 && left > 0) parts.push(`ETA ${formatSeconds(left / ratePerSec)}`);
  }
  if (s.verified !== undefined) parts.push(`verified ${formatCount(s.verified)}`);
  if (s.failed) parts.push(`failed ${formatCount(s.failed)}`);
  if (s.holdEndsAtMs !== undefined) parts.push(`${formatSeconds(Math.max(0, (s.holdEndsAtMs - nowMs) / 1000))} left`);
  return parts.join(' · ');
}

/** 7s, 2m05s, 1h02m. */
export function formatSeconds(seconds: number): string {
  const s = Math.ceil(seconds);
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s`;
  return `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}m`;
}

/** A redraw-in-place progress line with its own sliding-window rate. */
export class ProgressLine {
  readonly #line: StatusLine;
  readonly #clock: () => number;
  /** (time, held) pairs of the last RATE_WINDOW_MS, oldest first. */
  #window: { atMs: number; held: number }[] = [];
  #phase = '';

  constructor(stream: Io['stderr'], clock: () => number = () => performance.now()) {
    this.#line = new StatusLine(stream);
    this.#clock = clock;
  }

  /** Redraws the line (a no-op off a terminal). */
  update(state: ProgressState): void {
    const now = this.#clock();
    if (state.phase !== this.#phase) this.#window = [];
    this.#phase = state.phase;
    this.#window.push({ atMs: now, held: state.held });
    while (this.#window.length > 2 && now - (this.#window[1]?.atMs ?? now) >= RATE_WINDOW_MS) this.#window.shift();
    this.#line.update(formatProgress(state, this.ratePerSec(now), now));
  }

  /** Connections per second over the last second of updates (0 before two updates). */
  ratePerSec(now = this.#clock()): number {
    const first = this.#window[0];
    const last = this.#window.at(-1);
    if (!first || !last || last.atMs - first.atMs < 100 || now - last.atMs > 2 * RATE_WINDOW_MS) return 0;
    return ((last.held - first.held) * 1000) / (last.atMs - first.atMs);
  }

  /** Erases the line (before a summary line that supersedes it). */
  clear(): void {
    this.#line.clear();
  }

  /** Leaves the last line in place and moves to a fresh one. */
  done(): void {
    this.#line.done();
  }
}
