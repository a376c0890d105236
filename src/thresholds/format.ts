// Threshold figures for people, in each metric's unit: the text table and the HTML
// report print them the same way.

import { formatBytes, formatCount } from '../units.ts';
import type { MetricUnit } from './catalogue.ts';
import type { ThresholdOutcome } from './evaluate.ts';

/** A figure in its metric's unit, the way the rest of the text prints it. */
export function formatMetricValue(value: number, unit: MetricUnit): string {
  switch (unit) {
    case 'ms': return `${value.toLocaleString('en-US', { maximumFractionDigits: 3 })} ms`;
    case 'seconds': return `${value.toLocaleString('en-US', { maximumFractionDigits: 3 })} s`;
    case 'bytes': return value >= 1024 ? `${formatCount(value)} B (${formatBytes(value)})` : `${formatCount(value)} B`;
    case 'per_second': return `${formatCount(value)}/s`;
    case 'connections': return Number.isInteger(value) ? formatCount(value) : value.toLocaleString('en-US', { maximumFractionDigits: 1 });
    case 'ratio': return String(value);
  }
}

/** `< 200 ms`, `>= 9,990 (99.9% of the target)`. */
export function formatLimit(c: ThresholdOutcome): string {
  const limit = `${c.operator} ${formatMetricValue(c.limit, c.unit)}`;
  return c.percent_of_target === null ? limit : `${limit} (${c.percent_of_target}% of the target)`;
}
