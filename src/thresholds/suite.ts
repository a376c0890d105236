// A suite of thresholds kept in a repository (`--thresholds FILE`), YAML or JSON (JSON is
// YAML). Two shapes, each under an optional `thresholds:` key:
//   a list of expressions          - connect_ms.p99<200ms
//   k6's map, metric → conditions  connect_ms: [p99<200ms, max<1s]   verified: '>=99.9%'
// plus `abort_on_fail: true`. Pure: the CLI reads the file and hands over its text.

import { parse } from 'yaml';
import { ConnlabError } from '../errors.ts';
import type { ResultKind } from './catalogue.ts';
import { parseThreshold, type Threshold } from './expression.ts';

/** What a thresholds file says. */
export interface ThresholdSuite {
  thresholds: Threshold[];
  abortOnFail: boolean;
}

function invalid(source: string, what: string): ConnlabError {
  return new ConnlabError('CONNLAB_ERR_INVALID_ARGUMENT', `${source}: ${what}`, {
    hint: 'a list of expressions (- connect_ms.p99<200ms) or a map (connect_ms: [p99<200ms]) under thresholds: (docs/thresholds.md)',
  });
}

/** `connect_ms` + `p99<200ms` → `connect_ms.p99<200ms`; `verified` + `>=99.9%` → `verified>=99.9%`. */
function joinCondition(metric: string, condition: string): string {
  const text = condition.trim();
  return /^[<>=]/.test(text) ? `${metric}${text}` : `${metric}.${text}`;
}

function expressionsOf(body: unknown, source: string): string[] {
  if (Array.isArray(body)) {
    return body.map((entry, i) => {
      if (typeof entry !== 'string') throw invalid(source, `entry ${i + 1} is not an expression string`);
      return entry;
    });
  }
  if (body !== null && typeof body === 'object') {
    return Object.entries(body).flatMap(([metric, conditions]) => {
      const list: unknown[] = Array.isArray(conditions) ? conditions : [conditions];
      return list.map((c) => {
        if (typeof c !== 'string' && typeof c !== 'number') throw invalid(source, `${metric}: conditions are strings like 'p99<200ms' or '>=99.9%'`);
        return joinCondition(metric, String(c));
      });
    });
  }
  throw invalid(source, 'expected a list or a map of thresholds');
}

/** Parses a thresholds file's text; every expression is checked as --threshold checks it. */
export function parseThresholdSuite(text: string, source: string, kind?: ResultKind): ThresholdSuite {
  let doc: unknown;
  try {
    doc = parse(text);
  } catch (error) {
    throw new ConnlabError('CONNLAB_ERR_INVALID_ARGUMENT', `${source}: not YAML or JSON`, { cause: error, hint: 'check the file with a YAML linter' });
  }
  const isMap = doc !== null && typeof doc === 'object' && !Array.isArray(doc);
  const top = isMap ? (doc as Record<string, unknown>) : {};
  const wrapped = isMap && ('thresholds' in top || 'abort_on_fail' in top);
  const abort = wrapped ? top['abort_on_fail'] ?? false : false;
  if (typeof abort !== 'boolean') throw invalid(source, 'abort_on_fail is true or false');
  const body = wrapped ? top['thresholds'] ?? [] : doc;
  const thresholds = expressionsOf(body, source).map((e) => parseThreshold(e, source, kind));
  return { thresholds, abortOnFail: abort };
}
