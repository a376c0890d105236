import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { emptyStats, retire, sumStats } from '../../src/engine/aggregate.ts';
import { Lifecycle } from '../../src/engine/lifecycle.ts';
import { DEFAULT_RESTART_POLICY, resolveRestartPolicy, restartDecision } from '../../src/engine/restart-policy.ts';
import { RampTracker } from '../../src/load/ramp-tracker.ts';

describe('restart back-off and the crash-loop limit', () => {
  const policy = resolveRestartPolicy({ initialDelayMs: 100, maxDelayMs: 500, maxDeaths: 5, windowMs: 10_000 });
  const cases: [string, number[], number, number | undefined][] = [
    ['the first death waits the first delay', [1_000], 1_000, 100],
    ['each further death in the window doubles it', [1_000, 1_200], 1_200, 200],
    ['the third', [1_000, 1_200, 1_500], 1_500, 400],
    ['up to the cap', [1_000, 1_200, 1_500, 2_000], 2_000, 500],
    ['the fifth death within the window is a crash loop', [1_000, 1_200, 1_500, 2_000, 2_600], 2_600, undefined],
    ['deaths older than the window are forgotten', [1_000, 1_200, 1_500, 2_000, 12_500], 12_500, 100],
  ];
  for (const [name, times, now, delayMs] of cases) {
    it(name, () => assert.equal(restartDecision(policy, times, now).delayMs, delayMs));
  }

  it('keeps only the deaths inside the window for next time', () => {
    assert.deepEqual(restartDecision(policy, [0, 5_000, 10_500], 10_500).recent, [5_000, 10_500]);
  });

  it('defaults to 100 ms doubling to 5 s, and 5 deaths within 60 s', () => {
    assert.deepEqual(resolveRestartPolicy(), { initialDelayMs: 100, maxDelayMs: 5_000, maxDeaths: 5, windowMs: 60_000 });
    assert.deepEqual(resolveRestartPolicy({ maxDeaths: 2 }), { ...DEFAULT_RESTART_POLICY, maxDeaths: 2 });
  });
});

describe('a dead worker\'s counters', () => {
  it('keep its totals, and what it held is closed as lost, so accepted = closes + held', () => {
    const alive = { ...emptyStats(), established: 4, accepted: 6, closed: { ...emptyStats().closed, peer: 2 } };
    const dying = { ...emptyStats(), established: 7, verified: 7, accepted: 9, listeners: 1, closed: { ...emptyStats().closed, reset: 2 } };
    const dead = retire(dying);
    assert.deepEqual([dead.established, dead.verified, dead.listeners, dead.accepted, dead.closed.lost], [0, 0, 0, 9, 7]);
    const total = sumStats([alive, dead]);
    const closes = Object.values(total.closed).reduce((a, b) => a + b, 0);
    assert.equal(total.accepted, closes + total.established);
  });
});

describe('load\'s ramp', () => {
  it('counts a worker that ramps and then exits once, not twice', async () => {
    const ramp = new RampTracker(2);
    ramp.ramped(0);
    ramp.exited(0);
    ramp.ramped(0);
    assert.equal(ramp.remaining, 1, 'worker 1 is still connecting');
    const early = await Promise.race([ramp.finished.then(() => 'done'), Promise.resolve('pending')]);
    assert.equal(early, 'pending');
    ramp.exited(1);
    assert.equal(ramp.remaining, 0);
    assert.equal(typeof await ramp.finished, 'number');
  });

  it('is over at once with no workers, and ignores indices it does not know', async () => {
    assert.equal(typeof await new RampTracker(0).finished, 'number');
    const ramp = new RampTracker(1);
    ramp.ramped(5);
    ramp.exited(-1);
    assert.equal(ramp.remaining, 1);
  });
});

describe('the lifecycle every handle shares', () => {
  it('runs close() once and returns the same promise every time', async () => {
    const life = new Lifecycle<number>('thing');
    let runs = 0;
    const first = life.close(async () => ++runs);
    assert.equal(life.state, 'closing');
    assert.equal(life.close(async () => ++runs), first);
    assert.equal(await first, 1);
    assert.equal(life.state, 'closed');
  });

  it('runs destroy() once, also during a close, and not after a complete close', async () => {
    const life = new Lifecycle<void>('thing');
    let destroyed = 0;
    const closing = life.close(async () => {});
    life.destroy(() => destroyed++);
    life.destroy(() => destroyed++);
    assert.equal(destroyed, 1);
    assert.equal(life.state, 'destroyed');
    await closing;
    assert.equal(life.state, 'destroyed');
    const other = new Lifecycle<void>('thing');
    await other.close(async () => {});
    other.destroy(() => destroyed++);
    assert.equal(destroyed, 1);
  });

  it('lets close() after destroy() finish without an error', async () => {
    const life = new Lifecycle<string>('thing');
    life.destroy(() => {});
    assert.equal(await life.close(async () => 'what is left'), 'what is left');
  });

  it('refuses actions after close() or destroy() with CONNLAB_ERR_CLOSED', () => {
    for (const end of ['close', 'destroy'] as const) {
      const life = new Lifecycle<void>('thing');
      life.assertOpen('act');
      if (end === 'close') void life.close(async () => {});
      else life.destroy(() => {});
      assert.throws(() => life.assertOpen('act'), { code: 'CONNLAB_ERR_CLOSED' }, end);
    }
  });
});
