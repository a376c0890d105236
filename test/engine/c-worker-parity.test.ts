// The C worker does what worker.ts does, checked side by side in both runtimes on the
// same small runs: a client protocol other than connlab (tcp against an echo server,
// http against node:http), churn after the ramp, and the socket limits on the sockets
// serve accepts and load opens, read back from the kernel (ss -tmi: skmem tb is
// SO_SNDBUF as the kernel doubled it).

import assert from 'node:assert/strict';
import { once } from 'node:events';
import http from 'node:http';
import net from 'node:net';
import { describe, it } from 'node:test';
import { DEFAULT_SEND_BUFFER_BYTES } from '../../src/engine/holder-args.ts';
import { startLoad, type LoadHandle, type LoadOptions } from '../../src/load/load.ts';
import { socketQueues } from '../../src/probe/kernel-tools.ts';
import { startServe } from '../../src/server/serve.ts';
import { parseIpv4 } from '../../src/tuple/address.ts';
import { freePort, rawSocket } from '../helpers/net.ts';
import { startPlainServer } from '../helpers/real-servers.ts';
import { waitFor } from '../helpers/wait.ts';

const loopback = parseIpv4('127.0.0.1') ?? 0;
const N = 300;

function load(runtime: 'c' | 'node', port: number, options: Partial<LoadOptions>): Promise<LoadHandle> {
  return startLoad({
    destinations: [{ ip: loopback, port }], connections: N, workers: 2, fdSoftLimit: 20_000, kernelPoolSize: 28_232,
    workerRuntime: runtime, reportIntervalMs: 100, ...options,
  });
}

async function httpServer(port: number): Promise<http.Server> {
  const server = http.createServer((_request, response) => response.end('ok'));
  server.keepAliveTimeout = 60_000;
  server.listen({ host: '127.0.0.1', port, backlog: 1024 });
  await once(server, 'listening');
  return server;
}

for (const runtime of ['c', 'node'] as const) {
  describe(`${runtime} worker processes`, () => {
    it('speak tcp: send nothing, and the kernel verifies every connection at once with all of them silent', async () => {
      const echo = await startPlainServer(await freePort(), 'echo');
      const run = await load(runtime, echo.port, { protocol: 'tcp' });
      try {
        await run.rampDone();
        // A timeout far longer than the test: tcp answers without waiting for it.
        const started = performance.now();
        assert.deepEqual(await run.ping(60_000), { verified: N, established: N });
        assert.ok(performance.now() - started < 30_000);
        const result = await run.close();
        assert.equal(result.worker_runtime, runtime);
        assert.deepEqual(result.connections, { target: N, established: N, verified: N, peak: N, silent: N });
        assert.equal(echo.bytesReceived(), 0);
      } finally {
        await run.close();
        await echo.stop();
      }
    });

    it('speak http: one GET per connection and per round, verified by the responses, statuses counted', async () => {
      const port = await freePort();
      const server = await httpServer(port);
      const run = await load(runtime, port, { protocol: 'http' });
      try {
        await run.rampDone();
        // Each connection's opening GET is answered before the round, so none is silent.
        await waitFor(() => run.pool.totals().codes.http_status['200'] === N, { describe: () => JSON.stringify(run.pool.totals().codes) });
        assert.deepEqual(await run.ping(10_000), { verified: N, established: N });
        const result = await run.close();
        assert.equal(result.worker_runtime, runtime);
        assert.equal(result.connections.verified, N);
        assert.equal(result.connections.silent, 0);
        assert.equal(result.closed.protocol, 0);
        assert.equal(result.codes.http_status['200'], 2 * N, JSON.stringify(result.codes));
        assert.deepEqual(result.protocol_bytes, []);
      } finally {
        await run.close();
        server.closeAllConnections();
        server.close();
      }
    });

    it('show the bytes that broke the protocol in protocol_bytes', async () => {
      const port = await freePort();
      const server = await httpServer(port);
      const run = await load(runtime, port, { protocol: 'connlab', connections: 10 });
      try {
        await run.rampDone();
        await run.ping(2_000);
        await waitFor(() => run.pool.totals().closed.protocol === 10, { describe: () => JSON.stringify(run.pool.totals().closed) });
        const result = await run.close();
        assert.ok(result.protocol_bytes.some((hex) => Buffer.from(hex, 'hex').toString().startsWith('HTTP/1.1 400')), JSON.stringify(result.protocol_bytes));
      } finally {
        await run.close();
        server.closeAllConnections();
        server.close();
      }
    });

    it('churn after the ramp: connections are reset and reconnected while the count held stays whole', async () => {
      const port = await freePort();
      const serve = await startServe({ listen: [{ host: '127.0.0.1', port }], workers: 1, fdSoftLimit: 20_000, workerRuntime: runtime, reportIntervalMs: 100 });
      // 20 % of 300 a second: 60 a second, 6 per 100 ms tick.
      const run = await load(runtime, port, { protocol: 'connlab', churnPercentPerSec: 20 });
      try {
        await run.rampDone();
        await waitFor(() => run.pool.totals().closed.churn >= 60, { timeoutMs: 10_000, describe: () => JSON.stringify(run.pool.totals().closed) });
        const totals = run.pool.totals();
        assert.ok(totals.connected >= N + 60, `reconnected: ${totals.connected}`);
        await waitFor(() => run.pool.totals().established >= N - 12, { describe: () => String(run.pool.totals().established) });
        const result = await run.close();
        assert.ok(result.closed.churn >= 60);
        assert.deepEqual(result.errors, {});
      } finally {
        await run.close();
        await serve.close();
      }
    });

    it('cap the send buffer of every socket serve accepts and load opens', async () => {
      const port = await freePort();
      const sendBufferBytes = 16 * 1024;
      const serve = await startServe({ listen: [{ host: '127.0.0.1', port }], workers: 1, fdSoftLimit: 20_000, workerRuntime: runtime, sendBufferBytes });
      const clients: net.Socket[] = [];
      const run = await load(runtime, port, { protocol: 'connlab', connections: 20, workers: 1 });
      try {
        for (let i = 0; i < 5; i++) clients.push(await rawSocket(port));
        await run.rampDone();
        const accepted = await socketQueues(['src', `127.0.0.1:${port}`]);
        assert.equal(accepted.length, 25);
        // The kernel doubles SO_SNDBUF for its bookkeeping.
        assert.deepEqual(new Set(accepted.map((s) => s.skmem.tb)), new Set([2 * sendBufferBytes]));
        // load's sources are 127.0.0.2 onward; the raw clients' is 127.0.0.1.
        const opened = (await socketQueues(['dst', `127.0.0.1:${port}`])).filter((s) => !s.local.startsWith('127.0.0.1:'));
        assert.equal(opened.length, 20);
        assert.deepEqual(new Set(opened.map((s) => s.skmem.tb)), new Set([2 * DEFAULT_SEND_BUFFER_BYTES]));
      } finally {
        for (const client of clients) client.destroy();
        await run.close();
        await serve.close();
      }
    });
  });
}
