// The C worker's connect window, kept by the holder's loop (native/loop.c) since the ramp
// stopped waking the worker's main thread every 5 ms: toward a listener whose accept queue
// is full (the kernel drops the SYNs, so the connects stay pending), no more than
// maxPending connects are ever in flight and no more than maxPending wait queued behind
// them; toward a port nobody listens on, every connect fails with ECONNREFUSED, found by
// the batch poll() the holder makes right after its connects (native/conn.c).

import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { describe, it } from 'node:test';
import { cStartMessage, tuplesMessage } from '../../src/engine/c-worker-process.ts';
import { parseIpv4 } from '../../src/tuple/address.ts';
import { createTupleCursor } from '../../src/tuple/plan.ts';
import { rawWorker, type RawWorker } from '../helpers/c-worker.ts';
import { freePort } from '../helpers/net.ts';
import { SCHED_BATCH, SCHED_OTHER, threadCpu, threadPolicies } from '../helpers/sched.ts';

const loopback = parseIpv4('127.0.0.1') ?? 0;

interface RawReport { counters: Record<string, number>; errnos: Record<string, number> }

/** Starts a client C worker for `n` kernel-port connects to `port` with the given window. */
function startClient(worker: RawWorker, port: number, n: number, maxPending: number): void {
  const plan = { connections: n, destinations: [{ ip: loopback, port }], sourceIps: undefined, sourcePorts: 'kernel' as const, workers: 1, kernelPoolSize: 28_232 };
  const start = cStartMessage({ role: 'client', holder: 'native', plan, slice: { worker: 0, start: 0, count: n }, ratePerSec: null, maxPending, connectTimeoutMs: 60_000, reportIntervalMs: 60_000 });
  worker.write(`${JSON.stringify(start)}\n${JSON.stringify(tuplesMessage(createTupleCursor(plan, { start: 0, count: n })))}\n`);
}

/** Asks for a report and returns it (the periodic ones are a minute apart here). */
async function report(worker: RawWorker): Promise<RawReport> {
  const before = (await worker.lines()).length;
  worker.write('{"type":"report"}\n');
  for (const deadline = Date.now() + 10_000; Date.now() < deadline;) {
    const fresh = (await worker.lines()).slice(before).map((line) => JSON.parse(line) as { type: string } & RawReport);
    const found = fresh.find((m) => m.type === 'report');
    if (found) return found;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  throw new Error('no report within 10 s');
}

describe('the C worker\'s connect window', () => {
  it('keeps at most maxPending connects pending and maxPending queued while a full backlog drops SYNs', async (t) => {
    const port = await freePort();
    // A listener that never accepts, with backlog 0: one connection fills its queue, and
    // the kernel drops every later SYN (ListenOverflows), so those connects stay pending.
    const listener = spawn('python3', ['-c', `import socket,sys,time
s=socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1); s.bind(("127.0.0.1", ${port})); s.listen(0)
print("ready", flush=True); sys.stdin.read()`], { stdio: ['pipe', 'pipe', 'inherit'] });
    t.after(() => listener.kill('SIGKILL'));
    await new Promise<void>((resolve, reject) => {
      listener.stdout.once('data', () => resolve());
      listener.once('exit', (code) => reject(new Error(`listener exited ${code}`)));
    });
    const worker = await rawWorker();
    t.after(() => worker.cleanup());
    const N = 40;
    const WINDOW = 4;
    startClient(worker, port, N, WINDOW);
    await worker.message('started');
    let last = await report(worker);
    for (const deadline = Date.now() + 10_000; (last.counters.pending ?? 0) < WINDOW && Date.now() < deadline;) last = await report(worker);
    assert.equal(last.counters.pending, WINDOW, `the window fills: ${JSON.stringify(last.counters)}`);
    // Give the ramp's ticks time to overfill the window if they could.
    await new Promise((resolve) => setTimeout(resolve, 300));
    const held = await report(worker);
    const { pending = -1, queued = -1, established = -1 } = held.counters;
    assert.equal(pending, WINDOW, `pending stays at the window: ${JSON.stringify(held.counters)}`);
    assert.ok(queued >= 0 && queued <= WINDOW, `at most a window queued behind it: ${JSON.stringify(held.counters)}`);
    assert.ok(established >= 1 && established <= 2, `only what the backlog took is established: ${JSON.stringify(held.counters)}`);
    assert.ok(established + pending + queued < N, 'the rest of the slice waits in the ramp');

    // Nothing drains, so there is nothing to refill: the ramp's tick backs off to its
    // longest interval (250 ms, native/worker/ramp.h) instead of waking the main thread
    // every 20 ms (100 times in these 2 s; a report a second is the only other timer).
    const pid = worker.child.pid ?? 0;
    const before = threadCpu(pid, pid).switches;
    await new Promise((resolve) => setTimeout(resolve, 2_000));
    const woken = threadCpu(pid, pid).switches - before;
    assert.ok(woken <= 20, `the main thread woke ${woken} times in 2 s of a stalled window`);
  });

  it('counts every connect to a closed port as ECONNREFUSED and finishes the ramp', async (t) => {
    const port = await freePort();
    const worker = await rawWorker();
    t.after(() => worker.cleanup());
    const N = 300; // more than one poll() batch of 256
    startClient(worker, port, N, 64);
    await worker.message('ramped');
    const done = await report(worker);
    assert.equal(done.errnos['111'], N, JSON.stringify(done));
    assert.equal(done.counters.established, 0);
    assert.equal(done.counters.pending, 0);
    assert.equal(done.counters.connected, 0);
  });

  it('runs its holder thread SCHED_BATCH and its main thread (the channel, the timers) as started', async (t) => {
    const worker = await rawWorker();
    t.after(() => worker.cleanup());
    startClient(worker, await freePort(), 1, 1);
    await worker.message('started');
    const pid = worker.child.pid ?? 0;
    const policies = threadPolicies(pid);
    assert.equal(policies.get(pid), SCHED_OTHER);
    assert.deepEqual([...policies].filter(([tid]) => tid !== pid).map(([, policy]) => policy), [SCHED_BATCH], JSON.stringify([...policies]));
  });
});
