// Thresholds: `METRIC OP VALUE` checks over a load, bench or merged result, the verdict
// a CI job reads (docs/thresholds.md).

export { CLOSE_REASONS, lookupMetric, METRIC_EXAMPLES, readMetric, resultKind, type MetricDef, type MetricUnit, type ResultKind } from './catalogue.ts';
export { OPERATORS, parseThreshold, tryParseThreshold, type Operator, type ParseOutcome, type Threshold, type ThresholdSyntaxError } from './expression.ts';
export { compare, doomedThreshold, evaluateThresholds, limitOf, type LiveCounters, type ThresholdOutcome, type ThresholdVerdict } from './evaluate.ts';
export { parseThresholdSuite, type ThresholdSuite } from './suite.ts';
