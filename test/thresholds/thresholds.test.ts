// Thresholds as pure functions: expressions parsed (and refused, naming the token),
// values with units, percents of the target, every metric read from load and bench
// results, the verdict, the live "can no longer pass" check, and suite files.

import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { LatencyRecorder } from '../../src/engine/latency.ts';
import { isConnlabError } from '../../src/errors.ts';
import { lookupMetric, readMetric, resultKind } from '../../src/thresholds/catalogue.ts';
import { doomedThreshold, evaluateThresholds } from '../../src/thresholds/evaluate.ts';
import { parseThreshold, tryParseThreshold } from '../../src/thresholds/expression.ts';
import { parseThresholdSuite } from '../../src/thresholds/suite.ts';

const bench = JSON.parse(readFileSync(new URL('../fixtures/bench-result.json', import.meta.url), 'utf8')) as Record<string, unknown>;

function encoded(samplesUs: number[]): string {
  const r = new LatencyRecorder();
  r.record(samplesUs);
  return r.encode();
}

/** 1..100 ms, one sample each: p90 is 90 ms. */
const connectSamples = Array.from({ length: 100 }, (_, i) => (i + 1) * 1000);

const load = {
  schema: 'connlab.load/1',
  connections: { target: 10_000, established: 9_995, verified: 9_990, peak: 10_000, silent: 0 },
  ramp: { seconds: 2.5, per_second: 4000, connect_ms: { p50: 50, p99: 99, max: 100, count: 100 } },
  ping: { rtt_ms: { p50: 0.2, p99: 1.5, max: 3, count: 9_990 } },
  broadcast: { received: 0, latency_ms: { p50: 0, p99: 0, max: 0, count: 0 } },
  errors: { ECONNREFUSED: 3, ETIMEDOUT: 2 },
  closed: { peer: 4, reset: 1, local: 9_995 },
  closed_early: 0,
  memory: { load_private_bytes: 9_000_000, load_user_bytes_per_connection: 900 },
  histograms: { connect_us: encoded(connectSamples), rtt_us: encoded([200]), broadcast_us: encoded([]) },
};

describe('threshold expressions', () => {
  const good: [string, string, string, number, boolean][] = [
    ['connect_ms.p99<200', 'connect_ms.p99', '<', 200, false],
    ['connect_ms.p99 < 200ms', 'connect_ms.p99', '<', 200, false],
    ['connect_ms.max<=1s', 'connect_ms.max', '<=', 1000, false],
    ['connect_ms.p90<1.5s', 'connect_ms.p90', '<', 1500, false],
    ['rtt_ms.p99.9<500us', 'rtt_ms.p99.9', '<', 0.5, false],
    ['broadcast_ms.p50<2m', 'broadcast_ms.p50', '<', 120_000, false],
    ['verified>=99.9%', 'verified', '>=', 99.9, true],
    ['established>=100k', 'established', '>=', 100_000, false],
    ['held>=1m', 'held', '>=', 1_000_000, false],
    ['errors==0', 'errors', '==', 0, false],
    ['errors<1%', 'errors', '<', 1, true],
    ['errors.EADDRNOTAVAIL==0', 'errors.EADDRNOTAVAIL', '==', 0, false],
    ['closed.reset<=10', 'closed.reset', '<=', 10, false],
    ['ramp.per_second>5k/s', 'ramp.per_second', '>', 5000, false],
    ['ramp.per_second>=2_500', 'ramp.per_second', '>=', 2500, false],
    ['ramp.seconds<30', 'ramp.seconds', '<', 30, false],
    ['ramp.seconds<500ms', 'ramp.seconds', '<', 0.5, false],
    ['memory.server_user_bytes_per_connection<64KiB', 'memory.server_user_bytes_per_connection', '<', 65_536, false],
    ['memory.kernel_bytes_per_connection<=8kb', 'memory.kernel_bytes_per_connection', '<=', 8000, false],
    ['  verified > 9,990 ', 'verified', '>', 9990, false],
  ];
  for (const [text, metric, operator, value, percent] of good) {
    it(`parses ${JSON.stringify(text)}`, () => {
      const t = parseThreshold(text);
      assert.deepEqual([t.metric.name, t.operator, t.percent], [metric, operator, percent]);
      assert.ok(Math.abs(t.value - value) < 1e-9, `${t.value} vs ${value}`);
      assert.equal(t.expression, text.trim());
    });
  }

  const bad: [string, string][] = [
    ['conect_ms.p99<200', 'conect_ms.p99'],
    ['connect_ms.p999<200', 'connect_ms.p999'],
    ['connect_ms.p99<<200', '<200'],
    ['connect_ms.p99=200', '=200'],
    ['connect_ms.p99 != 200', '!='],
    ['connect_ms.p99', '(end)'],
    ['connect_ms.p99<', '(end)'],
    ['connect_ms.p99<64KiB', '64KiB'],
    ['connect_ms.p99<5%', '5%'],
    ['verified>=101%', '101%'],
    ['verified>=-1', '-1'],
    ['memory.server_user_bytes_per_connection<1s', '1s'],
    ['closed.nonsense>0', 'closed.nonsense'],
    ['<200', '<200'],
    ['', ''],
  ];
  for (const [text, token] of bad) {
    it(`refuses ${JSON.stringify(text)}, naming ${JSON.stringify(token)}`, () => {
      const outcome = tryParseThreshold(text);
      assert.equal(outcome.ok, false);
      if (!outcome.ok) assert.equal(outcome.error.token, token);
      assert.throws(() => parseThreshold(text), (e: unknown) => isConnlabError(e) && e.code === 'CONNLAB_ERR_INVALID_ARGUMENT' && e.message.includes(JSON.stringify(token)));
    });
  }

  it('suggests the nearest name for a misspelt metric', () => {
    const outcome = tryParseThreshold('conect_ms.p99<200');
    assert.ok(!outcome.ok && outcome.error.expected.includes('did you mean connect_ms.p99?'));
    const far = tryParseThreshold('latency<200');
    assert.ok(!far.ok && !far.error.expected.includes('did you mean'));
  });

  it('refuses a metric the command\'s result does not have', () => {
    assert.equal(tryParseThreshold('rtt_ms.p99<10', 'bench').ok, false);
    assert.equal(tryParseThreshold('closed.reset<10', 'bench').ok, false);
    assert.equal(tryParseThreshold('extrapolation.connections>=1m', 'load').ok, false);
    assert.equal(tryParseThreshold('rtt_ms.p99<10', 'load').ok, true);
  });
});

describe('reading metrics from results', () => {
  const read = (name: string, result: unknown): number | null => readMetric(lookupMetric(name)!, result);

  it('tells load results from bench results by schema', () => {
    assert.equal(resultKind(load), 'load');
    assert.equal(resultKind(bench), 'bench');
    assert.equal(resultKind({ schema: 'connlab.load/1', merged: {} }), 'load');
  });

  it('reads a load result by the JSON\'s names', () => {
    assert.equal(read('established', load), 9_995);
    assert.equal(read('held', load), 9_995);
    assert.equal(read('verified', load), 9_990);
    assert.equal(read('peak', load), 10_000);
    assert.equal(read('errors', load), 5);
    assert.equal(read('errors.ETIMEDOUT', load), 2);
    assert.equal(read('errors.EMFILE', load), 0, 'an errno not seen is zero');
    assert.equal(read('closed', load), 5, 'load\'s own closes at the end are not counted');
    assert.equal(read('closed.peer', load), 4);
    assert.equal(read('closed.tls', load), 0);
    assert.equal(read('connect_ms.p99', load), 99);
    assert.equal(read('rtt_ms.max', load), 3);
    assert.equal(read('ramp.per_second', load), 4000);
    assert.equal(read('memory.load_user_bytes_per_connection', load), 900);
  });

  it('reads percentiles the summary lacks from the encoded histogram', () => {
    assert.ok(Math.abs((read('connect_ms.p90', load) ?? 0) - 90) < 0.1);
    assert.ok(Math.abs((read('connect_ms.p99.9', load) ?? 0) - 100) < 0.1);
  });

  it('has no value where nothing was measured', () => {
    assert.equal(read('broadcast_ms.p99', load), null, 'no samples');
    assert.equal(read('memory.server_user_bytes_per_connection', load), null);
    assert.equal(read('connect_ms.p90', bench), null, 'no histogram in the result');
  });

  it('reads a bench result, broadcast from its own keys', () => {
    assert.equal(read('verified', bench), 99_998);
    assert.equal(read('errors', bench), 2);
    assert.equal(read('broadcast_ms.p99', bench), 118.6);
    assert.equal(read('broadcast_ms.max', bench), 164.9);
    assert.equal(read('broadcast.delivered', bench), 99_998);
    assert.equal(read('memory.kernel_bytes_per_connection', bench), 7812);
  });
});

describe('the verdict', () => {
  const judge = (exprs: string[], result: unknown) => evaluateThresholds(exprs.map((e) => parseThreshold(e)), result);

  it('lists every threshold with its observed value, limit and pass/fail', () => {
    const v = judge(['connect_ms.p99<200ms', 'verified>=99.9%', 'errors==0'], load);
    assert.equal(v.passed, false);
    assert.deepEqual(v.failed, ['errors==0']);
    assert.deepEqual(v.checks.map((t) => [t.metric, t.observed, t.limit, t.passed]), [
      ['connect_ms.p99', 99, 200, true],
      ['verified', 9_990, 9_990, true],
      ['errors', 5, 0, false],
    ]);
    assert.equal(v.checks[1]?.percent_of_target, 99.9);
    assert.equal(v.checks[0]?.percent_of_target, null);
  });

  it('fails a threshold whose metric the result does not have', () => {
    const v = judge(['broadcast_ms.p99<100'], load);
    assert.equal(v.passed, false);
    assert.equal(v.checks[0]?.observed, null);
  });

  it('passes every operator on its boundary the way it reads', () => {
    const at = (op: string): boolean => judge([`verified${op}9990`], load).passed;
    assert.deepEqual(['<', '<=', '>', '>=', '=='].map(at), [false, true, false, true, true]);
  });

  it('fails the threshold a run was aborted for, whatever the end figures say', () => {
    const v = evaluateThresholds([parseThreshold('errors<100')], load, 'errors<100');
    assert.deepEqual([v.passed, v.aborted_by, v.checks[0]?.observed], [false, 'errors<100', 5]);
  });

  it('passes with no thresholds at all', () => {
    assert.equal(judge([], load).passed, true);
  });
});

describe('can no longer pass (--abort-on-fail)', () => {
  const doomed = (exprs: string[], errors: Record<string, number>, closed: Record<string, number> = {}) =>
    doomedThreshold(exprs.map((e) => parseThreshold(e)), { errors, closed }, 1000)?.expression;

  it('names an upper bound on a growing count once it is crossed', () => {
    assert.equal(doomed(['errors<10'], { ECONNREFUSED: 9 }), undefined);
    assert.equal(doomed(['errors<10'], { ECONNREFUSED: 9, ETIMEDOUT: 1 }), 'errors<10');
    assert.equal(doomed(['errors==0'], { EMFILE: 1 }), 'errors==0');
    assert.equal(doomed(['errors<=1%'], { EMFILE: 10 }), undefined, '1% of 1000 is 10');
    assert.equal(doomed(['errors<=1%'], { EMFILE: 11 }), 'errors<=1%');
    assert.equal(doomed(['closed.reset<5'], {}, { reset: 5 }), 'closed.reset<5');
  });

  it('never aborts on a bound that can still be met', () => {
    assert.equal(doomed(['errors>5'], { EMFILE: 1 }), undefined, 'errors may still grow past it');
    assert.equal(doomed(['verified>=99%', 'connect_ms.p99<1'], { EMFILE: 100 }), undefined);
  });
});

describe('thresholds files', () => {
  it('reads a YAML list under thresholds:, with abort_on_fail', () => {
    const s = parseThresholdSuite('thresholds:\n  - connect_ms.p99<200ms\n  - "verified>=99.9%"\nabort_on_fail: true\n', 'ci.yaml');
    assert.deepEqual(s.thresholds.map((t) => t.expression), ['connect_ms.p99<200ms', 'verified>=99.9%']);
    assert.equal(s.abortOnFail, true);
  });

  it('reads k6\'s map of metric to conditions, in JSON too', () => {
    const s = parseThresholdSuite('{"thresholds": {"connect_ms": ["p99<200", "max<1s"], "verified": ">=99.9%", "errors": "==0"}}', 'ci.json');
    assert.deepEqual(s.thresholds.map((t) => t.expression), ['connect_ms.p99<200', 'connect_ms.max<1s', 'verified>=99.9%', 'errors==0']);
    assert.equal(s.abortOnFail, false);
  });

  it('reads a bare list', () => {
    assert.equal(parseThresholdSuite('- errors==0\n', 'x.yaml').thresholds.length, 1);
  });

  it('refuses a bad entry naming the file and the token', () => {
    for (const text of ['thresholds:\n  - connect_ms.p99<<1\n', '- 42\n', 'thresholds: 3\n', 'abort_on_fail: maybe\nthresholds: []\n', 'a: [\n']) {
      assert.throws(() => parseThresholdSuite(text, 'ci.yaml'), (e: unknown) => isConnlabError(e) && e.code === 'CONNLAB_ERR_INVALID_ARGUMENT' && e.message.startsWith('ci.yaml'), text);
    }
  });
});
