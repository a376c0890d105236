// Latency histograms in the supervisor. Workers send raw microsecond samples; they land
// here in HDR histograms (3 significant digits, 1 µs to 1 hour), reported in milliseconds.

import hdr from 'hdr-histogram-js';

export interface LatencySummaryMs {
  p50: number;
  p99: number;
  max: number;
  count: number;
}

const HOUR_US = 3_600_000_000;

export class LatencyRecorder {
  #histogram = hdr.build({ lowestDiscernibleValue: 1, highestTrackableValue: HOUR_US, numberOfSignificantValueDigits: 3 });

  record(samplesUs: ArrayLike<number>): void {
    for (let i = 0; i < samplesUs.length; i++) {
      this.#histogram.recordValue(Math.min(HOUR_US, Math.max(1, samplesUs[i] ?? 1)));
    }
  }

  summaryMs(): LatencySummaryMs {
    const h = this.#histogram;
    const ms = (us: number): number => Math.round(us) / 1000;
    if (h.totalCount === 0) return { p50: 0, p99: 0, max: 0, count: 0 };
    return { p50: ms(h.getValueAtPercentile(50)), p99: ms(h.getValueAtPercentile(99)), max: ms(h.maxValue), count: h.totalCount };
  }
}
