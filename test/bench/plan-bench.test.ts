import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { benchLimits, planBench } from '../../src/bench/plan-bench.ts';
import { createHostReader } from '../../src/limits/host-reader.ts';
import { readHostSnapshot } from '../../src/limits/snapshot.ts';
import { fixtureRoot } from '../helpers/io.ts';

const host = (name: string) => readHostSnapshot(createHostReader(fixtureRoot(name)));

describe('sizing a bench before it starts', () => {
  it('spreads 100,000 over 7 serve and 6 load workers on this machine, and it fits', () => {
    const plan = planBench(host('this-machine'), 100_000);
    assert.deepEqual([plan.serverWorkers, plan.loadWorkers, plan.fits], [7, 6, true]);
    assert.equal(benchLimits(plan).binding, 'process_fds');
    assert.equal(benchLimits(plan).headroom.process_fds, 6 * 19_900 - 100_000);
  });

  it('fits the million on this machine with 63 + 51 workers', () => {
    const plan = planBench(host('this-machine'), 1_000_000);
    assert.deepEqual([plan.serverWorkers, plan.loadWorkers, plan.fits], [63, 51, true]);
  });

  it('refuses 1.3 million here: two sockets each outgrow fs.file-max', () => {
    const plan = planBench(host('this-machine'), 1_300_000);
    assert.equal(plan.fits, false);
    assert.equal(plan.binding?.name, 'system_fds');
    assert.ok(plan.report.advice.some((a) => a.sysctl?.name === 'fs.file-max'));
  });

  it('refuses the million on the article\'s 3.9 GB server: memory binds with both ends there', () => {
    const plan = planBench(host('million-server'), 1_000_000);
    assert.equal(plan.fits, false);
    assert.equal(plan.binding?.name, 'memory');
  });
});
