import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { errorCode as code } from '../helpers/errors.ts';
import {
  countDestinations,
  countInRanges,
  expandTargets,
  formatIpv4,
  parseIpList,
  parseIpv4,
  parsePortRange,
  parseTargets,
} from '../../src/tuple/address.ts';


describe('IPv4 parsing', () => {
  it('round-trips addresses through host-order integers', () => {
    assert.equal(parseIpv4('127.0.0.1'), 0x7f000001);
    assert.equal(formatIpv4(0x7f000001), '127.0.0.1');
    assert.equal(formatIpv4(parseIpv4('255.255.255.255') ?? 0), '255.255.255.255');
  });
  it('refuses malformed addresses', () => {
    for (const bad of ['127.0.0', '127.0.0.256', '1.2.3.4.5', 'a.b.c.d', '']) assert.equal(parseIpv4(bad), undefined, bad);
  });
});

describe('--source-ips lists', () => {
  it('counts singles, ranges and CIDR blocks, merging overlaps', () => {
    assert.equal(countInRanges(parseIpList('127.0.0.2-127.0.0.40', '--source-ips')), 39);
    assert.equal(countInRanges(parseIpList('127.0.1.0/24,127.0.1.5', '--source-ips')), 256);
    assert.equal(countInRanges(parseIpList('127.0.0.2,127.0.0.3,127.0.0.2-127.0.0.4', '--source-ips')), 3);
  });
  it('rejects a reversed range or a bad prefix with the invalid-argument code', () => {
    assert.equal(code(() => parseIpList('127.0.0.9-127.0.0.2', '--source-ips')), 'CONNLAB_ERR_INVALID_ARGUMENT');
    assert.equal(code(() => parseIpList('127.0.0.0/33', '--source-ips')), 'CONNLAB_ERR_INVALID_ARGUMENT');
    assert.equal(code(() => parseIpList(',', '--source-ips')), 'CONNLAB_ERR_INVALID_ARGUMENT');
  });
});

describe('ports and targets', () => {
  it('reads a port or an inclusive range and refuses port 0 and out-of-range ports', () => {
    assert.deepEqual(parsePortRange('9000', '--p'), { first: 9000, last: 9000 });
    assert.deepEqual(parsePortRange('10000-65000', '--p'), { first: 10000, last: 65000 });
    for (const bad of ['0', '65536', '9-1', 'http']) assert.equal(code(() => parsePortRange(bad, '--p')), 'CONNLAB_ERR_INVALID_ARGUMENT', bad);
  });
  it('expands address and port ranges into distinct destinations in written order', () => {
    const specs = parseTargets('127.0.0.1:9000-9001,127.0.0.2-127.0.0.3:80,127.0.0.1:9000', '--targets');
    assert.deepEqual(
      expandTargets(specs).map((d) => `${formatIpv4(d.ip)}:${d.port}`),
      ['127.0.0.1:9000', '127.0.0.1:9001', '127.0.0.2:80', '127.0.0.3:80'],
    );
    assert.equal(countDestinations(specs), 4);
  });
  it('accepts localhost as 127.0.0.1 and rejects a target without a port', () => {
    assert.equal(expandTargets(parseTargets('localhost:9000', '--targets'))[0]?.ip, 0x7f000001);
    assert.equal(code(() => parseTargets('127.0.0.1', '--targets')), 'CONNLAB_ERR_INVALID_ARGUMENT');
  });
});
