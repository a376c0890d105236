// `--threshold EXPR`, `--thresholds FILE` and `--abort-on-fail` for load, bench and merge:
// parsed before anything starts (a bad one exits 2 naming its token), watched while the
// run goes on (--abort-on-fail), and judged over the result: with any threshold given,
// the thresholds are the verdict (exit 0 when all pass, 1 when one fails).

import { readFileSync } from 'node:fs';
import { ConnlabError } from '../errors.ts';
import type { ResultKind } from '../thresholds/catalogue.ts';
import { doomedThreshold, evaluateThresholds, type LiveCounters, type ThresholdVerdict } from '../thresholds/evaluate.ts';
import { parseThreshold, type Threshold } from '../thresholds/expression.ts';
import { parseThresholdSuite } from '../thresholds/suite.ts';
import type { Io } from './io.ts';
import { renderThresholds } from './render/thresholds-text.ts';

export const thresholdsOption = {
  threshold: { type: 'string', multiple: true },
  thresholds: { type: 'string' },
  'abort-on-fail': { type: 'boolean' },
} as const;

export const thresholdsHelp = `  --threshold EXPR           a pass/fail check, METRIC OP VALUE (repeatable):
                             'connect_ms.p99<200ms' 'verified>=99.9%' 'errors==0'. With any
                             threshold the thresholds are the verdict: exit 0 when all pass,
                             1 when one fails (named on stderr); a malformed one exits 2
                             before anything starts. Metrics and units: docs/thresholds.md
  --thresholds FILE          thresholds from a YAML or JSON file (a list, or k6's map)
  --abort-on-fail            stop as soon as a threshold can no longer pass (an upper bound
                             on errors or closes crossed during the ramp or the hold)`;

/** The thresholds a command was given. */
export interface CommandThresholds {
  list: Threshold[];
  abortOnFail: boolean;
}

interface ThresholdValues {
  threshold?: string[];
  thresholds?: string;
  'abort-on-fail'?: boolean;
}

function readSuite(path: string, kind: ResultKind | undefined): { list: Threshold[]; abortOnFail: boolean } {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    throw new ConnlabError('CONNLAB_ERR_INVALID_ARGUMENT', `--thresholds ${path}: cannot read it`, { cause: error, hint: 'name a YAML or JSON file of thresholds' });
  }
  const suite = parseThresholdSuite(text, `--thresholds ${path}`, kind);
  return { list: suite.thresholds, abortOnFail: suite.abortOnFail };
}

/** The flags' thresholds, checked; undefined when none was given. Throws (exit 2) on a bad one. */
export function thresholdsFromFlags(values: ThresholdValues, kind?: ResultKind): CommandThresholds | undefined {
  const fromFile = values.thresholds === undefined ? { list: [], abortOnFail: false } : readSuite(values.thresholds, kind);
  const list = [...fromFile.list, ...(values.threshold ?? []).map((e) => parseThreshold(e, '--threshold', kind))];
  if (list.length === 0) {
    if (values['abort-on-fail']) throw new ConnlabError('CONNLAB_ERR_USAGE', '--abort-on-fail needs a --threshold or --thresholds FILE', { hint: "add --threshold 'errors<100'" });
    return undefined;
  }
  return { list, abortOnFail: values['abort-on-fail'] === true || fromFile.abortOnFail };
}

/** Refuses thresholds on metrics the result (known only now, for merge) does not have. */
export function checkThresholdsFor(t: CommandThresholds | undefined, kind: ResultKind): void {
  const wrong = t?.list.find((x) => !x.metric.in.includes(kind));
  if (wrong) parseThreshold(wrong.expression, '--threshold', kind);
}

/**
 * With --abort-on-fail, checks the live counters every 250 ms and calls `onDoomed` once
 * with the first threshold that can no longer pass. Returns what stops the checks and
 * the expression it fired for.
 */
export function watchThresholds(t: CommandThresholds | undefined, read: () => LiveCounters | undefined, target: number, onDoomed: () => void): { dispose(): void; abortedBy(): string | null } {
  let aborted: string | null = null;
  if (!t?.abortOnFail) return { dispose: () => {}, abortedBy: () => null };
  const timer = setInterval(() => {
    const live = read();
    const doomed = live ? doomedThreshold(t.list, live, target) : undefined;
    if (!doomed) return;
    aborted = doomed.expression;
    clearInterval(timer);
    onDoomed();
  }, 250);
  return { dispose: () => clearInterval(timer), abortedBy: () => aborted };
}

/** The verdict over a result, written out: a line per failed threshold on stderr. */
export function judgeThresholds(t: CommandThresholds | undefined, result: unknown, io: Io, command: string, abortedBy: string | null = null): ThresholdVerdict | undefined {
  if (!t) return undefined;
  const verdict = evaluateThresholds(t.list, result, abortedBy);
  if (abortedBy) io.stderr.write(`${command}: stopped early: threshold ${abortedBy} can no longer pass (--abort-on-fail)\n`);
  for (const c of verdict.checks.filter((x) => !x.passed)) {
    io.stderr.write(`${command}: threshold failed: ${c.expression} (observed ${c.observed === null ? 'nothing: not in this result' : c.observed})\n`);
  }
  return verdict;
}

/** The thresholds' table under a text result; nothing without thresholds. */
export function thresholdsText(verdict: ThresholdVerdict | undefined): string {
  return verdict ? renderThresholds(verdict) : '';
}

/** Thresholds decide the exit code when given, except after a signal (the command's own code then). */
export function thresholdsExitCode(verdict: ThresholdVerdict | undefined, ownCode: number, signalled: boolean): number {
  if (!verdict || signalled) return ownCode;
  return verdict.passed ? 0 : 1;
}
