import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { startHostSampler, type TimedHostSample } from '../../src/probe/host-sampler.ts';
import { fixtureRoot } from '../helpers/io.ts';

/** Blocks this thread (its event loop included) for `ms`, as a starved supervisor is. */
function blockMainThread(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

const wallMs = (): number => performance.timeOrigin + performance.now();

describe('the host sampler thread', () => {
  it('keeps its cadence while the main thread\'s event loop is blocked, and delivers every sample afterwards', async () => {
    const samples: TimedHostSample[] = [];
    const sampler = startHostSampler({ intervalMs: 100, root: `${fixtureRoot('this-machine')}/`, onSample: (s) => samples.push(s) });
    // A timer on the main thread, as the sampler used to be: it cannot fire while blocked.
    const mainTicks: number[] = [];
    const ticker = setInterval(() => mainTicks.push(wallMs()), 100);
    // Blocked once the thread runs (its first sample), so the window tests the cadence, not its start.
    await sampler.ready;
    const from = wallMs();
    blockMainThread(1500);
    const to = wallMs();
    clearInterval(ticker);
    await new Promise((resolve) => setTimeout(resolve, 150));
    await sampler.stop();
    const inside = (t: number): boolean => t > from + 100 && t < to - 100;
    assert.equal(mainTicks.filter(inside).length, 0, 'a main-thread timer leaves a gap');
    const during = samples.map((s) => s.atMs).filter(inside);
    assert.ok(during.length >= 5, `${during.length} samples taken while the main thread was blocked`);
    // No gap in the blocked window longer than a few intervals.
    for (let i = 1; i < during.length; i++) assert.ok((during[i] ?? 0) - (during[i - 1] ?? 0) < 500);
    // In time order, and read from the root it was given (the fixture's slab caches).
    assert.deepEqual(samples.map((s) => s.atMs), samples.map((s) => s.atMs).sort((a, b) => a - b));
    assert.ok((samples[0]?.sample.slabBytes.TCP ?? 0) > 0);
    assert.ok(samples.every((s) => s.readMs >= 0 && s.slabAgeMs >= 0));
  });

  it('stops: no sample arrives after stop() resolved, and stopping twice is harmless', async () => {
    let count = 0;
    const sampler = startHostSampler({ intervalMs: 20, root: `${fixtureRoot('this-machine')}/`, onSample: () => count++ });
    await sampler.ready;
    assert.ok(count > 0, 'ready means a sample was delivered');
    await sampler.stop();
    await sampler.stop();
    const after = count;
    await new Promise((resolve) => setTimeout(resolve, 100));
    assert.equal(count, after);
    assert.ok(after > 0);
  });
});
