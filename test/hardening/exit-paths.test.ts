// Exit codes and results that tell the truth (issue 15): a stop signal to the whole
// process group is a clean stop, an interrupted load exits 130 with how long it held,
// and `--json` gets a JSON result on every exit path the command controls.

import assert from 'node:assert/strict';
import net from 'node:net';
import { describe, it } from 'node:test';
import { cWorkerAvailable } from '../../src/engine/worker-process.ts';
import type { WorkerRuntime } from '../../src/engine/worker-runtime.ts';
import { startLoad } from '../../src/load/load.ts';
import { startServe } from '../../src/server/serve.ts';
import { freePort } from '../helpers/net.ts';
import { childrenOf, runCli, survivorsAfter, waitForChildren } from '../helpers/procs.ts';

const RUNTIMES: WorkerRuntime[] = cWorkerAvailable() ? ['c', 'node'] : ['node'];

async function listenExclusive(port: number): Promise<net.Server> {
  const server = net.createServer();
  await new Promise<void>((resolve, reject) => server.once('error', reject).listen(port, '127.0.0.1', resolve));
  return server;
}

describe('a stop signal to the whole process group', () => {
  for (const runtime of RUNTIMES) {
    it(`stops serve cleanly: exit 0, no death, nothing restarted, the books balance (${runtime})`, async () => {
      const port = await freePort();
      const serve = runCli(['serve', '--listen', `127.0.0.1:${port}`, '--workers', '2', '--worker-runtime', runtime, '--json'], {}, { detached: true });
      const load = await startLoad({ destinations: [{ ip: 0x7f000001, port }], connections: 1_000, workers: 1, fdSoftLimit: 20_000, kernelPoolSize: 28_232 }).catch(async (e: unknown) => {
        await serve.cleanup();
        throw e;
      });
      try {
        await serve.line(/^serving on/);
        const workers = await waitForChildren(serve.pid, 2);
        await load.rampDone();
        // What systemd (KillMode=control-group) and `kill -- -PGID` do: every process at once.
        process.kill(-serve.pid, 'SIGTERM');
        const { code } = await serve.exited;
        assert.equal(code, 0, serve.stderr());
        assert.doesNotMatch(serve.stderr(), /died|restarted/);
        const result = JSON.parse(serve.stdout()) as { deaths: unknown[]; books_balanced: boolean; closed: { lost: number }; stopped_by: string; outcome: string };
        assert.deepEqual(result.deaths, []);
        assert.equal(result.closed.lost, 0);
        assert.equal(result.books_balanced, true);
        assert.deepEqual([result.stopped_by, result.outcome], ['SIGTERM', 'stopped']);
        assert.deepEqual(await survivorsAfter(workers, 2_000), []);
      } finally {
        await load.close();
        await serve.cleanup();
      }
    });
  }
});

describe('an interrupted load', () => {
  it('exits 130 like bench, with the hold it asked for and the hold it got', async () => {
    const port = await freePort();
    const serve = await startServe({ listen: [{ host: '127.0.0.1', port }], workers: 1, fdSoftLimit: 20_000 });
    const load = runCli(['load', `127.0.0.1:${port}`, '-c', '500', '--workers', '1', '--duration', '30s', '--json']);
    try {
      await load.line(/^ramped; .*holding for 30s/);
      process.kill(load.pid, 'SIGINT');
      const { code } = await load.exited;
      assert.equal(code, 130, load.stderr());
      const r = JSON.parse(load.stdout()) as { outcome: string; reason: string; stopped_by: string; hold_seconds: number; hold_requested_seconds: number; books_balanced: boolean };
      assert.deepEqual([r.outcome, r.stopped_by, r.reason], ['interrupted', 'SIGINT', 'interrupted by SIGINT']);
      assert.equal(r.hold_requested_seconds, 30);
      assert.ok(r.hold_seconds >= 0 && r.hold_seconds < 30, String(r.hold_seconds));
      assert.equal(r.books_balanced, true);
    } finally {
      await load.cleanup();
      await serve.close();
    }
  });
});

describe('--json on every exit path', () => {
  it('a failed start writes a result with the outcome and the error\'s code', async () => {
    const port = await freePort();
    const blocker = await listenExclusive(port);
    const serve = runCli(['serve', '--listen', `127.0.0.1:${port}`, '--workers', '1', '--json']);
    try {
      const { code } = await serve.exited;
      assert.equal(code, 1);
      const r = JSON.parse(serve.stdout()) as { schema: string; command: string; outcome: string; exit_code: number; reason: { code: string } };
      assert.deepEqual([r.schema, r.command, r.outcome, r.exit_code, r.reason.code], ['connlab.error/1', 'serve', 'failed', 1, 'CONNLAB_ERR_WORKER']);
    } finally {
      blocker.close();
      await serve.cleanup();
    }
  });

  it('bad usage writes one too, with exit status 2', async () => {
    const load = runCli(['load', '--json']);
    const { code } = await load.exited;
    assert.equal(code, 2);
    const r = JSON.parse(load.stdout()) as { outcome: string; reason: { code: string } };
    assert.deepEqual([r.outcome, r.reason.code], ['usage', 'CONNLAB_ERR_USAGE']);
  });

  it('serve\'s crash loop writes its result, books included, then exits 1 with one error line', async () => {
    const port = await freePort();
    const serve = runCli(['serve', '--listen', `127.0.0.1:${port}`, '--workers', '1', '--duration', '60s', '--json']);
    let blocker: net.Server | undefined;
    try {
      await serve.line(/^serving on/);
      process.kill(childrenOf(serve.pid)[0] ?? 0, 'SIGKILL');
      await serve.line(/died: killed by SIGKILL.*restarted/);
      blocker = await listenExclusive(port);
      const { code } = await serve.exited;
      assert.equal(code, 1);
      const r = JSON.parse(serve.stdout()) as { outcome: string; reason: { code: string }; stopped_by: string; deaths: unknown[]; books_balanced: boolean };
      assert.deepEqual([r.outcome, r.reason.code, r.stopped_by], ['failed', 'CONNLAB_ERR_CRASH_LOOP', 'crash_loop']);
      assert.equal(r.deaths.length, 5);
      assert.equal(r.books_balanced, true);
      assert.equal(serve.stderr().split('\n').filter((l) => l.startsWith('connlab:')).length, 1);
    } finally {
      blocker?.close();
      await serve.cleanup();
    }
  });
});
