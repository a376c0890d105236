import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  MAX_START_AHEAD_MS, parseShard, parseStartAt, shardFromIndex, shardGlobalIndex, shardRate, shardShare, startDelayMs, type ShardSpec,
} from '../../src/shard/shard.ts';
import { expandTargets, parseIpList, parseTargets } from '../../src/tuple/address.ts';
import { createTupleCursor, planTuples, type PlanInput } from '../../src/tuple/plan.ts';
import { errorCode } from '../helpers/errors.ts';

const shardsOf = (count: number): ShardSpec[] => Array.from({ length: count }, (_, index) => ({ index, count }));

describe('shard shares', () => {
  it('add up to exactly N for every N up to 400, 1 to 13 shards and block sizes 1 to 7', () => {
    for (let count = 1; count <= 13; count++) {
      for (let block = 1; block <= 7; block++) {
        for (let total = 0; total <= 400; total++) {
          const sum = shardsOf(count).reduce((s, shard) => s + shardShare(total, shard, block), 0);
          assert.equal(sum, total, `N=${total} shards=${count} block=${block}`);
        }
      }
    }
  });

  it('add up to exactly N for large N', () => {
    for (const total of [999_999, 1_000_000, 10_000_001, 123_456_789]) {
      for (const count of [3, 7, 64, 1000]) {
        assert.equal(shardsOf(count).reduce((s, shard) => s + shardShare(total, shard, 4), 0), total);
      }
    }
  });

  it('never shrink as N grows, and grow by at most one block-member per added connection', () => {
    for (const count of [1, 2, 3, 5, 8]) {
      for (const block of [1, 3, 4]) {
        for (const shard of shardsOf(count)) {
          let previous = 0;
          for (let total = 0; total <= 300; total++) {
            const share = shardShare(total, shard, block);
            assert.ok(share >= previous && share - previous <= 1, `shard ${shard.index}/${count} N=${total}`);
            previous = share;
          }
        }
      }
    }
  });

  it('map every shard index to a distinct global index, covering 0..N-1 exactly', () => {
    for (const [total, count, block] of [[100, 3, 1], [101, 3, 3], [97, 4, 5], [1000, 7, 4], [5, 8, 2]] as const) {
      const owners = new Array<number>(total).fill(-1);
      for (const shard of shardsOf(count)) {
        for (let local = 0; local < shardShare(total, shard, block); local++) {
          const g = shardGlobalIndex(local, shard, block);
          assert.ok(g < total, `global ${g} beyond N`);
          assert.equal(owners[g], -1, `global ${g} planned twice`);
          owners[g] = shard.index;
        }
      }
      assert.ok(owners.every((o) => o >= 0));
    }
  });

  it('splits a total rate exactly and refuses one below the shard count', () => {
    assert.deepEqual(shardsOf(3).map((s) => shardRate(1000, s)), [334, 333, 333]);
    assert.equal(errorCode(() => shardRate(2, { index: 0, count: 3 })), 'CONNLAB_ERR_INVALID_ARGUMENT');
  });
});

describe('sharded four-tuple plans', () => {
  const input = (total: number, shard: ShardSpec | undefined): PlanInput => ({
    connections: total,
    destinations: expandTargets(parseTargets('127.0.0.1:9000-9002', 't')),
    sourceIps: parseIpList('127.0.0.2-127.0.0.3', 's'),
    sourcePorts: { first: 20000, last: 20999 },
    workers: 2,
    ...(shard ? { shard } : {}),
  });
  const tuplesOf = (plan: PlanInput): string[] => planTuples(plan).slices.flatMap((slice) => {
    const t = createTupleCursor(plan, slice).next(Infinity);
    return Array.from({ length: t.length / 4 }, (_, k) => Array.from(t.subarray(k * 4, k * 4 + 4)).join(':'));
  });

  it('together plan exactly the unsharded tuples, none twice', () => {
    for (const total of [1, 2, 7, 1000, 5999]) {
      const whole = new Set(tuplesOf(input(total, undefined)));
      const sharded = shardsOf(4).flatMap((shard) => tuplesOf(input(total, shard)));
      assert.equal(sharded.length, total);
      assert.equal(new Set(sharded).size, total);
      assert.deepEqual(new Set(sharded), whole);
    }
  });

  it('keeps every shard on every destination', () => {
    const dests = new Set(tuplesOf(input(30, { index: 1, count: 3 })).map((t) => t.split(':')[3]));
    assert.deepEqual([...dests].sort(), ['9000', '9001', '9002']);
  });

  it('reports the share and the total', () => {
    const plan = planTuples(input(1000, { index: 2, count: 3 }));
    assert.deepEqual(plan.shard, { index: 2, count: 3, total: 1000 });
    assert.equal(plan.connections, 333);
  });

  it('gives each shard its own tuple space when the kernel picks the source (one host each)', () => {
    const perHost = (shard: ShardSpec | undefined): PlanInput => ({ ...input(30, shard), sourceIps: undefined, sourcePorts: { first: 20000, last: 20009 }, destinations: input(1, undefined).destinations.slice(0, 1) });
    assert.equal(errorCode(() => planTuples(perHost(undefined))), 'CONNLAB_ERR_IMPOSSIBLE_TARGET');
    for (const shard of shardsOf(3)) {
      assert.equal(planTuples(perHost(shard)).connections, 10);
      assert.deepEqual(tuplesOf(perHost(shard)).map((t) => t.split(':')[1]), Array.from({ length: 10 }, (_, k) => String(20000 + k)));
    }
  });

  it('refuses a total beyond capacity even if the share would fit', () => {
    assert.equal(errorCode(() => planTuples(input(6001, { index: 0, count: 3 }))), 'CONNLAB_ERR_IMPOSSIBLE_TARGET');
  });
});

describe('shard flags', () => {
  it('reads I/N 1-based and a completion index 0-based', () => {
    assert.deepEqual(parseShard('2/3'), { index: 1, count: 3 });
    assert.deepEqual(shardFromIndex('0', 3), { index: 0, count: 3 });
    for (const bad of ['0/3', '4/3', '1/0', '1', 'a/b', '-1/3']) assert.equal(errorCode(() => parseShard(bad)), 'CONNLAB_ERR_INVALID_ARGUMENT', bad);
    assert.equal(errorCode(() => shardFromIndex('3', 3)), 'CONNLAB_ERR_INVALID_ARGUMENT');
  });

  it('reads a start time as RFC 3339 or epoch seconds, and bounds how far ahead it is', () => {
    assert.equal(parseStartAt('2026-11-30T14:00:00Z'), Date.UTC(2026, 10, 30, 14));
    assert.equal(parseStartAt('2026-11-30T15:00:00+01:00'), Date.UTC(2026, 10, 30, 14));
    assert.equal(parseStartAt('1795960800.5'), 1_795_960_800_500);
    for (const bad of ['2026-11-30T14:00:00', 'tomorrow', '']) assert.equal(errorCode(() => parseStartAt(bad)), 'CONNLAB_ERR_INVALID_ARGUMENT', bad);
    assert.equal(startDelayMs(10_000, 4_000), 6_000);
    assert.equal(startDelayMs(1_000, 4_000), 0);
    assert.equal(errorCode(() => startDelayMs(MAX_START_AHEAD_MS + 1, 0)), 'CONNLAB_ERR_INVALID_ARGUMENT');
  });
});
