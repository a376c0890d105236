// serve inside a cgroup reports the cgroup's limit and usage beside the host's, and a
// worker that cannot start because pids.max is full is named as the cgroup's failure.
// Live: child cgroups under this process's own (root, cgroup v1); removed afterwards.

import assert from 'node:assert/strict';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import { describe, it } from 'node:test';
import { pidsMaxFor } from '../../src/demo/cgroup-runs.ts';
import { canSandbox, createCgroupSandbox } from '../../src/probe/cgroup-sandbox.ts';

const CLI = fileURLToPath(new URL('../../bin/connlab.js', import.meta.url));
const skip = canSandbox() ? false : 'needs root and cgroup v1 memory and pids hierarchies';

async function serveIn(options: Parameters<typeof createCgroupSandbox>[0], args: string[]) {
  const sandbox = createCgroupSandbox(options);
  try {
    const child = sandbox.spawn(process.execPath, [CLI, 'serve', ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout?.on('data', (c: Buffer) => (out += c.toString()));
    child.stderr?.on('data', (c: Buffer) => (err += c.toString()));
    const [code] = await once(child, 'exit');
    return { code: code as number | null, out, err };
  } finally {
    await sandbox.remove();
  }
}

describe('serve inside a cgroup', { skip, concurrency: false }, () => {
  it('prints the cgroup\'s memory limit and usage beside the host\'s, and puts them in --json', async () => {
    const limit = 512 * 2 ** 20;
    const r = await serveIn({ name: `cgroups-serve-mem-${process.pid}`, memoryLimitBytes: limit }, ['--listen', '127.0.0.1:25120', '--workers', '1', '--duration', '1s', '--json']);
    assert.equal(r.code, 0, r.err);
    assert.match(r.err, /in cgroup \/\S+cgroups-serve-mem-\d+ \(v1\): memory limit 512 MiB, \d+ MiB used \(host: [\d,]+ MiB available\)/);
    const json = JSON.parse(r.out);
    assert.equal(json.cgroup.memory_limit_bytes, limit);
    assert.equal(json.cgroup.failure, null);
  });

  it('a worker refused by pids.max fails serve with CONNLAB_ERR_WORKER named cgroup_pids', async () => {
    const r = await serveIn({ name: `cgroups-serve-pids-${process.pid}`, pidsMax: pidsMaxFor(2) }, ['--listen', '127.0.0.1:25121', '--workers', '4', '--duration', '5s']);
    assert.equal(r.code, 1);
    // The refused fork shows as EAGAIN, or (when a thread was refused) as a worker that never started.
    assert.match(r.err, /cgroup_pids — pids\.max refused \d+ fork\(s\) in \/sys\/fs\/cgroup\/pids\//);
    assert.match(r.err, /\[CONNLAB_ERR_WORKER\]/);
  });
});
