import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  parseCfsQuota, parseCgroupLimit, parseCgroupMounts, parseCpuMax, parseFlatKeyed, parseProcCgroup, parseSystemctlShow,
} from '../../src/limits/cgroup-parsers.ts';
import { readCgroupSnapshot, cgroupAncestry } from '../../src/limits/cgroup-reader.ts';
import { readProcessNofile, readSlabObjectBytes, type CgroupContext } from '../../src/limits/cgroup-context.ts';
import { chargedCost, CHARGED_EXTRA_BYTES_PER_SOCKET } from '../../src/limits/cgroup-model.ts';
import { diagnose } from '../../src/limits/diagnose.ts';
import { createHostReader } from '../../src/limits/host-reader.ts';
import { defaultShape } from '../../src/limits/shape.ts';
import { readHostSnapshot } from '../../src/limits/snapshot.ts';
import { parseUnitLimits, readUnitLimits } from '../../src/limits/systemd-unit.ts';

const root = (name: string): string => new URL(`../fixtures/cgroups/${name}`, import.meta.url).pathname;
const V2_POD = '/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod1f2e.slice';

function context(name: string, pid: number): { ctx: CgroupContext; reader: ReturnType<typeof createHostReader> } {
  const reader = createHostReader(root(name));
  return { reader, ctx: { cgroup: readCgroupSnapshot(reader, { kind: 'pid', pid }), objectBytes: readSlabObjectBytes(reader), process: readProcessNofile(reader, pid), unit: null } };
}

describe('cgroup parsers', () => {
  it('reads limits: a number, `max` and v1\'s page-counter maximum as no limit, garbage as unknown', () => {
    assert.equal(parseCgroupLimit('268435456\n'), 268435456);
    assert.equal(parseCgroupLimit('max\n'), null);
    assert.equal(parseCgroupLimit('9223372036854771712\n'), null);
    assert.equal(parseCgroupLimit('-1'), undefined);
  });

  it('reads /proc/PID/cgroup lines of both versions, including colons in the path', () => {
    assert.deepEqual(parseProcCgroup('4:memory:/a/b\n1:cpu,cpuacct:/\n0::/k8s/x:y\n'), [
      { id: 4, controllers: ['memory'], path: '/a/b' },
      { id: 1, controllers: ['cpu', 'cpuacct'], path: '/' },
      { id: 0, controllers: [], path: '/k8s/x:y' },
    ]);
  });

  it('finds cgroup mounts and their v1 controllers, ignoring other filesystems and name= hierarchies', () => {
    const mounts = parseCgroupMounts('tmpfs /sys/fs/cgroup tmpfs rw 0 0\ncgroup /sys/fs/cgroup/memory cgroup rw,relatime,memory 0 0\ncgroup /sys/fs/cgroup/systemd cgroup rw,name=systemd 0 0\ncgroup2 /sys/fs/cgroup/unified cgroup2 rw 0 0\n');
    assert.deepEqual(mounts, [
      { mountPoint: '/sys/fs/cgroup/memory', version: 1, controllers: ['memory'] },
      { mountPoint: '/sys/fs/cgroup/systemd', version: 1, controllers: [] },
      { mountPoint: '/sys/fs/cgroup/unified', version: 2, controllers: [] },
    ]);
  });

  it('reads keyed files and CPU quotas', () => {
    assert.deepEqual([...parseFlatKeyed('oom_kill_disable 0\nunder_oom 0\noom_kill 3\n')], [['oom_kill_disable', 0], ['under_oom', 0], ['oom_kill', 3]]);
    assert.deepEqual(parseCpuMax('max 100000\n'), { quotaUs: null, periodUs: 100000 });
    assert.deepEqual(parseCpuMax('50000 100000\n'), { quotaUs: 50000, periodUs: 100000 });
    assert.deepEqual(parseCfsQuota('-1\n', '100000\n'), { quotaUs: null, periodUs: 100000 });
    assert.equal(parseCpuMax('garbage'), undefined);
  });

  it('every prefix of a captured memory.stat parses to a subset of the whole, never a wrong value', () => {
    const text = 'cache 0\nrss 57499648\ntotal_inactive_file 1048576\n';
    const whole = parseFlatKeyed(text);
    for (let i = 0; i <= text.length; i++) {
      for (const [key, value] of parseFlatKeyed(text.slice(0, i))) {
        if (whole.get(key) !== value) assert.ok(text.slice(0, i).endsWith(String(value)), `prefix ${i}: ${key}=${value}`);
      }
    }
  });

  it('reads systemctl show output, infinity as no limit, and a missing unit as unknown', () => {
    assert.deepEqual([...parseSystemctlShow('LimitNOFILE=524288\nMemoryMax=infinity\n')], [['LimitNOFILE', '524288'], ['MemoryMax', 'infinity']]);
    const unit = parseUnitLimits('nginx.service', 'LimitNOFILESoft=1024\nLimitNOFILE=524288\nMemoryMax=2147483648\nTasksMax=4915\nControlGroup=/system.slice/nginx.service\nLoadState=loaded\n');
    assert.deepEqual(unit, { unit: 'nginx.service', known: true, reason: null, nofile_soft: 1024, nofile_hard: 524288, memory_max_bytes: 2147483648, tasks_max: 4915, control_group: '/system.slice/nginx.service' });
    assert.equal(parseUnitLimits('x.service', 'LoadState=not-found\n').known, false);
  });

  it('a failing systemctl gives an unknown unit with the reason, not an error', async () => {
    const unit = await readUnitLimits('nginx.service', () => Promise.reject(Object.assign(new Error('spawn systemctl ENOENT'), { code: 'ENOENT' })));
    assert.equal(unit.known, false);
    assert.match(unit.reason ?? '', /not installed/);
  });

  it('walks a path up to the root', () => {
    assert.deepEqual(cgroupAncestry('/a/b'), ['/a/b', '/a', '/']);
    assert.deepEqual(cgroupAncestry('/'), ['/']);
  });
});

describe('reading a cgroup v1 server (fixture captured here)', () => {
  it('finds each controller\'s cgroup from the process, with the smallest limit on the path', () => {
    const { ctx } = context('v1-server', 4242);
    const c = ctx.cgroup;
    assert.equal(c?.version, 1);
    assert.equal(c?.path, '/process_api/5865ee50/cgroups-server');
    assert.deepEqual(c?.members, [4242, 4243, 4244]);
    assert.equal(c?.memory?.limit_bytes, 268435456);
    assert.equal(c?.memory?.limit_path, '/process_api/5865ee50/cgroups-server');
    assert.equal(c?.memory?.reclaimable_bytes, 1048576);
    assert.equal(c?.memory?.socket_accounting, 'on');
    assert.equal(c?.memory?.oom_kills, 0);
    assert.deepEqual({ max: c?.pids?.max, current: c?.pids?.current, at: c?.pids?.max_path }, { max: 20, current: 9, at: '/cgroups-pids' });
    assert.equal(c?.cpu?.cpus, 0.5);
    assert.deepEqual(ctx.process, { pid: 4242, nofile_soft: 20000, nofile_hard: 20000 });
  });

  it('a path given as the directory under the mount resolves the other hierarchies through a member', () => {
    const reader = createHostReader(root('v1-server'));
    const c = readCgroupSnapshot(reader, { kind: 'path', path: '/sys/fs/cgroup/memory/process_api/5865ee50/cgroups-server' });
    assert.equal(c?.path, '/process_api/5865ee50/cgroups-server');
    assert.equal(c?.pids?.max, 20);
    assert.equal(readCgroupSnapshot(reader, { kind: 'path', path: 'process_api/5865ee50/cgroups-server' })?.memory?.limit_bytes, 268435456);
  });

  it('with no kmem.tcp limit anywhere, socket accounting is unknown and the larger charge is assumed', () => {
    const { ctx } = context('v1-no-tcp-limit', 4242);
    assert.equal(ctx.cgroup?.memory?.socket_accounting, 'unknown');
    const cost = chargedCost(ctx.cgroup ?? assert.fail('no cgroup'), ctx.objectBytes);
    assert.equal(cost.withoutTcpObject, 832 + 192 + 192 + 128 + CHARGED_EXTRA_BYTES_PER_SOCKET);
    assert.equal(cost.kernelBytesPerSocket, cost.withoutTcpObject + 2368);
  });

  it('doctor names cgroup_memory as binding, with the exact count the model gives', () => {
    const { ctx, reader } = context('v1-server', 4242);
    const host = readHostSnapshot(reader, { user: 'dev' });
    const r = diagnose(host, defaultShape({ role: 'server', processes: 8, userBytesPerConnection: 40 }), ctx);
    const perConnection = 832 + 192 + 192 + 128 + CHARGED_EXTRA_BYTES_PER_SOCKET + 2368 + 40;
    assert.equal(r.binding?.name, 'cgroup_memory');
    assert.equal(r.binding?.allows, Math.floor((268435456 - (59420672 - 1048576)) / perConnection));
    assert.equal(r.cgroup?.charged?.kernel_bytes_per_socket, perConnection - 40);
    assert.match(r.cgroup?.cpu_note ?? '', /0\.50 CPU/);
    const pids = r.limits.find((l) => l.name === 'cgroup_pids');
    assert.equal(pids?.allows, (20 - 11) * (20000 - 100), 'the supervisor is budgeted at its 11-task peak');
  });

  it('advice for a target past the cgroup gives the pod limit, MemoryMax= and the file to write', () => {
    const { ctx, reader } = context('v1-server', 4242);
    const r = diagnose(readHostSnapshot(reader, { user: 'dev' }), defaultShape({ role: 'server', connections: 100_000, userBytesPerConnection: 40 }), ctx);
    const kinds = r.advice.filter((a) => a.limit === 'cgroup_memory').map((a) => a.kind);
    assert.deepEqual(kinds, ['kubernetes', 'systemd', 'cgroup']);
    const need = Math.ceil(((59420672 - 1048576) + 100_000 * 3892) * 1.2 / 2 ** 20);
    assert.ok(r.advice.some((a) => a.line === `MemoryMax=${need}M`));
  });
});

describe('reading a cgroup v2 pod (Kubernetes layout)', () => {
  it('the pod\'s memory.max binds over the container\'s larger one; OOM kills and the CPU quota are read', () => {
    const { ctx } = context('v2-pod', 777);
    const c = ctx.cgroup;
    assert.equal(c?.version, 2);
    assert.equal(c?.memory?.limit_bytes, 2147483648);
    assert.equal(c?.memory?.limit_path, V2_POD);
    assert.equal(c?.memory?.oom_kills, 1);
    assert.equal(c?.memory?.max_events, 3);
    assert.equal(c?.memory?.sock_bytes, 0);
    assert.equal(c?.memory?.slab_bytes, 29360128);
    assert.equal(c?.memory?.socket_accounting, 'on');
    assert.deepEqual({ max: c?.pids?.max, at: c?.pids?.max_path }, { max: 4096, at: V2_POD });
    assert.equal(c?.cpu?.cpus, 1.5);
  });

  it('doctor predicts the pod\'s capacity from its limit, not the node\'s memory', () => {
    const { ctx, reader } = context('v2-pod', 777);
    const r = diagnose(readHostSnapshot(reader, { user: 'dev' }), defaultShape({ role: 'server', processes: 64 }), ctx);
    const perConnection = 832 + 192 + 192 + 128 + CHARGED_EXTRA_BYTES_PER_SOCKET + 2368 + 1000;
    assert.equal(r.binding?.name, 'cgroup_memory');
    const memory = r.limits.find((l) => l.name === 'cgroup_memory');
    assert.equal(memory?.allows, Math.floor((2147483648 - (104857600 - 4194304)) / perConnection));
    const host = r.limits.find((l) => l.name === 'memory');
    assert.ok((host?.allows ?? 0) > (memory?.allows ?? 0) * 4);
    assert.ok(JSON.stringify(r.cgroup).match(/"[a-z]+[A-Z]/) === null, 'snake_case keys');
  });
});
