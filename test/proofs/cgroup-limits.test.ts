// Proof: inside a cgroup, the cgroup's limits bind before the host's, where doctor says.
// A child cgroup under this process's own (cgroup v1, memory and pids controllers, root)
// gets a 256 MiB memory limit; connlab serve runs in it; doctor --cgroup's prediction is
// read from it; load from outside ramps past it until the cgroup's OOM killer ends serve.
// The failure point is within 10% of the prediction and the failure is the cgroup's
// (memory.oom_control oom_kill). Then the same for pids.max: the workers doctor says fit
// start, one more fails with EAGAIN and pids.events counts it. The cgroups are removed.

import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { describe, it } from 'node:test';
import { pidsMaxFor, runCgroupMemory, runCgroupPids } from '../../src/demo/cgroup-runs.ts';
import { canSandbox } from '../../src/probe/cgroup-sandbox.ts';
import { main } from '../../src/cli/main.ts';
import { recordingIo } from '../helpers/io.ts';

const skip = canSandbox() ? false : 'needs root and cgroup v1 memory and pids hierarchies';
const MEMORY_LIMIT = 256 * 2 ** 20;

describe('a cgroup binds before the host', { skip, concurrency: false }, () => {
  it('serve in a 256 MiB memory cgroup fails within 10% of doctor\'s prediction, named as the cgroup\'s OOM kill', async () => {
    let cli: { binding: { name: string; allows: number } } | undefined;
    const run = await runCgroupMemory({
      name: `cgroups-proof-mem-${process.pid}`, limitBytes: MEMORY_LIMIT, ports: { first: 25100, last: 25103 }, workers: 4, timeoutMs: 60_000,
      // The same prediction as a user gets it: `connlab doctor --cgroup PATH --json`.
      onReady: async (path) => {
        const io = recordingIo({ uid: 0, user: 'root' });
        assert.equal(await main(['doctor', '--cgroup', path, '--processes', '4', '--user-bytes', '48', '--json'], io), 0, io.err());
        cli = JSON.parse(io.out());
      },
    });
    assert.equal(cli?.binding.name, 'cgroup_memory');
    assert.ok(Math.abs((cli?.binding.allows ?? 0) - run.predicted) <= run.predicted * 0.01, `doctor --cgroup said ${cli?.binding.allows}, the run used ${run.predicted}`);
    assert.equal(run.binding, 'cgroup_memory');
    assert.ok(run.predicted > 10_000, `prediction ${run.predicted}`);
    const error = Math.abs(run.observed_peak - run.predicted) / run.predicted;
    assert.ok(error <= 0.10, `observed ${run.observed_peak} vs predicted ${run.predicted} (${(error * 100).toFixed(1)}%)`);
    assert.equal(run.failure?.limit, 'cgroup_memory');
    assert.equal(run.failure?.error, 'OOM kill');
    assert.equal(existsSync(`/sys/fs/cgroup/memory${run.cgroup}`), false, 'the cgroup is removed');
  });

  it('serve in a pids-limited cgroup starts the workers doctor predicts, and one more fails with EAGAIN counted by pids.max', async () => {
    const run = await runCgroupPids({ name: `cgroups-proof-pids-${process.pid}`, pidsMax: pidsMaxFor(3), ports: { first: 25110, last: 25110 } });
    assert.equal(run.predicted_workers, 3);
    assert.equal(run.observed_workers, run.predicted_workers);
    assert.equal(run.one_more.exit_code, 1);
    assert.equal(run.one_more.error, 'EAGAIN');
    assert.equal(run.one_more.failure?.limit, 'cgroup_pids');
    for (const suffix of ['probe', 'fits', 'over']) assert.equal(existsSync(`/sys/fs/cgroup/pids/${run.cgroup.replace(/-over$/, `-${suffix}`)}`), false);
  });
});
