// Turns a cumulative counter into a per-second rate over the last sample interval.
// Readers may call update() as often as they like (a Prometheus scrape reads stats once
// per metric): calls closer than minIntervalMs to the last sample return the last rate
// instead of a rate over microseconds.

/** What serve and load rate over: about the workers' report interval. */
export const STATS_RATE_INTERVAL_MS = 500;

export class RateMeter {
  readonly #minIntervalMs: number;
  #last: { value: number; atMs: number } | undefined;
  #rate = 0;

  constructor({ minIntervalMs = 0 } = {}) {
    this.#minIntervalMs = minIntervalMs;
  }

  /** Feed the counter's current value; returns the rate since the previous sample. */
  update(value: number, nowMs = performance.now()): number {
    if (this.#last && nowMs - this.#last.atMs <= this.#minIntervalMs) return this.#rate;
    if (this.#last) this.#rate = ((value - this.#last.value) * 1000) / (nowMs - this.#last.atMs);
    this.#last = { value, atMs: nowMs };
    return this.#rate;
  }

  get perSecond(): number {
    return this.#rate;
  }
}
