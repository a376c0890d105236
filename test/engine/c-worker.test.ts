// The C worker (native/worker/, no V8) behind the same supervisor as the Node worker:
// small serve + load runs through both runtimes, the adapter's translations, and the
// worker's own behaviour on a raw IPC channel: malformed input is answered with `failed`
// and exit code 1, a full descriptor table does not stop its memory report, and it does
// not outlive its supervisor.

import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import net from 'node:net';
import { describe, it } from 'node:test';
import { cStartMessage, fromCWorker, tuplesMessage } from '../../src/engine/c-worker-process.ts';
import { LatencyRecorder } from '../../src/engine/latency.ts';
import { C_WORKER_PATH, cWorkerAvailable, resolveWorkerRuntime } from '../../src/engine/worker-process.ts';
import { startLoad } from '../../src/load/load.ts';
import { startServe } from '../../src/server/serve.ts';
import { createTupleCursor } from '../../src/tuple/plan.ts';
import { parseIpv4 } from '../../src/tuple/address.ts';
import { main } from '../../src/cli/main.ts';
import { rawWorker } from '../helpers/c-worker.ts';
import { recordingIo } from '../helpers/io.ts';
import { freePort, rawSocket } from '../helpers/net.ts';
import { waitFor } from '../helpers/wait.ts';

const loopback = parseIpv4('127.0.0.1') ?? 0;

/** base64 of little-endian u32s (a `tuples` chunk) -> its numbers. */
function u32sOf(base64: string): number[] {
  const bytes = Buffer.from(base64, 'base64');
  return Array.from({ length: bytes.byteLength / 4 }, (_, i) => bytes.readUInt32LE(4 * i));
}
const CONNECTIONS = 3_000;

describe('the C worker binary', () => {
  it('is built by npm install (node-gyp rebuild) beside the addon', () => {
    assert.ok(cWorkerAvailable(), `${C_WORKER_PATH} is missing: run npm run build:native`);
  });
});

for (const runtime of ['c', 'node'] as const) {
  describe(`serve and load in ${runtime} worker processes`, () => {
    it('establishes, verifies, broadcasts, reports memory and counts the closes', async () => {
      const port = await freePort();
      const serve = await startServe({ listen: [{ host: '127.0.0.1', port }], workers: 2, fdSoftLimit: 20_000, workerRuntime: runtime, reportIntervalMs: 200 });
      const load = await startLoad({
        destinations: [{ ip: loopback, port }], connections: CONNECTIONS, workers: 2,
        fdSoftLimit: 20_000, kernelPoolSize: 28_232, workerRuntime: runtime, reportIntervalMs: 200, protocol: 'connlab',
      });
      try {
        assert.equal(serve.workerRuntime, runtime);
        await load.rampDone();
        assert.deepEqual(await load.ping(10_000), { verified: CONNECTIONS, established: CONNECTIONS });
        const broadcast = await serve.broadcast();
        assert.equal(broadcast.written, CONNECTIONS);
        await waitFor(() => load.pool.totals().broadcastsReceived === CONNECTIONS, { describe: () => JSON.stringify(load.pool.totals()) });
        const held = await serve.refresh();
        assert.equal(held.connections, CONNECTIONS);
        for (const worker of held.workers) assert.ok((worker.privateBytes ?? 0) > 0, `worker ${worker.index} reports its memory`);
        const result = await load.close();
        assert.equal(result.worker_runtime, runtime);
        // silent: nothing had arrived on a connlab connection before its first ping.
        assert.deepEqual(result.connections, { target: CONNECTIONS, established: CONNECTIONS, verified: CONNECTIONS, peak: CONNECTIONS, silent: CONNECTIONS });
        assert.deepEqual(result.errors, {});
        assert.equal(result.closed.local, CONNECTIONS);
        assert.equal(result.broadcast.received, CONNECTIONS);
        assert.equal(result.broadcast.latency_ms.count, CONNECTIONS);
        assert.equal(result.ramp.connect_ms.count, CONNECTIONS);
        assert.ok(result.ping.rtt_ms.count >= CONNECTIONS);
        assert.ok(result.memory.load_private_bytes > 0);
        await waitFor(() => serve.stats().totals.closed.peer === CONNECTIONS, { describe: () => JSON.stringify(serve.stats().totals.closed) });
      } finally {
        await load.close();
        await serve.close();
      }
    });
  });
}

describe('the C worker\'s ramp', () => {
  it('keeps to ratePerSec: 1,500 connections at 1,000/s take at least 1.4 s', async () => {
    const port = await freePort();
    const serve = await startServe({ listen: [{ host: '127.0.0.1', port }], workers: 1, fdSoftLimit: 20_000, workerRuntime: 'c' });
    const load = await startLoad({
      destinations: [{ ip: loopback, port }], connections: 1_500, workers: 1, ratePerSec: 1_000,
      fdSoftLimit: 20_000, kernelPoolSize: 28_232, workerRuntime: 'c',
    });
    try {
      // The bucket starts empty and refills at the rate, so no machine can be faster.
      const seconds = await load.rampDone();
      assert.ok(seconds >= 1.4, `ramped in ${seconds} s`);
      assert.equal((await load.close()).connections.established, 1_500);
    } finally {
      await load.close();
      await serve.close();
    }
  });
});

describe('choosing the worker runtime', () => {
  it('auto is c for the native holder when the binary is built, node otherwise', () => {
    assert.equal(resolveWorkerRuntime('auto', 'native'), 'c');
    assert.equal(resolveWorkerRuntime('auto', 'node'), 'node');
    assert.equal(resolveWorkerRuntime('auto', 'native', undefined, '/nonexistent/connlab-worker'), 'node');
    assert.equal(resolveWorkerRuntime('node', 'native'), 'node');
  });

  it('refuses c with the node holder, and c when the binary is missing', () => {
    assert.throws(() => resolveWorkerRuntime('c', 'node'), { code: 'CONNLAB_ERR_INVALID_ARGUMENT' });
    assert.throws(() => resolveWorkerRuntime('c', 'native', undefined, '/nonexistent/connlab-worker'), { code: 'CONNLAB_ERR_NATIVE_UNAVAILABLE' });
  });
});

describe('--worker-runtime on the command line', () => {
  it('refuses a runtime it does not know with exit status 2, on serve, load and bench', async () => {
    for (const args of [
      ['serve', '--listen', '127.0.0.1:9000', '--worker-runtime', 'java'],
      ['load', '127.0.0.1:9000', '-c', '10', '--worker-runtime', 'java'],
      ['bench', '--connections', '10', '--worker-runtime', 'java'],
    ]) {
      const io = recordingIo();
      assert.equal(await main(args, io), 2, args.join(' '));
      assert.ok(io.err().includes('[CONNLAB_ERR_INVALID_ARGUMENT]'), io.err());
    }
  });
});

describe('the C worker adapter', () => {
  it('sends a slice as base64 chunks whose tuples are the plan cursor\'s, the last one marked', () => {
    const input = { connections: 5, destinations: [{ ip: loopback, port: 9000 }], sourceIps: undefined, sourcePorts: { first: 20000, last: 20010 }, workers: 1, kernelPoolSize: 28_232 };
    const cursor = createTupleCursor(input, { start: 0, count: 5 });
    const first = tuplesMessage(cursor, 3);
    const second = tuplesMessage(cursor, 3);
    assert.deepEqual([first.type === 'tuples' && first.last, second.type === 'tuples' && second.last], [false, true]);
    const decoded = [first, second].flatMap((m) => (m.type === 'tuples' ? u32sOf(m.data) : []));
    assert.deepEqual(decoded, [...createTupleCursor(input, { start: 0, count: 5 }).next(5)]);
  });

  it('turns counters and errno numbers into a WorkerReport and passes encoded latency through untouched', () => {
    const recorder = new LatencyRecorder({ packed: true });
    recorder.record([7, 70_000]);
    const connectUs = recorder.encode();
    const report = fromCWorker({
      type: 'report', counters: { established: 2, closedPeer: 1 }, errnos: { 99: 3 },
      latency: { connectUs, rttUs: 42, other: 'x' }, memory: { rssBytes: 1, pssBytes: 1, privateBytes: 1 }, rampDone: true,
    });
    assert.ok(report?.type === 'report');
    assert.equal(report.stats.established, 2);
    assert.equal(report.stats.closed.peer, 1);
    assert.deepEqual(report.stats.errors, { EADDRNOTAVAIL: 3 });
    assert.deepEqual(report.latency, { connectUs });
    assert.equal(report.samples, undefined);
    assert.equal(report.rampDone, true);
  });

  it('names the errno of a failure and drops messages only the adapter knows', () => {
    assert.deepEqual(fromCWorker({ type: 'failed', code: 'CONNLAB_ERR_LISTEN', message: 'cannot listen on 127.0.0.1:1', errno: 98 }),
      { type: 'failed', code: 'CONNLAB_ERR_LISTEN', message: 'cannot listen on 127.0.0.1:1: EADDRINUSE' });
    assert.equal(fromCWorker({ type: 'want' }), undefined);
    assert.equal(fromCWorker('report'), undefined);
  });
});

const serverStart = (port: number) => `${JSON.stringify(cStartMessage({ role: 'server', holder: 'native', listen: [{ host: '127.0.0.1', port }], backlog: 128, limits: {}, reportIntervalMs: 60_000 }))}\n`;

describe('the C worker on a raw channel', () => {
  const malformed: [string, string][] = [
    ['text that is not JSON', 'hello\n'],
    ['JSON that is not an object', '[1,2,3]\n'],
    ['trailing bytes after the value', '{"type":"report"} x\n'],
    ['an unterminated string', '{"type":"rep\n'],
    ['nesting past the limit', `${'['.repeat(100)}\n`],
    ['an unknown type', '{"type":"explode"}\n'],
    ['a start without a config', '{"type":"start"}\n'],
    ['a start for the node holder', '{"type":"start","config":{"role":"server","holder":"node","listen":[],"backlog":1,"reportIntervalMs":1000}}\n'],
    ['tuples before start', '{"type":"tuples","data":"","last":true}\n'],
    ['a ping without a seq', '{"type":"ping","timeoutMs":5}\n'],
    ['a line longer than the limit (1 MiB: ipc.h)', `{"type":"report","pad":"${'a'.repeat(1100 * 1024)}"}\n`],
  ];
  for (const [what, input] of malformed) {
    it(`answers ${what} with failed and exit code 1`, async () => {
      const worker = await rawWorker();
      try {
        worker.write(input);
        assert.equal(await worker.done, 1);
        const lines = (await worker.lines()).map((line) => JSON.parse(line) as { type: string; code?: string });
        assert.deepEqual(lines.map((m) => [m.type, m.code]), [['failed', 'CONNLAB_ERR_WORKER']]);
      } finally {
        worker.cleanup();
      }
    });
  }

  it('answers tuples that are not whole valid tuples with failed, after starting', async () => {
    const worker = await rawWorker();
    try {
      const start = { type: 'start', config: { role: 'client', holder: 'native', ratePerSec: null, maxPending: 8, connectTimeoutMs: 1000, reportIntervalMs: 60_000, maxSamples: 100, sendBufferBytes: 0, stallTimeoutMs: 0 } };
      worker.write(`${JSON.stringify(start)}\n{"type":"tuples","data":"AAAA","last":true}\n`);
      assert.equal(await worker.done, 1);
      const types = (await worker.lines()).map((line) => (JSON.parse(line) as { type: string }).type);
      assert.deepEqual(types, ['started', 'failed']);
    } finally {
      worker.cleanup();
    }
  });

  it('leaves with exit code 0 when its channel closes', async () => {
    const worker = await rawWorker();
    try {
      worker.write(serverStart(await freePort()));
      await waitFor(() => worker.child.pid !== undefined);
      worker.channel.end();
      assert.equal(await worker.done, 0);
    } finally {
      worker.cleanup();
    }
  });

  it('still reports its memory when accept() has taken every descriptor', async () => {
    const port = await freePort();
    const worker = await rawWorker(['prlimit', '--nofile=24:24', '--']);
    const clients: net.Socket[] = [];
    try {
      worker.write(serverStart(port));
      await worker.message('started');
      for (let i = 0; i < 40; i++) clients.push(await rawSocket(port));
      await new Promise((resolve) => setTimeout(resolve, 200));
      worker.write('{"type":"report"}\n');
      const report = (await worker.message('report')) as { memory: { privateBytes: number } | null; errnos: Record<string, number> };
      assert.ok((report.errnos['24'] ?? 0) > 0, `EMFILE counted: ${JSON.stringify(report.errnos)}`);
      assert.ok((report.memory?.privateBytes ?? 0) > 0, 'memory read from the descriptor kept open');
    } finally {
      for (const client of clients) client.destroy();
      worker.cleanup();
    }
  });
});

describe('a C worker whose supervisor is killed', () => {
  it('is gone within a second', async () => {
    const port = await freePort();
    const serveUrl = new URL('../../src/server/serve.ts', import.meta.url).href;
    const script = [
      `const { startServe } = await import(${JSON.stringify(serveUrl)});`,
      `const serve = await startServe({ listen: [{ host: '127.0.0.1', port: ${port} }], workers: 1, fdSoftLimit: 20000, workerRuntime: 'c' });`,
      'process.stdout.write(`${serve.pool.pids()[0]}\\n`);',
      'setInterval(() => {}, 1000);',
    ].join('\n');
    const supervisor = spawn(process.execPath, ['--input-type=module', '-e', script], { stdio: ['ignore', 'pipe', 'inherit'] });
    try {
      const [chunk] = (await once(supervisor.stdout as NodeJS.ReadableStream, 'data')) as [Buffer];
      const workerPid = Number(chunk.toString().trim());
      assert.ok(workerPid > 0);
      assert.ok(alive(workerPid), 'the worker runs while its supervisor does');
      supervisor.kill('SIGKILL');
      await once(supervisor, 'exit');
      await waitFor(() => !alive(workerPid), { timeoutMs: 1_000, describe: () => `worker ${workerPid} still alive` });
    } finally {
      if (supervisor.exitCode === null && supervisor.signalCode === null) supervisor.kill('SIGKILL');
    }
  });
});

/** Running, not a zombie waiting for a reaper. */
function alive(pid: number): boolean {
  try {
    return !/\) Z /.test(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return false;
  }
}
