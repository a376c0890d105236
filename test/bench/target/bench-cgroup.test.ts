// bench --target --server-cgroup against connlab serve in a memory-limited cgroup: the
// cgroup's limit and usage go beside the host's, and the step where the cgroup's OOM
// killer ends the server fails as cgroup_memory, not as a generic death. Live (root,
// cgroup v1); the cgroup is removed afterwards. The failure line is also tested pure.

import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, it } from 'node:test';
import { withCgroupFailure, type TargetFailure } from '../../../src/bench/target/target-result.ts';
import { renderBenchReport } from '../../../src/bench/report-html.ts';
import { startServeIn } from '../../../src/demo/cgroup-runs.ts';
import { canSandbox, createCgroupSandbox } from '../../../src/probe/cgroup-sandbox.ts';

const CLI = fileURLToPath(new URL('../../../bin/connlab.js', import.meta.url));

describe('bench --target and the server\'s cgroup', () => {
  it('a failure the cgroup caused is named first, before load\'s errors', () => {
    const failure: TargetFailure = { step: 2, target: 80000, established: 0, verified: 0, server_alive: false, error: null, explained: [], line: 'step 2: held 0 of 80,000, verified 0; the server process is gone; no error or close was seen' };
    const named = withCgroupFailure(failure, { limit: 'cgroup_memory', error: 'OOM kill', line: 'the cgroup\'s OOM killer ended 1 process(es) in /x' });
    assert.equal(named.cgroup?.limit, 'cgroup_memory');
    assert.equal(named.line, 'step 2: held 0 of 80,000, verified 0; cgroup_memory: the cgroup\'s OOM killer ended 1 process(es) in /x; the server process is gone; no error or close was seen');
    assert.equal(withCgroupFailure(failure, null), failure);
  });

  it('serve OOM-killed in its 256 MiB cgroup fails the step as cgroup_memory', { skip: canSandbox() ? false : 'needs root and cgroup v1' }, async () => {
    const sandbox = createCgroupSandbox({ name: `cgroups-bench-${process.pid}`, memoryLimitBytes: 256 * 2 ** 20, socketAccounting: true });
    try {
      await startServeIn(sandbox, { first: 25130, last: 25133 }, 4);
      const out = await new Promise<string>((resolve, reject) => execFile(process.execPath,
        [CLI, 'bench', '--target', '127.0.0.1:25130-25133', '--server-cgroup', sandbox.memoryDir ?? '', '--connections', '80k', '--steps', '2', '--hold', '1s', '--json'],
        { maxBuffer: 1e8, timeout: 90_000 }, (error, stdout) => (error && error.code !== 1 ? reject(error) : resolve(stdout))));
      const r = JSON.parse(out);
      assert.equal(r.outcome, 'failed');
      assert.equal(r.target.steps[0].ok, true);
      assert.ok(r.target.steps[0].cgroup_memory_bytes > 40_000 * 3000, `usage ${r.target.steps[0].cgroup_memory_bytes}`);
      assert.equal(r.target.failure.cgroup.limit, 'cgroup_memory');
      assert.match(r.target.failure.line, /cgroup_memory: the cgroup's OOM killer ended/);
      assert.equal(r.target.cgroup.memory_limit_bytes, 256 * 2 ** 20);
      assert.ok(r.target.cgroup.oom_kills >= 1);
      const html = renderBenchReport(r);
      assert.match(html, /Server cgroup memory limit<\/th><td class="num"><span[^>]*data-field="target\.cgroup\.memory_limit_bytes"[^>]*>256 MiB</);
    } finally {
      await sandbox.remove();
    }
  });
});
