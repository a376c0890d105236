import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { runMain as run } from '../helpers/io.ts';

const root = (name: string): string => new URL(`../fixtures/cgroups/${name}`, import.meta.url).pathname;

describe('connlab doctor inside a cgroup', () => {
  it('--pid reads that process\'s cgroup and open-file limit, and the table marks cgroup_memory', async () => {
    const { status, out } = await run(['doctor', '--root', root('v1-server'), '--pid', '4242', '--processes', '8', '--user-bytes', '40']);
    assert.equal(status, 0);
    assert.match(out, /cgroup_memory ◀ binds/);
    assert.match(out, /In cgroup \/process_api\/5865ee50\/cgroups-server \(v1, 3 process\(es\)\):/);
    assert.match(out, /Process 4242: open files 20,000/);
  });

  it('--cgroup --json carries the cgroup section in snake_case', async () => {
    const { status, out } = await run(['doctor', '--root', root('v2-pod'), '--cgroup', 'kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod1f2e.slice/cri-containerd-9ab3.scope', '--connections', '500k', '--processes', '32', '--json']);
    assert.equal(status, 0);
    const report = JSON.parse(out);
    assert.equal(report.binding.name, 'cgroup_memory');
    assert.equal(report.reaches_target, false);
    assert.equal(report.cgroup.version, 2);
    assert.equal(report.cgroup.memory.limit_bytes, 2147483648);
    assert.equal(typeof report.cgroup.charged.kernel_bytes_per_socket, 'number');
    assert.ok(report.advice.some((a: { kind: string; line: string }) => a.kind === 'kubernetes' && /limits: \{ memory: \d+Mi/.test(a.line)));
  });

  it('--unit for a unit systemd cannot show says unknown and why, and doctor still answers', async () => {
    const { status, out } = await run(['doctor', '--root', root('v1-server'), '--unit', 'connlab-no-such-unit.service', '--json']);
    assert.equal(status, 0);
    const report = JSON.parse(out);
    assert.equal(report.unit.unit, 'connlab-no-such-unit.service');
    assert.equal(report.unit.known, false);
    assert.equal(typeof report.unit.reason, 'string');
  });

  it('a cgroup that does not exist is a usage error (exit 2) before anything is read', async () => {
    const { status, err } = await run(['doctor', '--root', root('v2-pod'), '--cgroup', 'no/such/cgroup']);
    assert.equal(status, 2);
    assert.match(err, /CONNLAB_ERR_INVALID_ARGUMENT/);
  });

  it('--cgroup with --pid is refused', async () => {
    const { status } = await run(['doctor', '--root', root('v2-pod'), '--cgroup', 'a', '--pid', '777']);
    assert.equal(status, 2);
  });
});
