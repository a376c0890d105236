// doctor's arithmetic with IPv6: each (source address, destination address, destination
// port) is a port pool of its own in either family, and a source pairs only with
// destinations of its own family.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { main } from '../../src/cli/main.ts';
import { diagnose } from '../../src/limits/diagnose.ts';
import { createHostReader } from '../../src/limits/host-reader.ts';
import { defaultShape, familyPools, type TrafficShape } from '../../src/limits/shape.ts';
import { readHostSnapshot } from '../../src/limits/snapshot.ts';
import { parseTargets } from '../../src/tuple/address.ts';
import { parseSourceList } from '../../src/tuple/source-list.ts';
import { fixtureRoot, recordingIo } from '../helpers/io.ts';

const host = () => readHostSnapshot(createHostReader(fixtureRoot('million-server')), { user: 'dev' });
const ephemeral = (shape: Partial<TrafficShape>) => diagnose(host(), defaultShape(shape)).limits.find((l) => l.name === 'ephemeral_ports');
const six = (address: string, first: number, last = first) => ({ address, ports: { first, last } });

describe('doctor with IPv6 sources and targets', () => {
  it('one IPv6 destination from the kernel\'s one address: the port range, as in IPv4', () => {
    assert.equal(ephemeral({ role: 'client', targets6: [six('::1', 9000)] })?.allows, 28232);
  });
  it('IPv6 sources multiply the pool of IPv6 destinations', () => {
    const sourceIps6 = parseSourceList('fd00:18::1-fd00:18::a', 's').v6;
    const limit = ephemeral({ role: 'client', sourcePorts: { first: 10000, last: 10000 }, targets6: [six('fd00:18::ffff', 9000, 9001)], ...(sourceIps6 ? { sourceIps6 } : {}) });
    assert.equal(limit?.allows, 1 * 10 * 2);
    assert.match(limit?.detail ?? '', /1 planned source ports × 10 IPv6 source\(s\) × 2 IPv6 destination\(s\)/);
  });
  it('adds the families up: IPv4 sources with IPv4 destinations plus IPv6 with IPv6', () => {
    const { v4, v6 } = parseSourceList('127.0.0.2-127.0.0.4,fd00:18::/120', 's');
    const shape = { role: 'client' as const, targets: parseTargets('127.0.0.1:9000', 't'), targets6: [six('::1', 9000)], ...(v4 ? { sourceIps: v4 } : {}), ...(v6 ? { sourceIps6: v6 } : {}) };
    assert.deepEqual(familyPools(defaultShape(shape)), { v4: { sources: 3, destinations: 1 }, v6: { sources: 255, destinations: 1 } });
    assert.equal(ephemeral(shape)?.allows, 28232 * (3 * 1 + 255 * 1));
  });
  it('a /64 of sources lends 2^32 - 1 of them to one run: far past 65,535 to one port', () => {
    const sourceIps6 = parseSourceList('fd00:18::/64', 's').v6;
    const limit = ephemeral({ role: 'client', sourcePorts: { first: 10000, last: 10000 }, targets6: [six('fd00:18::ffff:0:0:1', 9000)], ...(sourceIps6 ? { sourceIps6 } : {}) });
    assert.equal(limit?.allows, 2 ** 32 - 1);
  });
  it('takes IPv6 on the command line, and advises a routed prefix for IPv6-only targets', async () => {
    const io = recordingIo();
    assert.equal(await main(['doctor', '--root', fixtureRoot('million-server'), '--role', 'client', '--connections', '100k', '--targets', '[::1]:9000', '--json'], io), 0, io.err());
    const report = JSON.parse(io.out());
    assert.equal(report.limits.find((l: { name: string }) => l.name === 'ephemeral_ports').allows, 28232);
    assert.ok(report.advice.some((a: { line: string }) => a.line === '--source-ips fd00:18::/64'));
    const named = recordingIo();
    assert.equal(await main(['doctor', '--role', 'client', '--targets', 'api.test:443'], named), 2);
  });
});
