import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { expandTargets, parseIpList, parseTargets } from '../../src/tuple/address.ts';
import { createTupleCursor, loopbackSourcesFor, planTuples, usableSourcePorts, type PlanInput } from '../../src/tuple/plan.ts';
import { errorCode } from '../helpers/errors.ts';

const input = (overrides: Partial<PlanInput>): PlanInput => ({
  connections: 1000,
  destinations: expandTargets(parseTargets('127.0.0.1:9000-9002', 't')),
  sourceIps: parseIpList('127.0.0.2-127.0.0.3', 's'),
  sourcePorts: { first: 20000, last: 20999 },
  workers: 3,
  ...overrides,
});

function allTuples(plan: PlanInput): Uint32Array[] {
  return planTuples(plan).slices.map((slice) => createTupleCursor(plan, slice).next(Infinity));
}

describe('four-tuple planning', () => {
  it('gives every connection a distinct four-tuple across all workers', () => {
    const plan = input({ connections: 5000 });
    const seen = new Set<string>();
    for (const tuples of allTuples(plan)) {
      for (let i = 0; i < tuples.length; i += 4) seen.add(tuples.subarray(i, i + 4).join(':'));
    }
    assert.equal(seen.size, 5000);
  });

  it('splits the connections into contiguous slices that add up', () => {
    const plan = planTuples(input({ connections: 1000, workers: 3 }));
    assert.deepEqual(plan.slices.map((s) => [s.start, s.count]), [[0, 333], [333, 333], [666, 334]]);
    assert.equal(plan.capacity, 2 * 1000 * 3);
  });

  it('reuses one source address and port toward every destination', () => {
    const [tuples] = allTuples(input({ connections: 3, workers: 1 }));
    const rows = [0, 1, 2].map((k) => Array.from(tuples!.subarray(k * 4, k * 4 + 4)));
    assert.deepEqual(rows, [
      [0x7f000002, 20000, 0x7f000001, 9000],
      [0x7f000002, 20000, 0x7f000001, 9001],
      [0x7f000002, 20000, 0x7f000001, 9002],
    ]);
  });

  it('never plans a destination port as a source port', () => {
    const ports = usableSourcePorts({ first: 8999, last: 9003 }, expandTargets(parseTargets('127.0.0.1:9000-9001', 't')));
    assert.deepEqual(Array.from(ports), [8999, 9002, 9003]);
  });

  it('leaves ports to the kernel in kernel mode while still spreading sources', () => {
    const plan = input({ sourcePorts: 'kernel', kernelPoolSize: 28232, connections: 6, workers: 1 });
    const [tuples] = allTuples(plan);
    for (let i = 0; i < 6; i++) assert.equal(tuples![i * 4 + 1], 0);
    assert.deepEqual([tuples![0], tuples![12]], [0x7f000002, 0x7f000003]);
  });

  it('refuses a count beyond the tuples available, with the impossible-target code', () => {
    assert.equal(errorCode(() => planTuples(input({ connections: 6001 }))), 'CONNLAB_ERR_IMPOSSIBLE_TARGET');
    assert.equal(errorCode(() => planTuples(input({ destinations: [] }))), 'CONNLAB_ERR_IMPOSSIBLE_TARGET');
  });

  it('hands out tuples in chunks without repeating or skipping', () => {
    const plan = input({ connections: 10, workers: 1 });
    const cursor = createTupleCursor(plan, { start: 0, count: 10 });
    const chunks = [cursor.next(4), cursor.next(4), cursor.next(4), cursor.next(4)];
    assert.deepEqual(chunks.map((c) => c.length / 4), [4, 4, 2, 0]);
    assert.equal(cursor.remaining(), 0);
  });

  it('picks just enough loopback sources for 70,000 connections to one port', () => {
    const dest = expandTargets(parseTargets('127.0.0.1:9000', 't'));
    assert.deepEqual(loopbackSourcesFor(70_000, dest, { first: 10000, last: 65000 }, 0), [{ first: 0x7f000002, last: 0x7f000003 }]);
    assert.deepEqual(loopbackSourcesFor(70_000, dest, 'kernel', 28232), [{ first: 0x7f000002, last: 0x7f000004 }]);
  });
});
