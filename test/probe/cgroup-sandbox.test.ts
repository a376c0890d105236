import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { once } from 'node:events';
import { describe, it } from 'node:test';
import { canSandbox, createCgroupSandbox } from '../../src/probe/cgroup-sandbox.ts';

describe('a child cgroup sandbox', { skip: canSandbox() ? false : 'needs root and cgroup v1 memory and pids hierarchies' }, () => {
  it('runs a command inside its memory and pids cgroups with their limits, and removes itself with what still runs there', async () => {
    const sandbox = createCgroupSandbox({ name: `cgroups-sandbox-${process.pid}`, memoryLimitBytes: 64 * 2 ** 20, pidsMax: 8 });
    const child = sandbox.spawn('sleep', ['30'], { stdio: 'ignore' });
    const exited = once(child, 'exit');
    try {
      await once(child, 'spawn');
      const deadline = Date.now() + 5_000;
      while (sandbox.members().length === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
      assert.deepEqual(sandbox.members(), [child.pid]);
      assert.equal(readFileSync(`${sandbox.memoryDir}/memory.limit_in_bytes`, 'utf8').trim(), String(64 * 2 ** 20));
      assert.equal(readFileSync(`${sandbox.pidsDir}/pids.max`, 'utf8').trim(), '8');
      assert.match(readFileSync(`/proc/${child.pid}/cgroup`, 'utf8'), new RegExp(`memory:${sandbox.path}\\n`));
    } finally {
      await sandbox.remove();
    }
    const [, signal] = await exited;
    assert.equal(signal, 'SIGKILL');
    assert.equal(existsSync(sandbox.memoryDir ?? ''), false);
    assert.equal(existsSync(sandbox.pidsDir ?? ''), false);
    await sandbox.remove();
  });
});
