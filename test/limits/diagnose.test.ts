import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { diagnose } from '../../src/limits/diagnose.ts';
import { createHostReader } from '../../src/limits/host-reader.ts';
import type { LimitName } from '../../src/limits/model.ts';
import { defaultShape, type TrafficShape } from '../../src/limits/shape.ts';
import { readHostSnapshot } from '../../src/limits/snapshot.ts';
import { parseIpList, parsePortRange, parseTargets } from '../../src/tuple/address.ts';
import { fixtureRoot } from '../helpers/io.ts';

const host = (name: string) => readHostSnapshot(createHostReader(fixtureRoot(name)), { user: 'dev' });
const report = (name: string, shape: Partial<TrafficShape>) => diagnose(host(name), defaultShape(shape));
const allows = (r: ReturnType<typeof report>, name: LimitName) => r.limits.find((l) => l.name === name)?.allows;

describe('capacity model', () => {
  it('one client, one source IP, one destination: exactly the port range, bound by ephemeral ports', () => {
    const r = report('million-server', { role: 'client', targets: parseTargets('127.0.0.1:9000', 't') });
    assert.equal(allows(r, 'ephemeral_ports'), 28232);
    assert.deepEqual(r.binding, { name: 'ephemeral_ports', allows: 28232, error: 'EADDRNOTAVAIL' });
  });

  it('on this machine the same shape is bound by descriptors until two processes share it', () => {
    const one = report('this-machine', { role: 'client' });
    assert.equal(one.binding?.name, 'process_fds');
    assert.equal(allows(one, 'ephemeral_ports'), 28232);
    const two = report('this-machine', { role: 'client', processes: 2 });
    assert.deepEqual(two.binding, { name: 'ephemeral_ports', allows: 28232, error: 'EADDRNOTAVAIL' });
  });

  it('four destination ports give four pools', () => {
    const r = report('this-machine', { role: 'client', processes: 8, targets: parseTargets('127.0.0.1:9000-9003', 't') });
    assert.equal(allows(r, 'ephemeral_ports'), 4 * 28232);
    assert.equal(r.binding?.name, 'ephemeral_ports');
  });

  it('source IPs multiply the pool, and reserved ports come out of it', () => {
    const r = report('this-machine', { role: 'client', sourceIps: parseIpList('127.0.0.2-127.0.0.11', 's') });
    assert.equal(allows(r, 'ephemeral_ports'), 10 * 28232);
    const reserved = report('conntrack-host', { role: 'client' });
    assert.equal(allows(reserved, 'ephemeral_ports'), 28232 - 1000);
  });

  it('planned source ports count the given range, one source port serving every destination', () => {
    const r = report('this-machine', {
      role: 'client',
      sourcePorts: parsePortRange('10000-19999', 'p'),
      targets: parseTargets('127.0.0.1:9000-9001', 't'),
    });
    assert.equal(allows(r, 'ephemeral_ports'), 2 * 10000);
  });

  it('a million with both ends here: process descriptors bind, at least 101 processes, then system descriptors', () => {
    const r = report('this-machine', { role: 'both', connections: 1_000_000 });
    assert.equal(r.binding?.name, 'process_fds');
    assert.equal(r.binding?.allows, 19900);
    assert.equal(r.reaches_target, false);
    assert.ok((r.processes_needed ?? 0) >= 101, `processes_needed ${r.processes_needed}`);
    assert.equal(r.processes_needed, 102);
    assert.equal(r.after_spreading?.processes, 102);
    assert.equal(r.after_spreading?.binding?.name, 'system_fds');
    const { fileMax = 0, inUse = 0 } = host('this-machine').fds;
    assert.equal(r.after_spreading?.headroom.system_fds, Math.floor((fileMax - inUse) / 2) - 1_000_000);
    assert.ok((r.after_spreading?.headroom.memory ?? 0) > 0);
  });

  it('the article\'s tuned 3.9 GB server just reaches a million, with file-max and memory both close', () => {
    const r = report('million-server', { role: 'server', connections: 1_000_000, userBytesPerConnection: 0 });
    assert.equal(r.reaches_target, true);
    assert.equal(r.processes_needed, 1);
    for (const name of ['system_fds', 'memory'] as const) {
      const headroom = r.limits.find((l) => l.name === name)?.headroom ?? -1;
      assert.ok(headroom > 0 && headroom < 150_000, `${name} headroom ${headroom}`);
    }
  });

  it('a server role has no ephemeral-port cap and names its accept-queue limit as no cap', () => {
    const r = report('this-machine', { role: 'server' });
    assert.equal(allows(r, 'ephemeral_ports'), null);
    assert.equal(allows(r, 'backlog'), null);
  });

  it('conntrack binds only while it is tracking', () => {
    const tracking = report('conntrack-host', { role: 'server', processes: 10 });
    assert.equal(tracking.binding?.name, 'conntrack');
    assert.equal(tracking.binding?.allows, 65536 - 12000);
    const idle = report('this-machine', { role: 'server', processes: 100 });
    assert.equal(idle.limits.find((l) => l.name === 'conntrack')?.active, false);
    assert.notEqual(idle.binding?.name, 'conntrack');
  });

  it('headroom is each limit against the target', () => {
    const r = report('this-machine', { role: 'server', connections: 10_000 });
    for (const l of r.limits) if (l.allows !== null) assert.equal(l.headroom, l.allows - 10_000, l.name);
    assert.equal(r.reaches_target, true);
  });
});

describe('advice', () => {
  it('names a source-IP range and the port-range sysctl when ports fall short', () => {
    const r = report('this-machine', { role: 'client', processes: 10, connections: 100_000 });
    const lines = r.advice.filter((a) => a.limit === 'ephemeral_ports').map((a) => a.line);
    assert.ok(lines.includes('--source-ips 127.0.0.2-127.0.0.5'), lines.join('\n'));
    assert.ok(lines.includes('sysctl -w net.ipv4.ip_local_port_range="1024 65535"'));
  });

  it('spreads over processes and raises nofile, nr_open only when the need exceeds it', () => {
    const r = report('this-machine', { role: 'both', connections: 1_000_000 });
    const fds = r.advice.filter((a) => a.limit === 'process_fds');
    assert.ok(fds.some((a) => a.line === '--processes 51'));
    assert.ok(fds.some((a) => a.kind === 'systemd' && a.line === 'LimitNOFILE=1000100'));
    // 1,000,100 per process still fits under nr_open 1,048,576; two million does not
    assert.ok(!fds.some((a) => a.sysctl?.name === 'fs.nr_open'));
    const big = report('this-machine', { role: 'both', connections: 2_000_000 });
    assert.ok(big.advice.some((a) => a.sysctl?.name === 'fs.nr_open' && a.sysctl.value === '2000896'));
    const small = report('this-machine', { role: 'server', connections: 50_000 });
    assert.ok(!small.advice.some((a) => a.sysctl?.name === 'fs.nr_open'));
  });

  it('asks for a deeper backlog on a host with somaxconn 128', () => {
    const r = report('conntrack-host', { role: 'server' });
    assert.ok(r.advice.some((a) => a.sysctl?.name === 'net.core.somaxconn' && a.sysctl.value === '65535'));
    assert.ok(!report('this-machine', { role: 'server' }).advice.some((a) => a.limit === 'backlog'));
  });

  it('gives no advice for limits above the target', () => {
    const r = report('this-machine', { role: 'server', connections: 1000 });
    assert.deepEqual(r.advice, []);
  });
});
