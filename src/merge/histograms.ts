// Exact latency merges: decode every result's HdrHistogram, add the counts bucket by
// bucket, and read the percentiles off the sum. Averaging per-host percentiles would be
// wrong (the p99 of two hosts is not the mean of their p99s); adding histograms is exact
// to the histograms' own resolution, the same as one host recording every sample.

import hdr from 'hdr-histogram-js';
import { ConnlabError } from '../errors.ts';
import { buildLatencyHistogram, summarizeUs, type LatencySummaryMs } from '../engine/latency.ts';

/**
 * Adds encoded histograms; `label` names the input in the error a corrupt one causes.
 * A decoded histogram knows its maximum only to its bucket (0.1%), so the inputs' exact
 * maxima (`maxMs`, from their summaries) give the merged maximum when there are any.
 */
export function mergeEncoded(encoded: readonly { label: string; value: string }[], maxMs: readonly number[] = []): { encoded: string; summary: LatencySummaryMs } {
  const sum = buildLatencyHistogram();
  for (const { label, value } of encoded) {
    let decoded: hdr.Histogram;
    try {
      decoded = hdr.decodeFromCompressedBase64(value);
    } catch (error) {
      throw new ConnlabError('CONNLAB_ERR_INVALID_ARGUMENT', `${label}: a histogram that does not decode`, { hint: 'merge the result files as connlab wrote them', cause: error });
    }
    sum.add(decoded);
  }
  const summary = summarizeUs(sum);
  if (summary.count > 0 && maxMs.length > 0) summary.max = Math.max(...maxMs);
  return { encoded: hdr.encodeIntoCompressedBase64(sum), summary };
}
