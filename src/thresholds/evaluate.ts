// Thresholds against a result: every threshold with the value observed and pass or fail,
// the verdict a CI job reads. And, while a run goes on, which threshold can no longer
// pass: a metric that only grows (errors, closes, connect_ms.max) that has crossed an
// upper bound stays across it, so --abort-on-fail can stop the run there.

import type { MetricUnit } from './catalogue.ts';
import { readMetric } from './catalogue.ts';
import type { Operator, Threshold } from './expression.ts';

/** One threshold judged: the `thresholds` entries of a result's JSON. */
export interface ThresholdOutcome {
  expression: string;
  metric: string;
  operator: Operator;
  /** The bound in `unit`: a percent already turned into connections. */
  limit: number;
  /** The percent of connections.target as written, or null. */
  percent_of_target: number | null;
  /** What the result holds; null when it has no such figure (no samples, not measured). */
  observed: number | null;
  unit: MetricUnit;
  passed: boolean;
}

/** Every threshold judged, and whether all passed. */
export interface ThresholdVerdict {
  passed: boolean;
  /** The expressions that failed, in the order given. */
  failed: string[];
  checks: ThresholdOutcome[];
  /** The threshold --abort-on-fail stopped the run for (it failed), or null. */
  aborted_by: string | null;
}

/** observed OP limit. */
export function compare(observed: number, operator: Operator, limit: number): boolean {
  switch (operator) {
    case '<': return observed < limit;
    case '<=': return observed <= limit;
    case '>': return observed > limit;
    case '>=': return observed >= limit;
    case '==': return observed === limit;
  }
}

/** The bound in the metric's unit: `99.9%` of a 10,000 target is 9,990. */
export function limitOf(t: Threshold, target: number): number {
  return t.percent ? (t.value * target) / 100 : t.value;
}

function targetOf(result: unknown): number {
  const connections = (result as { connections?: { target?: unknown } } | null)?.connections;
  return typeof connections?.target === 'number' ? connections.target : 0;
}

/**
 * Judges every threshold against a result (load, bench or merged); a missing figure fails.
 * `abortedBy`: the threshold a run was stopped for; it fails whatever the end figures say.
 */
export function evaluateThresholds(thresholds: readonly Threshold[], result: unknown, abortedBy: string | null = null): ThresholdVerdict {
  const target = targetOf(result);
  const outcomes = thresholds.map((t): ThresholdOutcome => {
    const observed = readMetric(t.metric, result);
    const limit = limitOf(t, target);
    return {
      expression: t.expression, metric: t.metric.name, operator: t.operator, limit,
      percent_of_target: t.percent ? t.value : null, observed, unit: t.metric.unit,
      passed: observed !== null && compare(observed, t.operator, limit) && t.expression !== abortedBy,
    };
  });
  const failed = outcomes.filter((o) => !o.passed).map((o) => o.expression);
  return { passed: failed.length === 0, failed, checks: outcomes, aborted_by: abortedBy };
}

/** What a running load reports as it goes (HolderStats has both). */
export interface LiveCounters {
  errors: Record<string, number>;
  closed: Record<string, number>;
}

/**
 * The first threshold the run can no longer pass: a growing metric (errors, closes)
 * already above an upper bound (`<`, `<=`, `==`). Others can still change either way.
 */
export function doomedThreshold(thresholds: readonly Threshold[], live: LiveCounters, target: number): Threshold | undefined {
  return thresholds.find((t) => {
    if (!t.metric.monotone || t.operator === '>' || t.operator === '>=') return false;
    const observed = readMetric(t.metric, { ...live, connections: { target } });
    if (observed === null) return false;
    const limit = limitOf(t, target);
    return t.operator === '==' ? observed > limit : !compare(observed, t.operator, limit);
  });
}
