import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { inflateSync } from 'node:zlib';
import hdr from 'hdr-histogram-js';
import { LatencyEncoder, LatencyMerger, LatencyRecorder, LatencyWindow } from '../../src/engine/latency.ts';
import type { HolderSamples } from '../../src/engine/holder.ts';
import { isFromWorker, type WorkerReport } from '../../src/engine/messages.ts';

// A deterministic spread over six decades, so every percentile falls in a different bucket.
function samples(seed: number, count: number): Uint32Array {
  const out = new Uint32Array(count);
  let x = seed;
  for (let i = 0; i < count; i++) {
    x = (x * 1103515245 + 12345) >>> 0;
    out[i] = 1 + Math.floor(10 ** ((x % 6_000_000) / 1_000_000));
  }
  return out;
}

const none: Uint32Array = new Uint32Array(0);
const held = (connectUs: Uint32Array, rttUs: Uint32Array = none, broadcastUs: Uint32Array = none): HolderSamples => ({ connectUs, rttUs, broadcastUs });

describe('latency histograms across processes', () => {
  it('merged percentiles equal those of the concatenated samples', () => {
    const workers = [samples(1, 5000), samples(2, 7000), samples(3, 1), samples(4, 12_000)];
    const merger = new LatencyMerger();
    for (const w of workers) {
      // Each worker encodes its own delta; only strings cross the boundary.
      const report = { latency: new LatencyEncoder().encodeDelta(held(w)) };
      merger.add(JSON.parse(JSON.stringify(report)));
    }
    const all = new LatencyRecorder();
    for (const w of workers) all.record(w);
    assert.deepEqual(merger.connectUs.summaryMs(), all.summaryMs());
    assert.equal(merger.connectUs.count, 24_001);
    assert.equal(merger.rttUs.count, 0);
  });

  it('sends deltas: each report carries only what was drained since the last', () => {
    const encoder = new LatencyEncoder();
    const merger = new LatencyMerger();
    merger.add({ latency: encoder.encodeDelta(held(samples(5, 300), samples(6, 40))) });
    merger.add({ latency: encoder.encodeDelta(held(samples(7, 200))) });
    assert.equal(merger.connectUs.count, 500);
    assert.equal(merger.rttUs.count, 40);
  });

  it('leaves out kinds without samples, so an idle report carries no histogram', () => {
    assert.deepEqual(new LatencyEncoder().encodeDelta(held(none)), {});
  });

  it('still records raw samples from a worker that cannot encode (the compatibility path)', () => {
    const raw = samples(8, 3000);
    const encoded = samples(9, 2000);
    const merger = new LatencyMerger();
    merger.add({ samples: held(none, raw) });
    merger.add({ latency: new LatencyEncoder().encodeDelta(held(none, encoded)) });
    const all = new LatencyRecorder();
    all.record(raw);
    all.record(encoded);
    assert.deepEqual(merger.rttUs.summaryMs(), all.summaryMs());
  });

  it('accepts a report with latency and without samples as a worker message', () => {
    const report: WorkerReport = {
      type: 'report', stats: {} as WorkerReport['stats'], latency: { broadcastUs: 'x' }, memory: null, heapUsedBytes: 0, rampDone: true,
    };
    assert.equal(isFromWorker(report), true);
  });

  it('summarizes each window of reports once: what arrived since the last take, kinds without samples absent', () => {
    const window = new LatencyWindow();
    const encoder = new LatencyEncoder();
    const first = samples(3, 500);
    window.add({ latency: encoder.encodeDelta(held(first)) });
    const expected = new LatencyRecorder();
    expected.record(first);
    assert.deepEqual(window.take(), { connect: expected.summaryMs() });
    assert.deepEqual(window.take(), {}, 'nothing arrived since');
    const rtt = samples(4, 200);
    window.add({ latency: encoder.encodeDelta(held(none, rtt)) });
    const rttOnly = new LatencyRecorder();
    rttOnly.record(rtt);
    assert.deepEqual(window.take(), { rtt: rttOnly.summaryMs() });
  });
});

describe('adding an encoded histogram word by word', () => {
  const v2 = (encoded: string): Buffer => inflateSync(Buffer.from(encoded, 'base64').subarray(8));

  it('gives the histogram the library\'s decode-and-add gives, bucket for bucket', () => {
    const parts = [samples(11, 700), samples(12, 1), Uint32Array.of(0, 1, 1023, 1024, 2047, 2048, 4_294_967_295), samples(13, 40_000)];
    const fast = new LatencyRecorder();
    const library = hdr.build({ lowestDiscernibleValue: 1, highestTrackableValue: 3_600_000_000, numberOfSignificantValueDigits: 3 });
    for (const part of parts) {
      const encoded = new LatencyEncoder().encodeDelta(held(part)).connectUs as string;
      fast.addEncoded(encoded);
      library.add(hdr.decodeFromCompressedBase64(encoded));
    }
    assert.equal(fast.count, library.totalCount);
    assert.deepEqual(v2(fast.encode()), v2(hdr.encodeIntoCompressedBase64(library)));
  });

  it('still adds a histogram of another configuration, through the library', () => {
    const other = hdr.build({ lowestDiscernibleValue: 1, highestTrackableValue: 60_000_000, numberOfSignificantValueDigits: 2 });
    for (const v of [5, 500, 50_000]) other.recordValue(v);
    const recorder = new LatencyRecorder();
    recorder.addEncoded(hdr.encodeIntoCompressedBase64(other));
    assert.equal(recorder.count, 3);
  });

  it('skips a delta that cannot be decoded, counts it, and keeps the others', () => {
    const recorder = new LatencyRecorder();
    recorder.addEncoded('not a histogram');
    recorder.addEncoded(new LatencyEncoder().encodeDelta(held(samples(14, 10))).connectUs as string);
    assert.equal(recorder.count, 10);
    assert.equal(recorder.undecodable, 1);
  });
});
