// Proof 4: a worker whose soft descriptor limit is lowered with prlimit hits EMFILE; it
// is counted and classified, and the rest of the run goes on. On the server side the
// worker backs off from accept() instead of crashing or spinning.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { startLoad } from '../../src/load/load.ts';
import { prlimitNofile } from '../../src/probe/kernel-tools.ts';
import { startServe } from '../../src/server/serve.ts';
import { parseIpv4 } from '../../src/tuple/address.ts';
import { freePort } from '../helpers/net.ts';
import { waitFor } from '../helpers/wait.ts';

const prlimit = (pid: number, soft: number) => prlimitNofile(pid, soft, 20_000);
const loopback = parseIpv4('127.0.0.1') ?? 0;

describe('a lowered descriptor limit', () => {
  it('makes one load worker hit EMFILE while the other finishes its slice', async () => {
    const port = await freePort();
    const serve = await startServe({ listen: [{ host: '127.0.0.1', port }], workers: 1, fdSoftLimit: 20_000 });
    const load = await startLoad({
      protocol: 'connlab',
      destinations: [{ ip: loopback, port }],
      connections: 4_000,
      workers: 2,
      ratePerSec: 2_000,
      fdSoftLimit: 20_000,
      kernelPoolSize: 28_232,
    });
    try {
      const [limited, other] = load.pool.workers;
      await prlimit(limited?.pid ?? 0, 600);
      await load.rampDone();
      await waitFor(() => (other?.report?.stats.established ?? 0) === 2_000, { timeoutMs: 5_000 });
      const result = await load.close();
      assert.ok((result.errors.EMFILE ?? 0) > 1_000, `EMFILE ${result.errors.EMFILE}`);
      assert.equal(result.connections.established + (result.errors.EMFILE ?? 0), 4_000);
      assert.equal(result.explained[0]?.cause, 'process_fds');
    } finally {
      await load.close();
      await serve.close();
    }
  });

  it('makes a serve worker back off from accept() and keep running', async () => {
    const port = await freePort();
    const serve = await startServe({ listen: [{ host: '127.0.0.1', port }], workers: 1, fdSoftLimit: 20_000, reportIntervalMs: 200 });
    const pid = serve.pool.pids()[0] ?? 0;
    await prlimit(pid, 300);
    const load = await startLoad({
      protocol: 'connlab',
      destinations: [{ ip: loopback, port }],
      connections: 1_000,
      fdSoftLimit: 20_000,
      kernelPoolSize: 28_232,
      connectTimeoutMs: 3_000,
    });
    try {
      await load.rampDone();
      await waitFor(() => serve.stats().totals.acceptBackoffs > 0, { timeoutMs: 5_000 });
      const stats = serve.stats();
      assert.ok((stats.totals.errors.EMFILE ?? 0) > 0, 'EMFILE counted');
      assert.ok(stats.connections < 300, `held ${stats.connections} under a 300 limit`);
      assert.deepEqual(serve.pool.pids(), [pid], 'the same worker is still running');
      assert.equal(serve.pool.workers[0]?.restarts, 0);
    } finally {
      await load.close();
      await serve.close();
    }
  });
});
