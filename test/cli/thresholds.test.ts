// --threshold on load, bench and merge as a CI job meets it: a passing set exits 0, a
// failing one exits 1 and names itself, a malformed one exits 2 before a connection is
// opened, --abort-on-fail cuts a doomed run short, and --thresholds reads a file.

import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { spawn } from 'node:child_process';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { main } from '../../src/cli/main.ts';
import { LatencyRecorder } from '../../src/engine/latency.ts';
import { renderThresholds } from '../../src/cli/render/thresholds-text.ts';
import { thresholdsExitCode } from '../../src/cli/thresholds-flag.ts';
import { evaluateThresholds, type ThresholdVerdict } from '../../src/thresholds/evaluate.ts';
import { parseThreshold } from '../../src/thresholds/expression.ts';
import { freePort } from '../helpers/net.ts';
import { recordingIo, runMain as run } from '../helpers/io.ts';


/** The bench fixture with the histograms merge needs (connect 1..100 ms, broadcast 100 ms). */
function benchResultFile(dir: string, name: string): string {
  const r = JSON.parse(readFileSync(new URL('../fixtures/bench-result.json', import.meta.url), 'utf8'));
  const encode = (samples: number[]): string => {
    const h = new LatencyRecorder();
    h.record(samples);
    return h.encode();
  };
  r.histograms = { connect_us: encode(Array.from({ length: 100 }, (_, i) => (i + 1) * 1000)), rtt_us: encode([]), broadcast_us: encode([100_000]) };
  const path = join(dir, name);
  writeFileSync(path, JSON.stringify(r));
  return path;
}

describe('the verdict as the CLI gives it', () => {
  const verdict = (passed: boolean): ThresholdVerdict => ({ passed, failed: passed ? [] : ['errors==0'], checks: [], aborted_by: null });

  it('decides the exit status when thresholds were given, except after a signal', () => {
    assert.equal(thresholdsExitCode(undefined, 1, false), 1, 'no thresholds: the command\'s own verdict');
    assert.equal(thresholdsExitCode(verdict(true), 1, false), 0, 'thresholds replace it');
    assert.equal(thresholdsExitCode(verdict(false), 0, false), 1);
    assert.equal(thresholdsExitCode(verdict(true), 130, true), 130, 'Ctrl-C stays 130');
  });

  it('prints each figure in its metric\'s unit, and a missing one as such', () => {
    const check = (expression: string, observed: number | null): ThresholdVerdict['checks'][number] => {
      const v = evaluateThresholds([parseThreshold(expression)], { connections: { target: 1000 } });
      return { ...(v.checks[0] as ThresholdVerdict['checks'][number]), observed };
    };
    const text = renderThresholds({ passed: false, failed: ['ramp.seconds<1m'], aborted_by: null, checks: [
      check('memory.server_user_bytes_per_connection<64KiB', 2600), check('ramp.per_second>5k', 12_345.6),
      check('ramp.seconds<1m', 75.5), check('verified>=99.5%', 995), check('fit.r2>0.9', 0.95), check('connect_ms.p90<1s', null),
    ] });
    assert.match(text, /2,600 B \(2\.5 KiB\) +< 65,536 B \(64\.0 KiB\)/);
    assert.match(text, /12,346\/s +> 5,000\/s/);
    assert.match(text, /75\.5 s +< 60 s/);
    assert.match(text, /995 +>= 995 \(99\.5% of the target\)/);
    assert.match(text, /0\.95 +> 0\.9/);
    assert.match(text, /not in this result +< 1,000 ms/);
  });
});

describe('load --threshold against a plain TCP server', () => {
  let server: net.Server;
  let port: number;
  let accepted = 0;
  const sockets = new Set<net.Socket>();
  const dir = mkdtempSync(join(tmpdir(), 'connlab-thresholds-'));

  before(async () => {
    server = net.createServer((s) => {
      accepted += 1;
      sockets.add(s.on('close', () => sockets.delete(s)));
    });
    port = await freePort();
    await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
  });
  after(() => {
    for (const s of sockets) s.destroy();
    server.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const load = (...extra: string[]) => run(['load', `127.0.0.1:${port}`, '-c', '200', '--duration', '0s', '--ping', '0', ...extra]);

  it('exits 0 when every threshold passes, and the JSON lists each with its observed value', async () => {
    const { status, out } = await load('--threshold', 'connect_ms.p99<10s', '--threshold', 'verified>=99.9%', '--threshold', 'errors==0', '--json');
    assert.equal(status, 0);
    const r = JSON.parse(out);
    assert.equal(r.thresholds.passed, true);
    assert.deepEqual(r.thresholds.checks.map((c: { metric: string; observed: number; passed: boolean }) => [c.metric, c.passed]), [
      ['connect_ms.p99', true], ['verified', true], ['errors', true],
    ]);
    assert.equal(r.thresholds.checks[1].observed, 200);
    assert.equal(r.thresholds.checks[1].limit, 199.8);
  });

  it('exits 1 when one fails, names it on stderr, and prints the table', async () => {
    const { status, out, err } = await load('--threshold', 'verified>=100', '--threshold', 'connect_ms.max<1us');
    assert.equal(status, 1);
    assert.match(err, /load: threshold failed: connect_ms\.max<1us \(observed [\d.]+\)/);
    assert.doesNotMatch(err, /threshold failed: verified/);
    assert.match(out, /thresholds: 1 of 2 passed/);
    assert.match(out, /connect_ms\.max<1us .* FAIL/);
  });

  it('lets thresholds pass a run that is short of the target (the thresholds are the verdict)', async () => {
    const { status, err } = await run(['load', `127.0.0.1:${port},127.0.0.1:${await freePort()}`, '-c', '200', '--duration', '0s', '--ping', '0', '--threshold', 'verified>=40%', '--threshold', 'errors<=60%']);
    assert.match(err, /short of the target/, 'the built-in check still says what it saw');
    assert.equal(status, 0);
  });

  it('exits 2 on a malformed threshold before opening a connection, naming the token', async () => {
    const before = accepted;
    for (const bad of ['connect_ms.p99<<200', 'conect_ms.p99<200', 'verified>=99.9x', 'rtt_ms.p99<64KiB']) {
      const { status, err } = await load('--threshold', 'errors==0', '--threshold', bad);
      assert.equal(status, 2, bad);
      assert.match(err, /\[CONNLAB_ERR_INVALID_ARGUMENT\]/);
    }
    const { err } = await load('--threshold', 'connect_ms.p99<<200');
    assert.ok(err.includes('"<200" is wrong here'), err);
    assert.equal(accepted, before, 'no connection was opened');
    assert.equal((await load('--abort-on-fail')).status, 2, '--abort-on-fail alone is a usage error');
  });

  it('reads a --thresholds file (k6\'s map) and adds --threshold to it', async () => {
    const file = join(dir, 'ci.yaml');
    writeFileSync(file, 'thresholds:\n  connect_ms: [p99<10s, max<10s]\n  verified: ">=99%"\n');
    const { status, out } = await load('--thresholds', file, '--threshold', 'errors==0', '--json');
    assert.equal(status, 0);
    assert.deepEqual(JSON.parse(out).thresholds.checks.map((c: { expression: string }) => c.expression), ['connect_ms.p99<10s', 'connect_ms.max<10s', 'verified>=99%', 'errors==0']);
    writeFileSync(file, '- connect_ms.p99<\n');
    assert.equal((await load('--thresholds', file)).status, 2);
  });
});

describe('load --abort-on-fail', () => {
  it('stops the ramp once errors cross an upper bound, and says which threshold', async () => {
    const port = await freePort();
    const started = performance.now();
    const io = recordingIo();
    const status = await main(['load', `127.0.0.1:${port}`, '-c', '20000', '--rate', '500', '--duration', '30s', '--threshold', 'errors<5', '--abort-on-fail', '--json'], io);
    assert.equal(status, 1);
    const r = JSON.parse(io.out());
    assert.equal(r.stopped_by, 'threshold');
    assert.equal(r.thresholds.aborted_by, 'errors<5');
    assert.ok(r.errors.ECONNREFUSED >= 5);
    assert.ok(r.errors.ECONNREFUSED < 20_000, 'the ramp did not run to its end');
    assert.match(io.err(), /stopped early: threshold errors<5 can no longer pass/);
    assert.ok(performance.now() - started < 30_000, 'nor the hold');
  });
});

describe('bench --threshold', () => {
  it('judges the bench result, and a failed threshold exits 1 although the run completed', async () => {
    const { status, out, err } = await run(['bench', '--connections', '200', '--hold', '0s', '--no-report', '--json',
      '--threshold', 'verified>=99%', '--threshold', 'broadcast_ms.max<1us']);
    const r = JSON.parse(out);
    assert.equal(r.outcome, 'completed');
    assert.equal(status, 1);
    assert.deepEqual(r.thresholds.checks.map((c: { passed: boolean }) => c.passed), [true, false]);
    assert.match(err, /bench: threshold failed: broadcast_ms\.max<1us/);
    assert.equal((await run(['bench', '--threshold', 'rtt_ms.p99<1'])).status, 2, 'bench has no rtt_ms');
  });
});

describe('merge of results that carry their own verdict', () => {
  const dir = mkdtempSync(join(tmpdir(), 'connlab-thresholds-'));
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('drops the inputs\' thresholds: they say nothing of the sum', async () => {
    const a = benchResultFile(dir, 'a.json');
    const judged = JSON.parse(readFileSync(a, 'utf8'));
    judged.thresholds = { passed: false, failed: ['errors==0'], checks: [], aborted_by: null };
    writeFileSync(a, JSON.stringify(judged));
    const { status, out } = await run(['merge', a, benchResultFile(dir, 'b.json'), '--json']);
    assert.equal(status, 0);
    assert.equal('thresholds' in JSON.parse(out), false);
  });
});

describe('bench --target --abort-on-fail', () => {
  it('stops the step whose errors cross the bound, and names the threshold', async () => {
    const port = await freePort();
    // A server that stops listening after 300 connections: step 2 meets ECONNREFUSED.
    const script = `const net=require('net');const held=[];const s=net.createServer((c)=>{held.push(c);if(held.length>=300)s.close();});s.listen(${port},'127.0.0.1',()=>process.stdout.write('up\\n'));setTimeout(()=>process.exit(0),60000);`;
    const server = spawn(process.execPath, ['-e', script], { stdio: ['ignore', 'pipe', 'inherit'] });
    try {
      await new Promise((resolve) => server.stdout.once('data', resolve));
      const { status, out, err } = await run(['bench', '--target', `127.0.0.1:${port}`, '--server-pid', String(server.pid), '--connections', '3000', '--steps', '3',
        // At 300/s step 2 lasts over 3 s: the live counters (worker reports, once a second) see
        // the errors long before its 1,000 connects are all tried, however busy the machine.
        '--rate', '300', '--no-report', '--json', '--threshold', 'errors<10', '--abort-on-fail']);
      assert.equal(status, 1, err);
      const r = JSON.parse(out);
      assert.equal(r.thresholds.aborted_by, 'errors<10');
      assert.ok(r.errors.ECONNREFUSED >= 10);
      assert.ok(r.errors.ECONNREFUSED < 700, 'step 2 did not run to its end');
      assert.match(err, /stopped early: threshold errors<10 can no longer pass/);
    } finally {
      server.kill('SIGKILL');
    }
  });
});

describe('merge --threshold', () => {
  const dir = mkdtempSync(join(tmpdir(), 'connlab-thresholds-'));
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('judges the merged result: 0 when all pass, 1 when one fails, 2 for a metric it lacks', async () => {
    const fixture = benchResultFile(dir, 'a.json');
    const other = benchResultFile(dir, 'b.json');
    const pass = await run(['merge', fixture, other, '--threshold', 'verified>=99.9%', '--threshold', 'broadcast_ms.p99<200ms', '--threshold', 'connect_ms.p90<=91ms', '--json']);
    assert.equal(pass.status, 0, pass.err);
    const merged = JSON.parse(pass.out);
    assert.equal(merged.thresholds.passed, true);
    assert.equal(merged.thresholds.checks[0].limit, 199_800, '99.9% of the merged target, 200,000');
    const fail = await run(['merge', fixture, other, '--threshold', 'errors==0']);
    assert.equal(fail.status, 1);
    assert.match(fail.err, /threshold failed: errors==0 \(observed 4\)/);
    const report = join(dir, 'merged.html');
    await run(['merge', fixture, other, '--threshold', 'errors==0', '--report', report]);
    const page = readFileSync(report, 'utf8');
    assert.match(page, /<section id="thresholds">/);
    assert.match(page, /data-verdict="fail">1 of 1 thresholds failed: errors==0/);
    const lacks = await run(['merge', fixture, '--threshold', 'rtt_ms.p99<10']);
    assert.equal(lacks.status, 2);
    assert.match(lacks.err, /"rtt_ms\.p99" is wrong here/);
  });
});
