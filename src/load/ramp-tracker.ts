// When load's ramp is over: every worker has either said `ramped` (its slice tried, none
// in flight) or died. Each worker counts once, whichever happens first and however often
// either is heard: a worker that ramps and then exits is one worker done, not two (issue
// 8: counting both declared the ramp over while another worker was still connecting).

export class RampTracker {
  readonly #workers: number;
  readonly #done = new Set<number>();
  #resolve: (atMs: number) => void = () => {};
  /** Resolves with performance.now() when the last worker is done. */
  readonly finished: Promise<number>;

  constructor(workers: number) {
    this.#workers = workers;
    this.finished = new Promise((resolve) => (this.#resolve = resolve));
    if (workers === 0) this.#resolve(performance.now());
  }

  /** Worker `index` tried its whole slice. */
  ramped(index: number): void {
    this.#mark(index);
  }

  /** Worker `index` died; it will not ramp further. */
  exited(index: number): void {
    this.#mark(index);
  }

  get remaining(): number {
    return this.#workers - this.#done.size;
  }

  #mark(index: number): void {
    if (index < 0 || index >= this.#workers || this.#done.has(index)) return;
    this.#done.add(index);
    if (this.#done.size === this.#workers) this.#resolve(performance.now());
  }
}
