// One kind of latency sample (µs) held until drained: grows by doubling from 1,024 up
// to maxSamples, then drops and counts, like native/stats.c, so a caller that never
// drains cannot make memory grow without bound.

const FIRST_CAPACITY = 1024;
const MAX_U32 = 0xffff_ffff;

export class SampleBuffer {
  readonly #max: number;
  #data = new Uint32Array(0);
  #length = 0;

  constructor(maxSamples: number) {
    this.#max = maxSamples;
  }

  /** Records `us` (clamped to 0..2^32-1); returns false when the buffer is full and the sample dropped. */
  push(us: number): boolean {
    if (this.#length === this.#data.length && !this.#grow()) return false;
    this.#data[this.#length++] = us <= 0 ? 0 : us >= MAX_U32 ? MAX_U32 : us;
    return true;
  }

  /** The samples in arrival order, as a copy; the buffer is empty afterwards. */
  drain(): Uint32Array {
    const out = this.#data.slice(0, this.#length);
    this.#length = 0;
    return out;
  }

  #grow(): boolean {
    if (this.#data.length >= this.#max) return false;
    const next = new Uint32Array(Math.min(this.#max, Math.max(FIRST_CAPACITY, this.#data.length * 2)));
    next.set(this.#data);
    this.#data = next;
    return true;
  }
}
