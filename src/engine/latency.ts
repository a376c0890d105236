// Latency histograms: HDR (3 significant digits, 1 µs to 1 hour), recorded where the
// samples are taken and merged where they are summed. A worker records its drained
// samples into one histogram per kind and sends it encoded (HdrHistogram's compressed
// V2 format, base64: a few hundred bytes whatever the count); the supervisor decodes and
// adds. A raw sample array (what a worker that cannot encode sends) is recorded as before.
// Summaries are in milliseconds. Results carry each histogram encoded too, so `connlab
// merge` recomputes percentiles over many hosts exactly (src/merge/).

import { inflateSync } from 'node:zlib';
import hdr from 'hdr-histogram-js';
import type { HolderSamples } from './holder.ts';
import type { EncodedLatency, LatencyKind } from './messages.ts';

export interface LatencySummaryMs {
  p50: number;
  p99: number;
  max: number;
  count: number;
}

const HOUR_US = 3_600_000_000;

export const LATENCY_KINDS: readonly LatencyKind[] = ['connectUs', 'rttUs', 'broadcastUs'];

/**
 * packed: memory grows with the buckets in use (a few KiB for one report's samples)
 * instead of a fixed ~93 KiB of counters, which would cost each of a million's 114
 * workers ~280 KiB for its three kinds, 32 MB in all.
 */
function emptyHistogram(packed: boolean): hdr.Histogram {
  return hdr.build({ lowestDiscernibleValue: 1, highestTrackableValue: HOUR_US, numberOfSignificantValueDigits: 3, ...(packed ? { bitBucketSize: 'packed' as const } : {}) });
}

/** An empty histogram in the one configuration every recorder and merge uses. */
export function buildLatencyHistogram(): hdr.Histogram {
  return emptyHistogram(false);
}

/**
 * p50, p99 and max in milliseconds (µs rounded to 1 µs) at the histogram's resolution.
 * max is the 100th percentile, not the exact largest value: a decoded histogram only
 * knows its buckets, so this is what makes a merged summary equal to one recorded in one
 * place.
 */
export function summarizeUs(h: hdr.Histogram): LatencySummaryMs {
  const ms = (us: number): number => Math.round(us) / 1000;
  if (h.totalCount === 0) return { p50: 0, p99: 0, max: 0, count: 0 };
  return { p50: ms(h.getValueAtPercentile(50)), p99: ms(h.getValueAtPercentile(99)), max: ms(h.getValueAtPercentile(100)), count: h.totalCount };
}

/** Encoded deltas kept unread at most (bytes of base64) before they are folded in. */
const PENDING_MAX_BYTES = 4 << 20;

export class LatencyRecorder {
  readonly #histogram: hdr.Histogram;
  /**
   * Encoded deltas not yet added: a supervisor receives ~100 a second during a ramp and
   * reads the sum only when a result is built, so adding them waits until something
   * reads (or 4 MiB of them have piled up), off the ramp's hot path.
   */
  #pending: string[] = [];
  #pendingBytes = 0;
  #undecodable = 0;

  constructor(options: { packed?: boolean } = {}) {
    this.#histogram = emptyHistogram(options.packed === true);
  }

  get count(): number {
    return this.#folded().totalCount;
  }

  /** Raw samples in µs, clamped to the histogram's 1 µs .. 1 h. */
  record(samplesUs: ArrayLike<number>): void {
    for (let i = 0; i < samplesUs.length; i++) {
      this.#histogram.recordValue(Math.min(HOUR_US, Math.max(1, samplesUs[i] ?? 1)));
    }
  }

  /**
   * Adds a histogram encoded by encode() (another process's): the merge is exact bucket
   * by bucket. One in this configuration (every connlab worker's) is read word by word
   * into this histogram, so a report costs what it carries: decoding it into a histogram
   * of its own first would allocate and walk all 23,552 buckets per report, which made a
   * report of a few hundred samples dearer than recording them raw.
   */
  addEncoded(encoded: string): void {
    this.#pending.push(encoded);
    this.#pendingBytes += encoded.length;
    if (this.#pendingBytes > PENDING_MAX_BYTES) this.#folded();
  }

  /** Deltas that could not be decoded when folded (skipped: one bad report must not cost the run its result). */
  get undecodable(): number {
    this.#folded();
    return this.#undecodable;
  }

  /** The histogram with every pending delta added. */
  #folded(): hdr.Histogram {
    const pending = this.#pending;
    this.#pending = [];
    this.#pendingBytes = 0;
    for (const encoded of pending) {
      try {
        this.#add(encoded);
      } catch {
        this.#undecodable++;
      }
    }
    return this.#histogram;
  }

  #add(encoded: string): void {
    const counts = v2Counts(encoded);
    if (counts) {
      for (let k = 0; k < counts.length; k += 2) this.#histogram.recordValueWithCount(valueAtIndex(counts[k] as number), counts[k + 1] as number);
      return;
    }
    const other = hdr.decodeFromCompressedBase64(encoded);
    this.#histogram.add(other);
    other.destroy();
  }

  /** This histogram in HdrHistogram's compressed base64 form. */
  encode(): string {
    return hdr.encodeIntoCompressedBase64(this.#folded());
  }

  summaryMs(): LatencySummaryMs {
    return summarizeUs(this.#folded());
  }
}

const SUB_BUCKET_HALF_COUNT = 1024; // 3 significant digits from 1 µs: 2,048 sub-buckets

/** The lowest value of counts-array index i, for lowest 1 and 3 digits (HdrHistogram valueFromIndex). */
function valueAtIndex(i: number): number {
  let bucket = Math.floor(i / SUB_BUCKET_HALF_COUNT) - 1;
  let sub = (i % SUB_BUCKET_HALF_COUNT) + SUB_BUCKET_HALF_COUNT;
  if (bucket < 0) {
    sub -= SUB_BUCKET_HALF_COUNT;
    bucket = 0;
  }
  return sub * 2 ** bucket;
}

/**
 * The non-empty buckets of a compressed V2 encoding as [index, count, index, count...],
 * or undefined when it is not in this module's configuration (1 µs .. 1 h, 3 digits) and
 * must be decoded the general way. Words are ZigZag LEB128-64b9B (9 bytes at most, the
 * ninth whole); a negative word is a run of empty buckets.
 */
function v2Counts(encoded: string): number[] | undefined {
  const outer = Buffer.from(encoded, 'base64');
  if (outer.byteLength < 8 || ((outer.readUInt32BE(0) & ~0xf0) >>> 0) !== 0x1c849304) return undefined;
  const raw = inflateSync(outer.subarray(8, 8 + outer.readUInt32BE(4)));
  if (raw.byteLength < 40 || ((raw.readUInt32BE(0) & ~0xf0) >>> 0) !== 0x1c849303) return undefined;
  const end = 40 + raw.readUInt32BE(4);
  const sameConfig = raw.readUInt32BE(12) === 3 && raw.readUInt32BE(16) === 0 && raw.readUInt32BE(20) === 1 && raw.readUInt32BE(24) === 0 && raw.readUInt32BE(28) === HOUR_US;
  if (!sameConfig || end > raw.byteLength) return undefined;
  const out: number[] = [];
  let at = 40;
  let index = 0;
  while (at < end) {
    let word = 0;
    let scale = 1;
    for (let k = 0; k < 9 && at < end; k++) {
      const byte = raw[at++] as number;
      if (k === 8) {
        word += byte * scale;
        break;
      }
      word += (byte & 0x7f) * scale;
      scale *= 128;
      if (byte < 0x80) break;
    }
    const value = word % 2 === 0 ? word / 2 : -(word + 1) / 2;
    if (value < 0) index += -value;
    else {
      if (value > 0) out.push(index, value);
      index++;
    }
  }
  return out;
}

/**
 * Calls `visit` once per recorded bucket of an encoded histogram with the bucket's value
 * in µs and how many samples it holds: how a consumer that keeps its own buckets
 * (Prometheus) takes a worker's encoded delta without the raw samples.
 */
export function forEachRecorded(encoded: string, visit: (valueUs: number, count: number) => void): void {
  const h = hdr.decodeFromCompressedBase64(encoded, 32, false) as hdr.JsHistogram;
  const values = h.recordedValuesIterator;
  values.reset();
  while (values.hasNext()) {
    const step = values.next();
    visit(step.valueIteratedTo, step.countAddedInThisIterationStep);
  }
  h.destroy();
}

/**
 * The worker's side: drained samples in, one encoded histogram per kind that had any
 * out (a delta: what was recorded since the last report). Kinds without samples are
 * left out, so an idle worker's report carries nothing.
 */
export class LatencyEncoder {
  /** Nothing is kept between reports: a worker holding connections idle holds no histogram. */
  encodeDelta(samples: HolderSamples): EncodedLatency {
    const out: EncodedLatency = {};
    for (const kind of LATENCY_KINDS) {
      const values = samples[kind];
      if (values.length === 0) continue;
      const recorder = new LatencyRecorder({ packed: true });
      recorder.record(values);
      out[kind] = recorder.encode();
    }
    return out;
  }
}

/** The supervisor's side: one recorder per kind, fed by either shape of report. */
export class LatencyMerger {
  readonly connectUs = new LatencyRecorder();
  readonly rttUs = new LatencyRecorder();
  readonly broadcastUs = new LatencyRecorder();

  add(report: { latency?: EncodedLatency; samples?: HolderSamples }): void {
    for (const kind of LATENCY_KINDS) {
      const encoded = report.latency?.[kind];
      if (encoded) this[kind].addEncoded(encoded);
      const raw = report.samples?.[kind];
      if (raw && raw.length > 0) this[kind].record(raw);
    }
  }
}

/** Percentiles of what arrived since the previous take, by kind; kinds without samples absent. */
export interface LatencyWindowMs {
  connect?: LatencySummaryMs;
  rtt?: LatencySummaryMs;
  broadcast?: LatencySummaryMs;
}

const WINDOW_NAMES = { connectUs: 'connect', rttUs: 'rtt', broadcastUs: 'broadcast' } as const;

/**
 * Latency over time: the reports that arrived since the last take(), summarized and then
 * forgotten, so a timeline can carry one set of percentiles per sample. A sample's
 * latencies count in the interval its worker's report arrived in (a report a second).
 */
export class LatencyWindow {
  #merger = new LatencyMerger();

  add(report: { latency?: EncodedLatency; samples?: HolderSamples }): void {
    this.#merger.add(report);
  }

  take(): LatencyWindowMs {
    const out: LatencyWindowMs = {};
    for (const kind of LATENCY_KINDS) {
      const recorder = this.#merger[kind];
      if (recorder.count > 0) out[WINDOW_NAMES[kind]] = recorder.summaryMs();
    }
    if (Object.keys(out).length > 0) this.#merger = new LatencyMerger();
    return out;
  }
}
