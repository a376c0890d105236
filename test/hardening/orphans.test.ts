// Issue 8: `kill -9` of a supervisor mid-ramp left 24 workers holding 275,530 sockets for
// ~5 s. Every supervisor (serve, load, bench) runs here as a real `connlab` process; it is
// SIGKILLed during its ramp, hold or broadcast, and one second later none of the workers
// it had (read from /proc, never by name) may be alive.

import assert from 'node:assert/strict';
import { setTimeout as delay } from 'node:timers/promises';
import { after, describe, it } from 'node:test';
import { freePort } from '../helpers/net.ts';
import { childrenOf, runCli, survivorsAfter, waitForChildren, type Cli } from '../helpers/procs.ts';

const WITHIN_MS = 1_000;
const started: Cli[] = [];
after(async () => {
  await Promise.all(started.map((cli) => cli.cleanup()));
});

function cli(args: string[], env?: NodeJS.ProcessEnv): Cli {
  const run = runCli(args, env);
  started.push(run);
  return run;
}

/** SIGKILLs the supervisor and returns the workers it had that are alive a second later. */
async function killSupervisor(supervisor: Cli, workers: number[]): Promise<number[]> {
  assert.ok(workers.length > 0, 'the supervisor had workers to leave behind');
  process.kill(supervisor.pid, 'SIGKILL');
  await supervisor.exited;
  return survivorsAfter(workers, WITHIN_MS);
}

async function serving(port: number, env?: NodeJS.ProcessEnv, extra: string[] = []): Promise<{ serve: Cli; workers: number[] }> {
  const serve = cli(['serve', '--listen', `127.0.0.1:${port}`, '--workers', '2', '--duration', '60s', ...extra], env);
  await serve.line(/^serving on/);
  return { serve, workers: await waitForChildren(serve.pid, 2) };
}

async function holding(port: number, connections: number): Promise<{ load: Cli; workers: number[] }> {
  const load = cli(['load', `127.0.0.1:${port}`, '-c', String(connections), '--workers', '2', '--duration', '60s']);
  await load.line(/^ramped;/);
  return { load, workers: childrenOf(load.pid) };
}

describe('no worker outlives its supervisor, whatever killed it', () => {
  it('serve and then load, each SIGKILLed while holding', async () => {
    const port = await freePort();
    const { serve, workers: serveWorkers } = await serving(port);
    const { load, workers: loadWorkers } = await holding(port, 3_000);
    assert.deepEqual(await killSupervisor(serve, serveWorkers), [], 'serve workers alive 1 s after serve');
    assert.deepEqual(await killSupervisor(load, loadWorkers), [], 'load workers alive 1 s after load');
  });

  it('load SIGKILLed during its ramp', async () => {
    const port = await freePort();
    await serving(port);
    // 4,000 at 1,000/s: the ramp lasts about 4 s.
    const load = cli(['load', `127.0.0.1:${port}`, '-c', '4000', '--rate', '1000', '--workers', '2', '--duration', '60s']);
    const workers = await waitForChildren(load.pid, 2);
    await delay(700);
    assert.doesNotMatch(load.stderr(), /ramped;/, 'still ramping');
    assert.deepEqual(await killSupervisor(load, workers), []);
  });

  it('serve SIGKILLed while it broadcasts every 50 ms', async () => {
    const port = await freePort();
    const { serve, workers } = await serving(port, {}, ['--broadcast-every', '50ms']);
    await holding(port, 3_000);
    // A round's own line, or (off a terminal) the summary of rounds that reached all 3,000.
    await serve.line(/(written to |-)3,000 connections/);
    assert.deepEqual(await killSupervisor(serve, workers), []);
  });

  it('a worker whose event loop cannot run (SIGSTOP) still dies with its supervisor', async () => {
    // Only the kernel's parent-death signal reaches a process that runs no code: the
    // IPC channel closing and the parent check both need the worker's event loop.
    const port = await freePort();
    const { serve, workers } = await serving(port);
    for (const pid of workers) process.kill(pid, 'SIGSTOP');
    assert.deepEqual(await killSupervisor(serve, workers), []);
  });

  it('without the kernel signal (no addon), the closed channel ends them just as fast', async () => {
    const port = await freePort();
    const { serve, workers } = await serving(port, { CONNLAB_WORKER_PDEATHSIG: '0' });
    await holding(port, 3_000);
    assert.deepEqual(await killSupervisor(serve, workers), []);
  });
});

describe('no bench worker outlives a SIGKILLed bench', () => {
  for (const phase of ['ramp', 'hold', 'broadcast'] as const) {
    it(`during ${phase}`, async () => {
      const bench = cli(['bench', '--connections', '10000', '--hold', '3s', '--no-report', '--json']);
      await bench.line(new RegExp(`^bench: ${phase}$`), 60_000);
      // Serve's worker runs from the start; load's joins at the ramp.
      const workers = await waitForChildren(bench.pid, 2);
      assert.deepEqual(await killSupervisor(bench, workers), []);
    });
  }
});
