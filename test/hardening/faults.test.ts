// Fault injection: workers are killed with SIGKILL in the middle of a run. The others
// keep every connection they hold, the dead one is named with what it took along
// (closed as `lost`, so accepted = closes + held still adds up), a crash loop ends serve
// with its own code instead of restarting forever, and nothing is left behind.

import assert from 'node:assert/strict';
import { once } from 'node:events';
import net from 'node:net';
import { describe, it } from 'node:test';
import type { HolderStats } from '../../src/engine/holder.ts';
import type { WorkerDeath, WorkerPool } from '../../src/engine/worker-pool.ts';
import { startLoad, type LoadHandle } from '../../src/load/load.ts';
import { startServe, type ServeHandle } from '../../src/server/serve.ts';
import { freePort } from '../helpers/net.ts';
import { childrenOf, runCli, survivorsAfter } from '../helpers/procs.ts';
import { waitFor } from '../helpers/wait.ts';

const CONNECTIONS = 6_000;

const closes = (s: HolderStats): number => Object.values(s.closed).reduce((a, b) => a + b, 0);
const pick = <T>(list: readonly T[]): T => list[Math.floor(Math.random() * list.length)] as T;
const heldBy = (pool: WorkerPool): number[] => pool.workers.map((w) => w.report?.stats.established ?? 0);

/** SIGKILLs worker `index` of `pool` and resolves with its death as the pool records it. */
async function kill(pool: WorkerPool, index: number): Promise<WorkerDeath> {
  const pid = pool.workers[index]?.pid ?? 0;
  const died = new Promise<WorkerDeath>((resolve) => {
    const onExit = (i: number, _reason: string, _restarted: boolean, death: WorkerDeath): void => {
      if (i !== index) return;
      pool.off('worker-exit', onExit);
      resolve(death);
    };
    pool.on('worker-exit', onExit);
  });
  process.kill(pid, 'SIGKILL');
  return died;
}

async function settle(pool: WorkerPool, predicate: (totals: HolderStats) => boolean): Promise<HolderStats> {
  await waitFor(() => predicate(pool.totals()), { timeoutMs: 10_000, describe: () => JSON.stringify(pool.totals()) });
  return pool.totals();
}

describe('killing workers with SIGKILL during a run', () => {
  it('loses only the dead worker\'s connections, names it, and leaves nothing behind', async () => {
    const port = await freePort();
    const serve: ServeHandle = await startServe({ listen: [{ host: '127.0.0.1', port }], workers: 3, fdSoftLimit: 20_000, reportIntervalMs: 100 });
    const load: LoadHandle = await startLoad({ destinations: [{ ip: 0x7f000001, port }], connections: CONNECTIONS, workers: 3, fdSoftLimit: 20_000, kernelPoolSize: 28_232, reportIntervalMs: 100 });
    const pids = new Set<number>([...serve.pool.pids(), ...load.pool.pids()]);
    try {
      await load.rampDone();
      await settle(serve.pool, (t) => t.established === CONNECTIONS);
      await Promise.all([serve.pool.refresh(), load.pool.refresh()]);

      // A serve worker dies: its connections go, the other two keep theirs exactly.
      const serveBefore = heldBy(serve.pool);
      const victim = pick([0, 1, 2]);
      const serveDeath = await kill(serve.pool, victim);
      assert.equal(serveDeath.lostConnections, serveBefore[victim]);
      assert.ok(serveDeath.lostConnections > 0 && serveDeath.restarted, JSON.stringify(serveDeath));
      assert.match(serveDeath.reason, /SIGKILL/);
      const loadLeft = CONNECTIONS - serveDeath.lostConnections;
      await settle(load.pool, (t) => t.established === loadLeft);
      await waitFor(() => serve.pool.pids().length === 3, { describe: () => 'the replacement starts' });
      for (const pid of serve.pool.pids()) pids.add(pid);
      await serve.pool.refresh();
      const serveAfter = heldBy(serve.pool);
      for (const i of [0, 1, 2].filter((i) => i !== victim)) assert.equal(serveAfter[i], serveBefore[i], `serve worker ${i} kept its connections`);
      assert.equal(serveAfter[victim], 0, 'the replacement starts empty');
      let totals = serve.pool.totals();
      assert.equal(totals.closed.lost, serveDeath.lostConnections);
      // sum() (what 'report' listeners read) counts the same reports, the dead worker's too.
      assert.equal(serve.pool.sum((s) => s.closed.lost ?? 0), serveDeath.lostConnections);
      assert.equal(serve.pool.sum((s) => s.established), totals.established);
      assert.equal(serve.pool.sum((s) => s.accepted), totals.accepted);
      assert.equal(totals.accepted, closes(totals) + totals.established, 'accepted = closes + held');

      // A load worker dies: the same on the other side.
      await load.pool.refresh();
      const loadBefore = heldBy(load.pool);
      const loadVictim = pick([0, 1, 2]);
      const loadDeath = await kill(load.pool, loadVictim);
      assert.equal(loadDeath.lostConnections, loadBefore[loadVictim]);
      assert.equal(loadDeath.restarted, false, 'load does not restart');
      await settle(serve.pool, (t) => t.established === loadLeft - loadDeath.lostConnections);
      await load.pool.refresh();
      const loadAfter = heldBy(load.pool);
      for (const i of [0, 1, 2].filter((i) => i !== loadVictim)) assert.equal(loadAfter[i], loadBefore[i], `load worker ${i} kept its connections`);
      totals = serve.pool.totals();
      assert.equal(totals.accepted, closes(totals) + totals.established, 'still adds up');

      const result = await load.close();
      assert.deepEqual(result.deaths.map((d) => [d.worker, d.lost_connections, d.restarted]), [[loadVictim, loadDeath.lostConnections, false]]);
      assert.equal(result.closed.lost, loadDeath.lostConnections);
      assert.equal(result.connections.established, loadLeft - loadDeath.lostConnections);
      const final = await serve.close();
      assert.deepEqual(final.deaths.map((d) => [d.index, d.lostConnections]), [[victim, serveDeath.lostConnections]]);
      assert.equal(final.totals.established, 0);
      assert.equal(final.totals.closed.lost, serveDeath.lostConnections, 'a graceful close loses nothing more');
      assert.equal(final.totals.accepted, closes(final.totals), 'every accepted connection is closed, by some reason');
    } finally {
      load.destroy();
      serve.destroy();
    }
    assert.deepEqual(await survivorsAfter([...pids], 2_000), [], 'no worker left');
  });
});

describe('a worker that dies as soon as it is restarted', () => {
  it('is restarted after growing delays, then the pool gives up with CONNLAB_ERR_CRASH_LOOP', async () => {
    const port = await freePort();
    const serve = await startServe({ listen: [{ host: '127.0.0.1', port }], workers: 1, fdSoftLimit: 20_000, restart: { initialDelayMs: 50, maxDeaths: 4, windowMs: 30_000 } });
    const blocker = net.createServer();
    try {
      const failed = once(serve, 'failed') as Promise<[{ code: string; message: string }]>;
      await kill(serve.pool, 0);
      // The port is taken without SO_REUSEPORT: every replacement fails to listen.
      await new Promise<void>((resolve, reject) => blocker.once('error', reject).listen(port, '127.0.0.1', resolve));
      const [error] = await failed;
      assert.equal(error.code, 'CONNLAB_ERR_CRASH_LOOP');
      assert.equal(serve.failure?.code, 'CONNLAB_ERR_CRASH_LOOP');
      const deaths = serve.stats().deaths;
      assert.equal(deaths.length, 4);
      assert.match(deaths.at(-1)?.reason ?? '', /EADDRINUSE/);
      assert.deepEqual(deaths.map((d) => d.restarted), [true, true, true, false]);
      const gaps = deaths.slice(1).map((d, i) => d.atMs - (deaths[i]?.atMs ?? 0));
      for (const [i, gap] of gaps.entries()) assert.ok(gap >= 50 * 2 ** i, `restart ${i + 1} waited ${gap.toFixed(0)} ms, at least ${50 * 2 ** i}`);
      assert.deepEqual(serve.pool.pids(), [], 'nothing restarted after giving up');
    } finally {
      blocker.close();
      await serve.close();
    }
  });

  it('ends `connlab serve` with exit status 1 and one line carrying the code', async () => {
    const port = await freePort();
    const serve = runCli(['serve', '--listen', `127.0.0.1:${port}`, '--workers', '1', '--duration', '60s']);
    const blocker = net.createServer();
    try {
      await serve.line(/^serving on/);
      const workerPid = childrenOf(serve.pid)[0] ?? 0;
      process.kill(workerPid, 'SIGKILL');
      await serve.line(/died: killed by SIGKILL.*restarted/);
      await new Promise<void>((resolve, reject) => blocker.once('error', reject).listen(port, '127.0.0.1', resolve));
      const { code } = await serve.exited;
      assert.equal(code, 1);
      const errors = serve.stderr().split('\n').filter((l) => l.startsWith('connlab:'));
      assert.equal(errors.length, 1, serve.stderr());
      assert.equal(serve.stderr().match(/ died: /g)?.length, 5, 'each death said on its own line');
      assert.match(errors[0] ?? '', /^connlab: worker 0 died 5 times within 60 s \(last: failed to start: .*EADDRINUSE.*\); not restarting it again \[CONNLAB_ERR_CRASH_LOOP\]$/);
      assert.doesNotMatch(serve.stderr(), /    at /, 'no stack trace');
    } finally {
      blocker.close();
      await serve.cleanup();
    }
  });
});

describe('replies matched by seq', () => {
  it('a late answer to an earlier broadcast does not answer the next one', async () => {
    const serve = await startServe({ listen: [{ host: '127.0.0.1', port: await freePort() }], workers: 2, fdSoftLimit: 20_000 });
    try {
      serve.pool.send({ type: 'broadcast', seq: 1 }); // its answers arrive while seq 2 is awaited
      const replies = serve.pool.collect('broadcasted', 5_000, 2);
      serve.pool.send({ type: 'broadcast', seq: 2 });
      assert.deepEqual((await replies).map((r) => r.seq), [2, 2]);
    } finally {
      await serve.close();
    }
  });
});
