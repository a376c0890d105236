import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { StatusLine, progressBar } from '../../src/cli/render/status-line.ts';
import { createServeRegistry, startMetricsServer } from '../../src/server/metrics.ts';
import { startServe } from '../../src/server/serve.ts';
import { freePort } from '../helpers/net.ts';
import { runMain as run } from '../helpers/io.ts';


describe('connlab serve and load: bad input', () => {
  it('answers each mistake with one line, its code and exit status 2', async () => {
    const cases: [string[], string][] = [
      [['serve'], 'CONNLAB_ERR_USAGE'],
      [['serve', '--listen', '127.0.0.1'], 'CONNLAB_ERR_INVALID_ARGUMENT'],
      [['serve', '--listen', '127.0.0.1:9000', '--workers', '0'], 'CONNLAB_ERR_INVALID_ARGUMENT'],
      [['serve', '--listen', '127.0.0.1:9000', '--holder', 'java'], 'CONNLAB_ERR_INVALID_ARGUMENT'],
      [['serve', '--listen', '127.0.0.1:9000', '--send-buffer', '1k'], 'CONNLAB_ERR_INVALID_ARGUMENT'],
      [['serve', '--listen', '127.0.0.1:9000', '--send-buffer', 'big'], 'CONNLAB_ERR_INVALID_ARGUMENT'],
      [['serve', '--listen', '127.0.0.1:9000', '--stall-timeout', 'soon'], 'CONNLAB_ERR_INVALID_ARGUMENT'],
      [['load', '-c', '10'], 'CONNLAB_ERR_USAGE'],
      [['load', '127.0.0.1:9000'], 'CONNLAB_ERR_USAGE'],
      [['load', 'ws://127.0.0.1:9000/', '-c', '1', '--protocol', 'mqtt'], 'CONNLAB_ERR_USAGE'],
      [['load', '::1:9000', '-c', '1'], 'CONNLAB_ERR_INVALID_ARGUMENT'],
      [['load', '127.0.0.1:9000', '-c', '1', '--ip-family', '5'], 'CONNLAB_ERR_INVALID_ARGUMENT'],
      [['load', '127.0.0.1:9000', '-c', '1', '--resolve', 'name:80'], 'CONNLAB_ERR_INVALID_ARGUMENT'],
      [['serve', '--listen', 'ws://127.0.0.1:9000/'], 'CONNLAB_ERR_INVALID_ARGUMENT'],
      [['load', '[::1]:9000', '-c', '10', '--churn', '3', '--dry-run'], 'CONNLAB_ERR_USAGE'],
      [['load', '127.0.0.1:9000', '-c', 'lots'], 'CONNLAB_ERR_INVALID_ARGUMENT'],
      [['load', '127.0.0.1:9000', '-c', '10', '--duration', 'soon'], 'CONNLAB_ERR_INVALID_ARGUMENT'],
      [['load', '127.0.0.1:9000', '-c', '10', '--churn', '150'], 'CONNLAB_ERR_INVALID_ARGUMENT'],
      [['load', '127.0.0.1:9000', '-c', '10', '--churn', 'often'], 'CONNLAB_ERR_INVALID_ARGUMENT'],
      [['load', '127.0.0.1:9000', '-c', '200000', '--source-ips', '127.0.0.2', '--dry-run'], 'CONNLAB_ERR_IMPOSSIBLE_TARGET'],
    ];
    for (const [args, code] of cases) {
      const { status, err } = await run(args);
      assert.equal(status, 2, args.join(' '));
      assert.ok(err.includes(`[${code}]`), `${args.join(' ')}: ${err}`);
    }
  });
});

describe('connlab load --dry-run', () => {
  it('prints the plan: sources added past one pool, slices per worker', async () => {
    const { status, out } = await run(['load', '127.0.0.1:9000', '-c', '70000', '--dry-run']);
    assert.equal(status, 0);
    assert.match(out, /Plan: 70,000 connections over 4 worker\(s\), planned source ports/);
    assert.match(out, /2 source IP\(s\) × 55,001 source ports × 1 destination\(s\) = 110,002/);
    assert.match(out, /worker 3: connections 52,500–69,999/);
  });

  it('--json gives the plan as data', async () => {
    const { out } = await run(['load', '127.0.0.1:9000-9003', '-c', '100k', '--source-ports', 'kernel', '--dry-run', '--json']);
    const plan = JSON.parse(out);
    assert.equal(plan.schema, 'connlab.load-plan/1');
    assert.equal(plan.strategy, 'kernel');
    assert.equal(plan.destinations, 4);
    assert.equal(plan.slices.reduce((sum: number, s: { count: number }) => sum + s.count, 0), 100_000);
  });
});

describe('connlab serve and load, run for real', () => {
  it('serve holds, load verifies, and both print their JSON contracts', async () => {
    const port = await freePort();
    const serving = run(['serve', '--listen', `127.0.0.1:${port}`, '--connections', '3000', '--duration', '4s', '--json']);
    await new Promise((resolve) => setTimeout(resolve, 700));
    const load = await run(['load', `127.0.0.1:${port}`, '-c', '3000', '--duration', '1s', '--ping', '500ms', '--protocol', 'connlab', '--json']);
    assert.equal(load.status, 0, load.err);
    const result = JSON.parse(load.out);
    assert.deepEqual(result.connections, { target: 3000, established: 3000, verified: 3000, peak: 3000, silent: 0 });
    assert.equal(result.protocol, 'connlab');
    for (const key of ['seconds', 'per_second', 'connect_ms']) assert.ok(key in result.ramp, key);
    assert.deepEqual(result.errors, {});
    assert.equal(result.processes.load, 1);
    assert.ok(result.ping.rtt_ms.count >= 3000);
    const serve = await serving;
    assert.equal(serve.status, 0, serve.err);
    const summary = JSON.parse(serve.out);
    assert.equal(summary.schema, 'connlab.serve/1');
    assert.equal(summary.connections.peak, 3000);
    assert.equal(summary.stopped_by, 'duration');
    assert.ok(summary.memory.server_user_bytes_per_connection > 0);
  });
});

describe('a serve that cannot start', () => {
  it('fails with the worker code and one line on stderr, and no worker crashes on its way out', async () => {
    const { createServer } = await import('node:net');
    const { execFile } = await import('node:child_process');
    const port = await freePort();
    // A listener without SO_REUSEPORT: the workers' bind must fail.
    const blocker = createServer();
    await new Promise<void>((resolve) => blocker.listen(port, '127.0.0.1', resolve));
    const bin = new URL('../../bin/connlab.js', import.meta.url).pathname;
    try {
      const { code, stderr } = await new Promise<{ code: number | null; stderr: string }>((resolve) => {
        const child = execFile(process.execPath, [bin, 'serve', '--listen', `127.0.0.1:${port}`, '--workers', '3', '--duration', '5s'], (error, _out, err) =>
          resolve({ code: error ? (error as { code?: number }).code ?? null : 0, stderr: err }));
        child.stdin?.end();
      });
      assert.equal(code, 1);
      assert.match(stderr, /\[CONNLAB_ERR_WORKER\]/);
      assert.doesNotMatch(stderr, /    at |Unhandled/, 'no worker crashed on its way out');
    } finally {
      blocker.close();
    }
  });
});

describe('serve metrics', () => {
  it('exposes connections and per-worker memory as Prometheus text', async () => {
    const serve = await startServe({ listen: [{ host: '127.0.0.1', port: await freePort() }], workers: 2, fdSoftLimit: 20_000, reportIntervalMs: 100 });
    const metricsPort = await freePort();
    const server = await startMetricsServer(createServeRegistry(serve), '127.0.0.1', metricsPort);
    try {
      await serve.refresh();
      const text = await (await fetch(`http://127.0.0.1:${metricsPort}/metrics`)).text();
      assert.match(text, /^connlab_connections\{role="server"\} 0$/m);
      assert.match(text, /^connlab_worker_private_bytes\{role="server",worker="1"\} \d+$/m);
      assert.match(text, /^# TYPE connlab_accepted_total counter$/m);
      assert.equal((await fetch(`http://127.0.0.1:${metricsPort}/other`)).status, 404);
    } finally {
      server.close();
      await serve.close();
    }
  });
});

describe('the status line', () => {
  it('draws on a terminal and stays silent in a pipe', () => {
    let tty = '';
    const line = new StatusLine({ write: (t: string) => (tty += t), isTTY: true });
    line.update('hello');
    line.done();
    assert.equal(tty, '\r\x1b[2Khello\n');
    let pipe = '';
    new StatusLine({ write: (t: string) => (pipe += t) }).update('hello');
    assert.equal(pipe, '');
    assert.equal(progressBar(1, 4), `[${'█'.repeat(6)}${'░'.repeat(18)}]  25%`);
  });
});
