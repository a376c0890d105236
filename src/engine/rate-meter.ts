// Turns a cumulative counter into a per-second rate over the last sample interval.

export class RateMeter {
  #last: { value: number; atMs: number } | undefined;
  #rate = 0;

  /** Feed the counter's current value; returns the rate since the previous call. */
  update(value: number, nowMs = performance.now()): number {
    if (this.#last && nowMs > this.#last.atMs) {
      this.#rate = ((value - this.#last.value) * 1000) / (nowMs - this.#last.atMs);
    }
    this.#last = { value, atMs: nowMs };
    return this.#rate;
  }

  get perSecond(): number {
    return this.#rate;
  }
}
