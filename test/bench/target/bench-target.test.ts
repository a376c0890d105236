// bench --target against servers no one here wrote (nginx) and against connlab serve
// itself, started fresh for each test: memory a server freed after earlier connections
// is reused by the next ones, and a fit on a second run reads low.

import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { renderBenchReport } from '../../../src/bench/report-html.ts';
import { formatField } from '../../../src/bench/report-format.ts';
import type { BenchResult } from '../../../src/bench/result.ts';
import { startBench } from '../../../src/bench/run-bench.ts';
import { startTargetBench, type TargetBenchOptions } from '../../../src/bench/target/run-target.ts';
import { main } from '../../../src/cli/main.ts';
import { createHostReader } from '../../../src/limits/host-reader.ts';
import { readHostSnapshot } from '../../../src/limits/snapshot.ts';
import { freeLoopbackPort } from '../../../src/tuple/free-port.ts';
import { recordingIo } from '../../helpers/io.ts';
import { childrenOf, runCli, type Cli } from '../../helpers/procs.ts';
import { haveNginx, startNginx, type RealServer } from '../../helpers/real-servers.ts';

const host = () => readHostSnapshot(createHostReader('/'));

function options(port: number, pid: number, overrides: Partial<TargetBenchOptions>): TargetBenchOptions {
  return {
    destinations: [{ ip: 0x7f000001, port }], server: { pid }, connections: 3000, steps: 3, stepHoldMs: 500,
    protocol: { kind: 'http' }, host: host(), kernelPoolSize: 28_232, fdSoftLimit: 20_000, command: 'test', sampleIntervalMs: 250,
    ...overrides,
  };
}

function assertMonotoneSteps(r: BenchResult, targets: number[]): void {
  const steps = r.target?.steps ?? [];
  assert.deepEqual(steps.map((s) => s.target), targets);
  assert.deepEqual(steps.map((s) => s.established), targets, 'every step held what it asked for');
  assert.deepEqual(steps.map((s) => s.verified), targets, 'and verified it');
  assert.ok(steps.every((s) => s.ok));
  for (let i = 1; i < steps.length; i++) {
    assert.ok((steps[i]?.t ?? 0) > (steps[i - 1]?.t ?? 0));
    assert.ok((steps[i]?.kernel_sockets ?? 0) > 0);
  }
}

/** Every number of the target section the page shows is the JSON's, formatted its one way. */
function assertPageMatches(r: BenchResult): void {
  const page = renderBenchReport(r);
  assert.match(page, /<svg data-chart="server_fit"/);
  assert.match(page, /<path data-series="server_fit_fit"/);
  assert.match(page, /<svg data-chart="kernel_fit"/);
  const get = (path: string): unknown => path.split('.').reduce<unknown>((v, k) => (v as Record<string, unknown> | undefined)?.[k], r);
  const fields = [...page.matchAll(/data-field="(target\.[^"]+)">([^<]*)</g)];
  assert.ok(fields.length > 10);
  for (const [, path = '', text] of fields) assert.equal(text, formatField(path, get(path)).replace(/&/g, '&amp;'), path);
}

describe('bench --target against a fresh nginx (http, 4 workers)', { skip: !haveNginx() && 'nginx is not installed (bench/setup.sh)' }, () => {
  let nginx: RealServer;
  before(async () => (nginx = await startNginx(await freeLoopbackPort(), 4)));
  after(() => nginx?.stop());

  it('fits a positive user cost per connection, names the binding limit, and steps up monotonically', async () => {
    const r = await startTargetBench(options(nginx.port, nginx.pids[0] ?? 0, {})).done;
    assert.equal(r.outcome, 'completed');
    assertMonotoneSteps(r, [1000, 2000, 3000]);
    const t = r.target!;
    assert.equal(t.server.pids.length, 5, 'the master and its 4 workers');
    assert.equal(t.server.holders, 4, 'the workers hold the connections');
    assert.equal(t.server.fd_soft_limit, 20_000, 'nginx\'s own worker_rlimit_nofile');
    assert.ok(t.fit.bytes_per_connection > 0, `slope ${t.fit.bytes_per_connection}`);
    assert.ok(t.fit.r2 > 0 && t.fit.r2 <= 1 && t.fit.points === 3);
    assert.ok(t.kernel_bytes_per_server_socket > 0);
    assert.equal(r.memory.server_user_bytes_per_connection, Math.round(t.fit.bytes_per_connection));
    assert.equal(t.failure, null);
    assert.equal(t.extrapolation.binding, 'process_fds');
    assert.equal(t.extrapolation.processes, 4);
    assert.match(t.extrapolation.line, /^holds ~79,600 connections here, bound by process_fds .*to go further: /);
    assert.equal(r.limits.binding, 'process_fds');
    assert.deepEqual(r.errors, {});
    assertPageMatches(r);
  });
});

describe('bench --target against connlab serve itself', () => {
  let serve: Cli;
  before(async () => {
    serve = runCli(['serve', '--listen', `127.0.0.1:${await freeLoopbackPort()}`, '--workers', '2', '--duration', '120s']);
    await serve.line(/^serving on/);
  });
  after(() => serve?.cleanup());

  it('reproduces serve\'s per-connection growth as a positive slope with r²', async () => {
    const port = Number(/127\.0\.0\.1:(\d+)/.exec(serve.stderr())?.[1]);
    const r = await startTargetBench(options(port, serve.pid, { connections: 15_000, protocol: { kind: 'connlab' } })).done;
    assert.equal(r.outcome, 'completed');
    assertMonotoneSteps(r, [5000, 10_000, 15_000]);
    const t = r.target!;
    assert.equal(t.server.holders, 2, 'serve\'s two workers, not its supervisor');
    assert.ok(t.fit.bytes_per_connection > 0, `slope ${t.fit.bytes_per_connection}`);
    assert.ok(t.fit.r2 > 0 && t.fit.r2 <= 1);
    assert.equal(t.extrapolation.binding, 'process_fds');
    assert.equal(t.extrapolation.connections, 2 * (20_000 - 100));
  });
});

describe('bench --target from the command line', () => {
  it('reports the step at which a server died, with a classified error, and exits 1', { skip: !haveNginx() && 'nginx is not installed' }, async () => {
    const nginx = await startNginx(await freeLoopbackPort(), 2);
    const master = nginx.pids[0] ?? 0;
    const bench = runCli(['bench', '--target', `127.0.0.1:${nginx.port}`, '--protocol', 'http', '--server-pid', String(master),
      '--connections', '3000', '--steps', '3', '--hold', '1s', '--json', '--no-report']);
    try {
      await bench.line(/^bench: step 1\/3 held/);
      for (const pid of [...childrenOf(master), master]) process.kill(pid, 'SIGKILL');
      const { code } = await bench.exited;
      assert.equal(code, 1, bench.stderr());
      const r = JSON.parse(bench.stdout()) as BenchResult;
      assert.equal(r.outcome, 'failed');
      assert.equal(r.target?.steps[0]?.ok, true);
      const failure = r.target?.failure;
      assert.equal(failure?.step, 2);
      assert.equal(failure?.server_alive, false);
      assert.ok(failure?.error && failure.error.count > 0);
      assert.ok(['server', 'server_fds', 'server_timeout', 'server_protocol'].includes(failure.error.cause), failure.error.cause);
      assert.match(bench.stderr(), /bench: the server failed at step 2: .*the server process is gone/);
    } finally {
      await bench.cleanup();
      await nginx.stop();
    }
  });

  it('takes a URL target: the scheme sets the protocol and the name resolves to loopback', { skip: !haveNginx() && 'nginx is not installed' }, async () => {
    const nginx = await startNginx(await freeLoopbackPort(), 2);
    try {
      const io = recordingIo();
      const status = await main(['bench', '--target', `http://localhost:${nginx.port}/index.html`, '--server-pid', String(nginx.pids[0] ?? 0),
        '--connections', '600', '--steps', '2', '--hold', '200ms', '--json', '--no-report'], io);
      assert.equal(status, 0, io.err());
      const r = JSON.parse(io.out()) as BenchResult & { target: { addresses?: string[] } };
      assert.deepEqual(r.target?.steps.map((s) => s.verified), [300, 600]);
      assert.match(JSON.stringify(r.target), new RegExp(`127\\.0\\.0\\.1:${nginx.port}`));
    } finally {
      await nginx.stop();
    }
  });

  for (const [what, args, code, names] of [
    ['neither --server-pid nor --server-cgroup', ['--target', '127.0.0.1:8080'], 'USAGE', /exactly one of --server-pid/],
    ['both --server-pid and --server-cgroup', ['--target', '127.0.0.1:8080', '--server-pid', '1', '--server-cgroup', 'x'], 'USAGE', /exactly one of --server-pid PID and --server-cgroup/],
    ['a target outside loopback', ['--target', '10.0.0.1:80', '--server-pid', String(process.pid)], 'INVALID_ARGUMENT', /--target "10\.0\.0\.1:80".*loopback/],
    ['a URL that --protocol contradicts', ['--target', 'ws://127.0.0.1:8080/', '--protocol', 'http', '--server-pid', String(process.pid)], 'USAGE', /--protocol http contradicts the target ws:\/\/127\.0\.0\.1:8080\//],
    ['an IPv6 target (steps take IPv4 loopback sources)', ['--target', '[::1]:8080', '--server-pid', String(process.pid)], 'INVALID_ARGUMENT', /--target "\[::1\]:8080".*IPv4 loopback/],
    ['fewer than two steps', ['--target', '127.0.0.1:8080', '--server-pid', String(process.pid), '--steps', '1'], 'INVALID_ARGUMENT', /--steps/],
    ['a server PID that does not exist', ['--target', '127.0.0.1:8080', '--server-pid', String(2 ** 22 + 1)], 'INVALID_ARGUMENT', /no such process/],
    ['--server-pid without --target', ['--server-pid', String(process.pid)], 'USAGE', /--server-pid needs --target/],
  ] as const) {
    it(`refuses ${what} with exit status 2`, async () => {
      const io = recordingIo();
      assert.equal(await main(['bench', ...args, '--no-report'], io), 2, io.err());
      assert.match(io.err(), new RegExp(`\\[CONNLAB_ERR_${code}\\]`));
      assert.match(io.err(), names, 'the message names the flag');
    });
  }
});

describe('bench without --target', () => {
  it('keeps exactly the result keys it had (plus the books check), and no target section', async () => {
    const r = await startBench({ connections: 2000, holdMs: 200, host: host(), kernelPoolSize: 28_232, port: await freeLoopbackPort(), command: 'test' }).done;
    assert.deepEqual(Object.keys(r), [
      'schema', 'connections', 'ramp', 'memory', 'broadcast', 'limits', 'errors', 'processes', 'worker_runtime', 'outcome',
      'hold_seconds', 'hold_requested_seconds', 'deaths', 'books', 'books_balanced', 'machine', 'started_at', 'command', 'timeline', 'histograms',
    ]);
    assert.equal(r.books_balanced, true);
    assert.deepEqual(Object.keys(r.memory), [
      'kernel_bytes_per_connection', 'server_user_bytes_per_connection', 'load_user_bytes_per_connection', 'kernel_by_cache',
      'kernel_expected_bytes_per_connection', 'server_private_bytes', 'load_private_bytes',
    ]);
    assert.equal('target' in r, false);
    assert.doesNotMatch(renderBenchReport(r), /id="target"/);
  });
});
