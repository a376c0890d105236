import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { extrapolate } from '../../../src/bench/target/extrapolate.ts';
import { checkTargetOptions, stepSources } from '../../../src/bench/target/run-target.ts';
import { describeFailure, fitSteps, mergeExplained, stepTargets, type TargetStep } from '../../../src/bench/target/target-result.ts';
import { createHostReader } from '../../../src/limits/host-reader.ts';
import { readHostSnapshot } from '../../../src/limits/snapshot.ts';
import { fixtureRoot } from '../../helpers/io.ts';
import { isConnlabError } from '../../../src/errors.ts';

const host = readHostSnapshot(createHostReader(fixtureRoot('this-machine')), { user: 'dev' });

function step(n: number, established: number, privateBytes: number, ok = true): TargetStep {
  return {
    step: n, target: established, established, verified: established, t: n, server_private_bytes: privateBytes, server_private_dirty_bytes: privateBytes, server_pss_bytes: privateBytes,
    server_processes: 5, server_cpu_seconds: 0.1, kernel_sockets: 2 * established, slab_bytes: 1e6 + 8000 * established, cgroup_memory_bytes: null, ok,
  };
}

describe('bench --target arithmetic', () => {
  it('splits N into K cumulative steps that end exactly at N', () => {
    assert.deepEqual(stepTargets(3000, 3), [1000, 2000, 3000]);
    assert.deepEqual(stepTargets(10, 4), [3, 5, 8, 10]);
  });

  it('fits user and kernel bytes per connection over the baseline and the steps that held, not the failed one', () => {
    const baseline = { server_private_bytes: 10e6, server_private_dirty_bytes: 10e6, server_pss_bytes: 10e6, kernel_sockets: 0, slab_bytes: 1e6 };
    const steps = [step(1, 1000, 10e6 + 500e3), step(2, 2000, 10e6 + 1000e3), step(3, 3000, 10e6 + 1500e3), step(4, 3500, 99e6, false)];
    const { fit, kernel } = fitSteps(baseline, steps);
    assert.equal(fit.bytes_per_connection, 500);
    assert.equal(fit.intercept_bytes, 10e6);
    assert.equal(fit.r2, 1);
    assert.equal(fit.points, 3, 'three steps held: the baseline is left out');
    assert.equal(kernel.bytes_per_connection, 4000, 'slab against kernel sockets: bytes per socket');
    assert.equal(kernel.points, 4);
  });

  it('leaves a one-time cost of the first connections out of the slope once three steps held', () => {
    const baseline = { server_private_bytes: 10e6, server_private_dirty_bytes: 10e6, server_pss_bytes: 10e6, kernel_sockets: 0, slab_bytes: 1e6 };
    const jump = 4e6;
    const steps = [1, 2, 3].map((i) => step(i, i * 10_000, 10e6 + jump + 50 * i * 10_000));
    const { fit } = fitSteps(baseline, steps);
    assert.equal(fit.bytes_per_connection, 50);
    assert.equal(fit.intercept_bytes - baseline.server_private_dirty_bytes, jump);
    const two = fitSteps(baseline, steps.slice(0, 2)).fit;
    assert.equal(two.points, 3, 'with two steps the baseline stays: a line through two points fits anything');
  });

  it('merges classified errors from several load runs, most frequent first, and names the first in the failure', () => {
    const merged = mergeExplained([
      [{ errno: 'closed_by_server', cause: 'server', explanation: 'x', count: 10 }],
      [{ errno: 'ECONNREFUSED', cause: 'server', explanation: 'y', count: 30 }, { errno: 'closed_by_server', cause: 'server', explanation: 'x', count: 5 }],
    ]);
    assert.deepEqual(merged.map((e) => [e.errno, e.count]), [['ECONNREFUSED', 30], ['closed_by_server', 15]]);
    const failure = describeFailure({ ...step(2, 1000, 0, false), target: 2000 }, false, merged);
    assert.equal(failure.step, 2);
    assert.equal(failure.server_alive, false);
    assert.equal(failure.error?.errno, 'ECONNREFUSED');
    assert.match(failure.line, /step 2: held 1,000 of 2,000/);
  });

  it('extrapolates with the server\'s processes, descriptor limit and measured bytes, naming the binding limit', () => {
    const x = extrapolate(host, { userBytesPerConnection: 530, processes: 4, fdSoftLimit: 20000, fdHardLimit: 20000 });
    assert.equal(x.binding, 'process_fds');
    assert.equal(x.connections, 4 * (20000 - 100));
    assert.equal(x.processes, 4);
    assert.equal(x.user_bytes_per_connection, 530);
    assert.ok(x.after_binding !== null && x.after_binding.allows > x.connections);
    assert.match(x.line, /^holds ~79,600 connections here, bound by process_fds/);
    assert.ok(x.advice.some((a) => a.startsWith('LimitNOFILE=')), x.advice.join(' | '));
    assert.ok(!x.advice.some((a) => a.startsWith('--')), 'no connlab flags for someone else\'s server');
  });

  it('lets memory bind for a server whose connections are expensive', () => {
    const x = extrapolate(host, { userBytesPerConnection: 2_000_000, processes: 64, fdSoftLimit: 1_000_000, fdHardLimit: 1_000_000 });
    assert.equal(x.binding, 'memory');
  });

  it('gives every step its own loopback sources, away from 127.0.0.1', () => {
    const dest = [{ ip: 0x7f000001, port: 8080 }];
    assert.deepEqual(stepSources(0, 1000, dest), [{ first: 0x7f010001, last: 0x7f010001 }]);
    assert.deepEqual(stepSources(2, 60_000, dest), [{ first: 0x7f030001, last: 0x7f030002 }]);
  });

  it('refuses non-loopback targets, fewer than two steps, and fewer connections than steps', () => {
    const dest = [{ ip: 0x7f000001, port: 80 }];
    const code = (f: () => void): string | undefined => {
      try {
        f();
      } catch (error) {
        return isConnlabError(error) ? error.code : 'other';
      }
      return undefined;
    };
    assert.equal(code(() => checkTargetOptions({ destinations: [{ ip: 0x0a000001, port: 80 }], connections: 10, steps: 2 })), 'CONNLAB_ERR_INVALID_ARGUMENT');
    assert.equal(code(() => checkTargetOptions({ destinations: dest, connections: 10, steps: 1 })), 'CONNLAB_ERR_INVALID_ARGUMENT');
    assert.equal(code(() => checkTargetOptions({ destinations: dest, connections: 2, steps: 3 })), 'CONNLAB_ERR_INVALID_ARGUMENT');
    assert.equal(code(() => checkTargetOptions({ destinations: dest, connections: 10, steps: 2 })), undefined);
  });
});
