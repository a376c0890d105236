// The thresholds section of the bench report: the verdict first (a CI job's artifact is
// read for it), then every threshold with the value observed, its limit and pass/FAIL.

import { formatLimit, formatMetricValue } from '../thresholds/format.ts';
import { escapeHtml } from './report-format.ts';
import type { BenchResult } from './result.ts';

const derived = (text: string): string => `<span class="num" data-derived>${escapeHtml(text)}</span>`;

/** Nothing when the run had no thresholds. */
export function renderThresholdsSection(r: BenchResult): string {
  const v = r.thresholds;
  if (!v) return '';
  const rows = v.checks.map((c) => `<tr${c.passed ? '' : ' class="binding"'}><td><code>${escapeHtml(c.expression)}</code></td>`
    + `<td class="num">${c.observed === null ? 'not in this result' : derived(formatMetricValue(c.observed, c.unit))}</td>`
    + `<td>${escapeHtml(formatLimit(c))}</td><td>${c.passed ? 'pass' : c.expression === v.aborted_by ? 'FAIL (aborted the run)' : 'FAIL'}</td></tr>`);
  const verdict = v.passed ? `All ${v.checks.length} thresholds passed.` : `${v.failed.length} of ${v.checks.length} thresholds failed: ${v.failed.join(', ')}.`;
  return `<section id="thresholds"><h2>Thresholds</h2>
<p class="lede" data-verdict="${v.passed ? 'pass' : 'fail'}">${escapeHtml(verdict)}</p>
<table><thead><tr><th>Threshold</th><th class="num">Observed</th><th>Limit</th><th></th></tr></thead><tbody>${rows.join('\n')}</tbody></table>
</section>`;
}
