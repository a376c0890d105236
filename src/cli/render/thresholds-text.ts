// The thresholds under a text result: one row per threshold with the value observed,
// the limit (a percent shown with the connections it stands for) and pass or FAIL.

import type { MetricUnit } from '../../thresholds/catalogue.ts';
import type { ThresholdOutcome, ThresholdVerdict } from '../../thresholds/evaluate.ts';
import { formatBytes, formatCount } from '../../units.ts';
import { renderTable } from './table.ts';

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

function limitText(c: ThresholdOutcome): string {
  const limit = `${c.operator} ${formatMetricValue(c.limit, c.unit)}`;
  return c.percent_of_target === null ? limit : `${limit} (${c.percent_of_target}% of the target)`;
}

export function renderThresholds(v: ThresholdVerdict): string {
  const rows = v.checks.map((c) => [
    c.expression,
    c.observed === null ? 'not in this result' : formatMetricValue(c.observed, c.unit),
    limitText(c),
    c.passed ? 'pass' : c.expression === v.aborted_by ? 'FAIL (aborted the run)' : 'FAIL',
  ]);
  const head = `thresholds: ${v.checks.length - v.failed.length} of ${v.checks.length} passed`;
  return `\n${head}\n${renderTable([{ header: 'THRESHOLD' }, { header: 'OBSERVED', align: 'right' }, { header: 'LIMIT' }, { header: '' }], rows)}\n`;
}
