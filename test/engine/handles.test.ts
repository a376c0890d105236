// One lifecycle for the four long-running handles, checked the same way on each: close()
// is idempotent (the same promise), destroy() is idempotent, an action after either
// throws CONNLAB_ERR_CLOSED, reads keep answering and change nothing, and no worker
// process is left. Small real runs on loopback.

import assert from 'node:assert/strict';
import net from 'node:net';
import { setTimeout as delay } from 'node:timers/promises';
import { describe, it } from 'node:test';
import { startBench } from '../../src/bench/run-bench.ts';
import { resolveHolderKind } from '../../src/engine/create-holder.ts';
import { WorkerPool } from '../../src/engine/worker-pool.ts';
import { createHostReader } from '../../src/limits/host-reader.ts';
import { readHostSnapshot } from '../../src/limits/snapshot.ts';
import { startLoad } from '../../src/load/load.ts';
import { startServe, type ServeHandle } from '../../src/server/serve.ts';
import { freePort } from '../helpers/net.ts';
import { survivorsAfter } from '../helpers/procs.ts';

interface Handle {
  close(): Promise<unknown>;
  destroy(): void;
  /** Calls that act on workers: each must be refused once closed. */
  actions: [string, () => unknown][];
  /** Calls that only read. */
  reads: [string, () => unknown][];
  pids(): number[];
  /** Anything else the case started (a server for load to hold). */
  cleanup?: () => Promise<unknown>;
}

const serveOptions = async () => ({ listen: [{ host: '127.0.0.1', port: await freePort() }], workers: 1, fdSoftLimit: 20_000 });

const cases: [string, () => Promise<Handle>][] = [
  ['worker pool', async () => {
    const options = await serveOptions();
    const pool = new WorkerPool([{ role: 'server', holder: resolveHolderKind('auto'), listen: options.listen, backlog: 128, reportIntervalMs: 1000, limits: { sendBufferBytes: 0, stallTimeoutMs: 0 } }], { restart: true });
    await pool.start();
    return {
      close: () => pool.close(), destroy: () => pool.destroy(), pids: () => pool.pids(),
      actions: [['send', () => pool.send({ type: 'report' })], ['collect', () => pool.collect('report', 10)], ['refresh', () => pool.refresh()], ['start', () => pool.start()]],
      reads: [['totals', () => pool.totals()], ['deaths', () => [...pool.deaths]]],
    };
  }],
  ['serve', async () => {
    const serve = await startServe(await serveOptions());
    return {
      close: () => serve.close(), destroy: () => serve.destroy(), pids: () => serve.pool.pids(),
      actions: [['broadcast', () => serve.broadcast()], ['refresh', () => serve.refresh()]],
      reads: [['stats', () => serve.stats()]],
    };
  }],
  ['load', async () => {
    const options = await serveOptions();
    const serve = await startServe(options);
    const port = options.listen[0]?.port ?? 0;
    const load = await startLoad({ destinations: [{ ip: 0x7f000001, port }], connections: 200, workers: 1, fdSoftLimit: 20_000, kernelPoolSize: 28_232 });
    await load.rampDone();
    return {
      close: () => load.close(), destroy: () => load.destroy(), pids: () => [...load.pool.pids(), ...serve.pool.pids()],
      actions: [['ping', () => load.ping(100)]],
      reads: [['progress', () => load.progress()]],
      cleanup: () => serve.close(),
    };
  }],
  ['bench run', async () => {
    const run = startBench({ connections: 500, holdMs: 60_000, host: readHostSnapshot(createHostReader('/')), kernelPoolSize: 28_232, port: await freePort(), command: 'test' });
    await delay(1_500);
    return { close: () => run.close(), destroy: () => run.destroy(), pids: () => [], actions: [], reads: [] };
  }],
];

for (const [name, open] of cases) {
  describe(`the ${name} handle`, () => {
    it('closes once however often close() is called, then refuses actions and still answers reads', async () => {
      const h = await open();
      const pids = h.pids();
      for (const [read, fn] of h.reads) assert.deepEqual(fn(), fn(), `${read}() twice in a row`);
      const first = h.close();
      assert.equal(h.close(), first, 'the same promise');
      for (const [action, fn] of h.actions) await assert.rejects(async () => fn(), { code: 'CONNLAB_ERR_CLOSED' }, `${action}() while closing`);
      await first;
      for (const [action, fn] of h.actions) await assert.rejects(async () => fn(), { code: 'CONNLAB_ERR_CLOSED' }, `${action}() after close()`);
      for (const [read, fn] of h.reads) assert.deepEqual(fn(), fn(), `${read}() after close()`);
      h.destroy();
      await h.cleanup?.();
      assert.deepEqual(await survivorsAfter(pids, 2_000), []);
    });

    it('destroys once, refuses actions, and a close() afterwards still settles', async () => {
      const h = await open();
      const pids = h.pids();
      h.destroy();
      h.destroy();
      for (const [action, fn] of h.actions) await assert.rejects(async () => fn(), { code: 'CONNLAB_ERR_CLOSED' }, `${action}() after destroy()`);
      await h.close().catch(() => {});
      await h.cleanup?.();
      assert.deepEqual(await survivorsAfter(pids, 2_000), []);
    });
  });
}

describe('reading serve\'s stats', () => {
  it('does not move its accept rate: only a report does', async () => {
    const options = await serveOptions();
    const serve: ServeHandle = await startServe({ ...options, reportIntervalMs: 60_000 });
    const sockets: net.Socket[] = [];
    try {
      await serve.refresh();
      for (let i = 0; i < 50; i++) sockets.push(net.connect(options.listen[0]?.port ?? 0, '127.0.0.1'));
      await delay(600);
      const rate = (await serve.refresh()).acceptsPerSecond;
      assert.ok(rate > 0, `a rate after 50 accepts: ${rate}`);
      await delay(600);
      assert.equal(serve.stats().acceptsPerSecond, rate, 'no report since: the same rate, however late it is read');
    } finally {
      for (const s of sockets) s.destroy();
      await serve.close();
    }
  });
});
