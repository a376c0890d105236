import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { startBench } from '../../src/bench/run-bench.ts';
import { BENCH_SCHEMA } from '../../src/bench/result.ts';
import { freeLoopbackPort } from '../../src/tuple/free-port.ts';
import { main } from '../../src/cli/main.ts';
import { createHostReader } from '../../src/limits/host-reader.ts';
import { readHostSnapshot } from '../../src/limits/snapshot.ts';
import { isGone } from '../helpers/kernel.ts';
import { recordingIo } from '../helpers/io.ts';

const host = () => readHostSnapshot(createHostReader('/'));

describe('connlab bench, small and real', () => {
  it('ramps, holds, verifies, broadcasts and reports every contract key plausibly', async () => {
    const run = startBench({ connections: 15_000, holdMs: 1_000, host: host(), kernelPoolSize: 28_232, port: await freeLoopbackPort(), command: 'test', sampleIntervalMs: 250 });
    const r = await run.done;
    assert.equal(r.schema, BENCH_SCHEMA);
    assert.equal(r.outcome, 'completed');
    assert.deepEqual(r.connections, { target: 15_000, established: 15_000, verified: 15_000 });
    assert.ok(r.ramp.seconds > 0 && r.ramp.per_second > 0 && r.ramp.connect_ms.count === 15_000);
    assert.equal(r.broadcast.delivered, 15_000);
    assert.ok(r.broadcast.p99_ms >= r.broadcast.p50_ms && r.broadcast.p50_ms > 0);
    // Two sockets' slab objects per connection: the object sizes bound it from below;
    // allocator slack and dentries add to it. Other activity on the host only adds.
    const expected = r.memory.kernel_expected_bytes_per_connection;
    assert.ok(r.memory.kernel_bytes_per_connection > 0.8 * expected, `kernel ${r.memory.kernel_bytes_per_connection} vs ${expected}`);
    assert.ok(r.memory.kernel_bytes_per_connection < 2.5 * expected, `kernel ${r.memory.kernel_bytes_per_connection} vs ${expected}`);
    assert.ok(r.memory.kernel_by_cache.TCP && r.memory.kernel_by_cache.TCP > 4000);
    assert.ok(r.memory.server_user_bytes_per_connection > 0 && r.memory.load_user_bytes_per_connection > 0);
    assert.equal(r.limits.binding, 'process_fds');
    assert.ok('system_fds' in r.limits.headroom && 'memory' in r.limits.headroom);
    assert.deepEqual(r.errors, {});
    assert.deepEqual([r.processes.server, r.processes.load], [run.plan.serverWorkers, run.plan.loadWorkers]);
    // One serve worker: SO_REUSEPORT has nobody to spread to.
    assert.deepEqual(r.processes, { server: 1, load: 1, server_held: { min: 15_000, max: 15_000 } });
    assert.ok(r.timeline.length >= 4);
    const phases = new Set(r.timeline.map((p) => p.phase));
    for (const phase of ['start', 'ramp', 'hold', 'verify', 'broadcast']) assert.ok(phases.has(phase as never), `${phase} in timeline`);
    const rampEnd = r.timeline.filter((p) => p.phase === 'ramp').at(-1);
    assert.equal(rampEnd?.load_connections, 15_000, 'the ramp closes with every connection counted');
    assert.ok(Math.max(...r.timeline.map((p) => p.kernel_sockets)) >= 30_000);
  });

  it('stops early on request and still returns the result so far', async () => {
    const run = startBench({ connections: 20_000, holdMs: 60_000, host: host(), kernelPoolSize: 28_232, port: await freeLoopbackPort(), command: 'test' });
    setTimeout(() => run.stop('SIGINT'), 1_500);
    const r = await run.done;
    assert.equal(r.outcome, 'SIGINT');
    assert.ok(r.connections.established > 0, 'what was held when stopped');
  });
});

describe('connlab bench, from the command line', () => {
  it('refuses a target this host cannot reach, with doctor\'s advice and exit status 2', async () => {
    const io = recordingIo();
    assert.equal(await main(['bench', '--connections', '2m', '--no-report'], io), 2);
    assert.match(io.err(), /\[CONNLAB_ERR_IMPOSSIBLE_TARGET\]/);
    assert.match(io.err(), /system_fds ◀ binds/);
    assert.equal(io.out(), '');
  });

  it('rejects bad flags with exit status 2', async () => {
    for (const args of [['--hold', 'forever'], ['--connections', '0'], ['--report', 'x.html', '--no-report']]) {
      assert.equal(await main(['bench', ...args], recordingIo()), 2, args.join(' '));
    }
  });

  it('on SIGINT ends every worker, writes the partial result, and exits 130', async () => {
    const bin = new URL('../../bin/connlab.js', import.meta.url).pathname;
    const child = spawn(process.execPath, [bin, 'bench', '--connections', '15000', '--hold', '60s', '--json', '--no-report'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    // Wait until the workers run, then collect their PIDs from the kernel.
    let workers: number[] = [];
    for (let i = 0; i < 100 && workers.length < 2; i++) {
      await new Promise((resolve) => setTimeout(resolve, 100));
      workers = childrenOf(child.pid ?? 0);
    }
    assert.equal(workers.length, 2, 'one serve worker and one load worker started');
    await new Promise((resolve) => setTimeout(resolve, 1_000));
    child.kill('SIGINT');
    assert.equal(await exited, 130);
    const result = JSON.parse(out);
    assert.equal(result.outcome, 'SIGINT');
    assert.ok(workers.every(isGone), 'no worker outlives the bench');
  });
});

function childrenOf(pid: number): number[] {
  try {
    return readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number);
  } catch {
    return [];
  }
}
