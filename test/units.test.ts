import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { errorCode as code } from './helpers/errors.ts';
import { formatBytes, parseBytes, parseCount, parseDurationMs } from '../src/units.ts';


describe('parseCount', () => {
  it('reads plain, suffixed and grouped counts', () => {
    assert.equal(parseCount('20000', '-c'), 20000);
    assert.equal(parseCount('100k', '-c'), 100_000);
    assert.equal(parseCount('1m', '-c'), 1_000_000);
    assert.equal(parseCount('1.5M', '-c'), 1_500_000);
    assert.equal(parseCount('1_000_000', '-c'), 1_000_000);
  });
  it('rejects fractions, junk and values under the minimum with the invalid-argument code', () => {
    assert.equal(code(() => parseCount('1.5', '-c')), 'CONNLAB_ERR_INVALID_ARGUMENT');
    assert.equal(code(() => parseCount('lots', '-c')), 'CONNLAB_ERR_INVALID_ARGUMENT');
    assert.equal(code(() => parseCount('0', '-c', { min: 1 })), 'CONNLAB_ERR_INVALID_ARGUMENT');
  });
});

describe('parseDurationMs', () => {
  it('reads ms, s, m and h, and a bare number as seconds', () => {
    assert.equal(parseDurationMs('500ms', '--hold'), 500);
    assert.equal(parseDurationMs('30s', '--hold'), 30_000);
    assert.equal(parseDurationMs('2m', '--hold'), 120_000);
    assert.equal(parseDurationMs('1h', '--hold'), 3_600_000);
    assert.equal(parseDurationMs('5', '--hold'), 5_000);
  });
  it('rejects unknown units', () => {
    assert.equal(code(() => parseDurationMs('5 parsecs', '--hold')), 'CONNLAB_ERR_INVALID_ARGUMENT');
  });
});

describe('parseBytes and formatBytes', () => {
  it('treats KiB and k as binary and kb as decimal', () => {
    assert.equal(parseBytes('64KiB', '--x'), 65536);
    assert.equal(parseBytes('4k', '--x'), 4096);
    assert.equal(parseBytes('1kb', '--x'), 1000);
    assert.equal(parseBytes('1000', '--x'), 1000);
  });
  it('formats bytes with binary units', () => {
    assert.equal(formatBytes(512), '512 B');
    assert.equal(formatBytes(3788), '3.7 KiB');
    assert.equal(formatBytes(8 * 1024 ** 3), '8.0 GiB');
  });
});
