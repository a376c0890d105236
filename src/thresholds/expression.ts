// A threshold as a user writes it: `METRIC OP VALUE`, k6's spirit in connlab's names
// (`connect_ms.p99<200ms`, `verified>=99.9%`, `errors==0`). The parser is pure and says
// which token is wrong, so a bad expression stops the command before anything starts.
// Values carry the metric's units: durations for `_ms` metrics (a bare number is ms),
// sizes for bytes, `k`/`m` for counts and rates, `%` of the target for connection counts.

import { ConnlabError } from '../errors.ts';
import { BYTE_SUFFIX, COUNT_SUFFIX } from '../units.ts';
import { lookupMetric, METRIC_EXAMPLES, type MetricDef, type MetricUnit, type ResultKind } from './catalogue.ts';

export const OPERATORS = ['<', '<=', '>', '>=', '=='] as const;

/** A comparison: observed OP value. */
export type Operator = (typeof OPERATORS)[number];

/** One parsed threshold. */
export interface Threshold {
  /** As written (trimmed): how reports name it. */
  expression: string;
  metric: MetricDef;
  operator: Operator;
  /** The bound in the metric's unit (ms, bytes, …); for a percent, the percent itself. */
  value: number;
  /** `99.9%`: `value` is a percent of connections.target. */
  percent: boolean;
}

/** Why an expression does not parse: the token at fault and what belonged there. */
export interface ThresholdSyntaxError {
  token: string;
  expected: string;
}

export type ParseOutcome = { ok: true; threshold: Threshold } | { ok: false; error: ThresholdSyntaxError };

const DURATION_IN_MS: Record<string, number> = { '': 1, us: 1e-3, 'µs': 1e-3, ms: 1, s: 1e3, m: 60e3, min: 60e3, h: 3600e3 };
const DURATION_IN_S: Record<string, number> = { '': 1, ms: 1e-3, s: 1, m: 60, min: 60, h: 3600 };
const RATE: Record<string, number> = { ...COUNT_SUFFIX, ...Object.fromEntries(Object.entries(COUNT_SUFFIX).map(([k, v]) => [`${k}/s`, v])) };

/** Suffixes each unit takes (lower case), and how it is described in an error. */
const UNIT_SUFFIXES: Record<MetricUnit, { table: Record<string, number>; expected: string }> = {
  connections: { table: COUNT_SUFFIX, expected: 'a count like 9990, 10k or a percent of the target like 99.9%' },
  ms: { table: DURATION_IN_MS, expected: 'a duration like 200 (ms), 200ms, 1.5s or 500us' },
  seconds: { table: DURATION_IN_S, expected: 'a duration like 30 (s), 30s, 2m or 500ms' },
  bytes: { table: BYTE_SUFFIX, expected: 'a size like 4096, 64KiB or 1MiB' },
  per_second: { table: RATE, expected: 'a rate like 5000, 5k or 5k/s' },
  ratio: { table: { '': 1 }, expected: 'a plain number like 0.95' },
};

const fail = (token: string, expected: string): ParseOutcome => ({ ok: false, error: { token, expected } });

/** The metric name's token: letters, digits, `_` and `.` (`connect_ms.p99.9`). */
function splitMetric(text: string): [string, string] {
  const match = /^[A-Za-z0-9_.]*/.exec(text);
  const name = match?.[0] ?? '';
  return [name, text.slice(name.length).trimStart()];
}

function splitOperator(text: string): [Operator | undefined, string] {
  const op = (['<=', '>=', '==', '<', '>'] as const).find((o) => text.startsWith(o));
  return op ? [op, text.slice(op.length).trimStart()] : [undefined, text];
}

/** A value in the metric's unit: `[value, percent]`, or undefined when it is not one. */
function parseValue(text: string, def: MetricDef): [number, boolean] | undefined {
  const match = /^(\d+(?:\.\d+)?)\s*([A-Za-zµ/%]*)$/.exec(text.replaceAll('_', '').replaceAll(',', ''));
  if (!match) return undefined;
  const number = Number(match[1]);
  const suffix = (match[2] ?? '').toLowerCase();
  if (suffix === '%') return def.percent && number <= 100 ? [number, true] : undefined;
  const scale = UNIT_SUFFIXES[def.unit].table[suffix];
  return scale === undefined ? undefined : [number * scale, false];
}

function expectedValue(def: MetricDef, text: string): string {
  const expected = UNIT_SUFFIXES[def.unit].expected;
  return text.endsWith('%') && !def.percent ? `${expected} (no percent: ${def.name} is not a count of connections)` : expected;
}

/** Edit distance, for "did you mean": names are short, so the plain table is fine. */
function distance(a: string, b: string): number {
  let row = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const next = [i];
    for (let j = 1; j <= b.length; j++) next[j] = Math.min((row[j] ?? 0) + 1, (next[j - 1] ?? 0) + 1, (row[j - 1] ?? 0) + (a[i - 1] === b[j - 1] ? 0 : 1));
    row = next;
  }
  return row[b.length] ?? 0;
}

function expectedMetric(name: string): string {
  const [best] = [...METRIC_EXAMPLES].sort((x, y) => distance(name, x) - distance(name, y));
  const near = best !== undefined && distance(name, best) <= 3 ? ` (did you mean ${best}?)` : '';
  return `a metric name${near}: established, verified, errors, connect_ms.p99, rtt_ms.p90, memory.*_bytes_per_connection, … (docs/thresholds.md)`;
}

/**
 * Parses `METRIC OP VALUE` without throwing. `kind`, when given, rejects metrics that the
 * command's result does not have (`rtt_ms.p99` on bench).
 */
export function tryParseThreshold(input: string, kind?: ResultKind): ParseOutcome {
  const expression = input.trim();
  const [name, afterName] = splitMetric(expression);
  if (name === '') return fail(expression.split(/\s+/)[0] ?? expression, 'a metric name first, like connect_ms.p99 or verified');
  const def = lookupMetric(name);
  if (!def) return fail(name, expectedMetric(name));
  if (kind !== undefined && !def.in.includes(kind)) return fail(name, `a metric that connlab ${kind}'s result has (${name} is only in ${def.in.join(', ')} results)`);
  const [operator, afterOp] = splitOperator(afterName);
  if (!operator) return fail(afterName.split(/\s+/)[0] || '(end)', `an operator: ${OPERATORS.join(' ')}`);
  const valueText = afterOp.trim();
  const parsed = parseValue(valueText, def);
  if (!parsed) return fail(valueText || '(end)', expectedValue(def, valueText));
  return { ok: true, threshold: { expression, metric: def, operator, value: parsed[0], percent: parsed[1] } };
}

/** Parses a threshold or throws CONNLAB_ERR_INVALID_ARGUMENT naming `source`, the expression and the token. */
export function parseThreshold(input: string, source = '--threshold', kind?: ResultKind): Threshold {
  const outcome = tryParseThreshold(input, kind);
  if (outcome.ok) return outcome.threshold;
  const { token, expected } = outcome.error;
  throw new ConnlabError('CONNLAB_ERR_INVALID_ARGUMENT', `${source} ${JSON.stringify(input)}: ${JSON.stringify(token)} is wrong here: expected ${expected}`, {
    hint: 'write METRIC OP VALUE, e.g. --threshold \'connect_ms.p99<200ms\' --threshold \'verified>=99.9%\' (docs/thresholds.md)',
  });
}
