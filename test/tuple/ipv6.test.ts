import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { errorCode as code } from '../helpers/errors.ts';
import { formatIpv6, ipv6Bytes, parseIpv6, sourceAt6 } from '../../src/tuple/ipv6.ts';
import { parseSourceList } from '../../src/tuple/source-list.ts';
import { createTupleCursor, ipv6Table, planTuples, TUPLE_IPV6, type PlanInput } from '../../src/tuple/plan.ts';
import { countInRanges, parseIpv4 } from '../../src/tuple/address.ts';

describe('IPv6 addresses', () => {
  const cases: [string, string][] = [
    ['::1', '::1'], ['::', '::'], ['FD00:0018:0000:0000:0000:0000:0000:0001', 'fd00:18::1'],
    ['fd00:18::1:0:0:1', 'fd00:18::1:0:0:1'], ['1:0:0:2:0:0:0:3', '1:0:0:2::3'], ['::ffff:127.0.0.1', '::ffff:7f00:1'],
    ['1:2:3:4:5:6:7:8', '1:2:3:4:5:6:7:8'], ['1::', '1::'],
  ];
  for (const [input, canonical] of cases) {
    it(`reads ${input} and writes it as ${canonical}`, () => assert.equal(formatIpv6(parseIpv6(input) ?? -1n), canonical));
  }
  it('refuses what is not an IPv6 address, zone ids included', () => {
    for (const bad of ['', '1:2:3', '127.0.0.1', 'fe80::1%lo', ':::', 'g::1']) assert.equal(parseIpv6(bad), undefined, bad);
  });
  it('gives the 16 network-order bytes sockaddr_in6 takes', () => {
    assert.deepEqual([...ipv6Bytes(parseIpv6('fd00:18::1:2') ?? 0n)], [0xfd, 0, 0, 0x18, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 2]);
  });
});

describe('--source-ips with IPv6', () => {
  it('keeps a /64 as offsets from its network address, never using the network address itself', () => {
    const { v4, v6 } = parseSourceList('fd00:18::/64', '--source-ips');
    assert.equal(v4, undefined);
    assert.equal(v6?.base, 'fd00:18::');
    assert.deepEqual(v6?.ranges, [{ first: 1, last: 2 ** 32 - 1 }]);
    assert.equal(sourceAt6(v6 ?? { base: '::', ranges: [] }, 70_000), 'fd00:18::1:1170');
  });
  it('mixes families, literals, ranges and prefixes, merging overlaps', () => {
    const { v4, v6 } = parseSourceList('127.0.0.2-127.0.0.3,fd00:18::10,fd00:18::8-fd00:18::f,fd00:18::20/126', '--source-ips');
    assert.equal(countInRanges(v4 ?? []), 2);
    assert.equal(v6?.base, 'fd00:18::7');
    assert.deepEqual(v6?.ranges, [{ first: 1, last: 9 }, { first: 26, last: 28 }]);
  });
  it('refuses IPv6 sources further apart than one 2^32 window, and malformed items', () => {
    assert.equal(code(() => parseSourceList('fd00:18::1,fd00:19::1', '--source-ips')), 'CONNLAB_ERR_INVALID_ARGUMENT');
    for (const bad of ['fd00::/129', 'fd00::5-fd00::1', 'fd00::g', 'fd00::1-fd00::2-fd00::3']) {
      assert.equal(code(() => parseSourceList(bad, '--source-ips')), 'CONNLAB_ERR_INVALID_ARGUMENT', bad);
    }
  });
});

describe('the planner with IPv6 destinations', () => {
  const v6dest = { ip: 0, port: 9000, ip6: 'fd00:18::ffff' };
  const sources = parseSourceList('fd00:18::/64', '--source-ips');
  const input: PlanInput = { connections: 200_000, destinations: [v6dest], sourceIps: undefined, sourceIps6: sources.v6, sourcePorts: { first: 10000, last: 10001 }, workers: 4 };

  it('counts every IPv6 source as its own pool: 2^32 - 1 sources x 2 ports x 1 destination', () => {
    const plan = planTuples(input);
    assert.equal(plan.sourceIps, 2 ** 32 - 1);
    assert.equal(plan.capacity, (2 ** 32 - 1) * 2);
  });
  it('marks IPv6 tuples and gives every connection its own source address on the /64', () => {
    const t = createTupleCursor(input, { start: 0, count: 70_000 }).next(70_000);
    const offsets = new Set<number>();
    for (let i = 0; i < t.length; i += 4) {
      assert.equal(t[i + 3], 9000 | TUPLE_IPV6);
      assert.equal(t[i + 2], 0, 'the destination index');
      assert.equal(t[i + 1], 10000);
      offsets.add(t[i] as number);
    }
    assert.equal(offsets.size, 70_000);
    assert.ok(!offsets.has(0), 'offset 0 would mean the kernel\'s choice');
  });
  it('takes each family\'s sources for its own destinations, and the smaller pool for capacity', () => {
    const mixed: PlanInput = {
      connections: 4, workers: 1, sourcePorts: { first: 10000, last: 10009 },
      destinations: [{ ip: parseIpv4('127.0.0.1') ?? 0, port: 9000 }, v6dest],
      sourceIps: [{ first: parseIpv4('127.0.0.2') ?? 0, last: parseIpv4('127.0.0.3') ?? 0 }], sourceIps6: sources.v6,
    };
    assert.equal(planTuples(mixed).capacity, 2 * 10 * 2);
    const t = [...createTupleCursor(mixed, { start: 0, count: 4 }).next(4)];
    assert.deepEqual(t.slice(0, 8), [parseIpv4('127.0.0.2'), 10000, parseIpv4('127.0.0.1'), 9000, 1, 10000, 1, 9000 | TUPLE_IPV6]);
  });
  it('hands the holders a table: the source base, then each destination (zeros for IPv4)', () => {
    const table = ipv6Table({ destinations: [{ ip: 1, port: 1 }, v6dest], sourceIps6: sources.v6 }) ?? new Uint8Array();
    assert.equal(table.length, 48);
    assert.deepEqual([...table.subarray(0, 16)], [...ipv6Bytes(parseIpv6('fd00:18::') ?? 0n)]);
    assert.deepEqual([...table.subarray(16, 32)], new Array(16).fill(0));
    assert.deepEqual([...table.subarray(32)], [...ipv6Bytes(parseIpv6('fd00:18::ffff') ?? 0n)]);
    assert.equal(ipv6Table({ destinations: [{ ip: 1, port: 1 }] }), undefined);
  });
});
