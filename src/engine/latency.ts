// Latency histograms in the supervisor. Workers send raw microsecond samples; they land
// here in HDR histograms (3 significant digits, 1 µs to 1 hour), reported in milliseconds.
// Results also carry each histogram encoded (HdrHistogram's compressed base64), so
// `connlab merge` recomputes percentiles over many hosts exactly (src/merge/).

import hdr from 'hdr-histogram-js';

export interface LatencySummaryMs {
  p50: number;
  p99: number;
  max: number;
  count: number;
}

const HOUR_US = 3_600_000_000;

/** An empty histogram in the one configuration every recorder and merge uses. */
export function buildLatencyHistogram(): hdr.Histogram {
  return hdr.build({ lowestDiscernibleValue: 1, highestTrackableValue: HOUR_US, numberOfSignificantValueDigits: 3 });
}

/** p50, p99 and max in milliseconds (µs rounded to 1 µs), the same for one host and a merge. */
export function summarizeUs(h: hdr.Histogram): LatencySummaryMs {
  const ms = (us: number): number => Math.round(us) / 1000;
  if (h.totalCount === 0) return { p50: 0, p99: 0, max: 0, count: 0 };
  return { p50: ms(h.getValueAtPercentile(50)), p99: ms(h.getValueAtPercentile(99)), max: ms(h.maxValue), count: h.totalCount };
}

export class LatencyRecorder {
  #histogram = buildLatencyHistogram();

  record(samplesUs: ArrayLike<number>): void {
    for (let i = 0; i < samplesUs.length; i++) {
      this.#histogram.recordValue(Math.min(HOUR_US, Math.max(1, samplesUs[i] ?? 1)));
    }
  }

  summaryMs(): LatencySummaryMs {
    return summarizeUs(this.#histogram);
  }

  /** The whole histogram (µs), compressed and base64-encoded, for an exact merge later. */
  encoded(): string {
    return hdr.encodeIntoCompressedBase64(this.#histogram);
  }
}
