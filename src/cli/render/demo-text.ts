// Text for `connlab demo`: pure functions from the demo library's events and results to
// lines. Events are rendered as they arrive (what is about to happen, then what did);
// a result adds how to lift the limit and one verdict line; `demo all` ends in a table.

import type { DemoEvent, DemoResult, DemoStep, Outcome } from '../../demo/types.ts';
import { formatCount } from '../../units.ts';
import { renderTable } from './table.ts';

export function describeOutcome(o: Outcome): string {
  return o.error === null ? `${formatCount(o.connections)} connections, no error` : `${o.error} with ${formatCount(o.connections)} connections`;
}

function renderStep(step: DemoStep): string {
  const lines = [
    `    predicted: ${describeOutcome(step.predicted)}`,
    `    observed:  ${describeOutcome(step.observed)}  ${step.matches ? '✓ matches' : '✗ DOES NOT MATCH'}  (${(step.duration_ms / 1000).toFixed(1)} s)`,
    `    because:   ${step.because}`,
    ...(step.tolerance ? [`    match:     ${step.tolerance}`] : []),
    ...step.evidence.map((line) => `      · ${line}`),
  ];
  return `${lines.join('\n')}\n`;
}

const KIND_MARK: Record<DemoStep['kind'], string> = { limit: 'limit', lifted: 'lifted', evidence: 'shown' };

export function renderDemoEvent(event: DemoEvent): string {
  switch (event.type) {
    case 'demo-start':
      return `\n━━ demo ${event.name}: ${event.title}\n${event.intro}\n`;
    case 'note':
      return `! ${event.text}\n`;
    case 'setting-changed':
      return `  changed ${event.name}: ${event.from} → ${event.to}\n`;
    case 'setting-restored':
      return `  restored ${event.name}: ${event.value} ${event.restored ? '(read back: as before)' : '(NOT as before)'}\n`;
    case 'step-start':
      return `\n▶ [${KIND_MARK[event.kind]}] ${event.title}\n    about to:  ${event.plan}\n`;
    case 'step-done':
      return renderStep(event.step);
  }
}

/** What follows a demo's steps: the ways to lift the limit and the verdict. */
export function renderDemoResult(result: DemoResult): string {
  const settings = result.settings.length === 0 ? 'no setting changed' : result.restored ? 'every changed setting restored' : 'a setting was NOT restored';
  return `\nHow to lift it:\n${result.lift.map((line) => `  - ${line}`).join('\n')}\n\n` +
    `${result.name}: ${result.matches ? 'every observation matched its prediction' : 'an observation did NOT match its prediction'}; ${settings} ` +
    `(${(result.duration_ms / 1000).toFixed(1)} s)\n`;
}

/** The closing table of `demo all`. */
export function renderDemoSummary(results: readonly DemoResult[], totalMs: number): string {
  const rows = results.map((r) => [r.name, describeOutcome(r.predicted), describeOutcome(r.observed), r.matches ? 'yes' : 'NO', r.restored ? 'yes' : 'NO', `${(r.duration_ms / 1000).toFixed(1)} s`]);
  const table = renderTable(['DEMO', 'PREDICTED', 'OBSERVED', 'MATCH', 'RESTORED', 'TIME'].map((header) => ({ header })), rows);
  return `\n${table}\n${results.length} demo(s) in ${(totalMs / 1000).toFixed(1)} s\n`;
}
