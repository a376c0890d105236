// The thresholds under a text result: one row per threshold with the value observed,
// the limit (a percent shown with the connections it stands for) and pass or FAIL.

import type { ThresholdVerdict } from '../../thresholds/evaluate.ts';
import { formatLimit, formatMetricValue } from '../../thresholds/format.ts';
import { renderTable } from './table.ts';

export function renderThresholds(v: ThresholdVerdict): string {
  const rows = v.checks.map((c) => [
    c.expression,
    c.observed === null ? 'not in this result' : formatMetricValue(c.observed, c.unit),
    formatLimit(c),
    c.passed ? 'pass' : c.expression === v.aborted_by ? 'FAIL (aborted the run)' : 'FAIL',
  ]);
  const head = `thresholds: ${v.checks.length - v.failed.length} of ${v.checks.length} passed`;
  return `\n${head}\n${renderTable([{ header: 'THRESHOLD' }, { header: 'OBSERVED', align: 'right' }, { header: 'LIMIT' }, { header: '' }], rows)}\n`;
}
