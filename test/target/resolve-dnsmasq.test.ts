// Names resolved by a real DNS server (dnsmasq), not a mock: every A and AAAA record is a
// destination, narrowed by --ip-family; --resolve pins without asking; a name that does
// not resolve fails with the resolver's code.

import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { parseTargetList } from '../../src/target/parse-target.ts';
import { formatDestination, parseResolvePin, resolveTargets } from '../../src/target/resolve-targets.ts';
import { startDnsmasq, type Dnsmasq } from '../helpers/dnsmasq.ts';

const RECORDS = {
  'multi.connlab.test': ['127.0.0.21', '127.0.0.22', '127.0.0.23', '::1', 'fd00:53::1'],
  'v4only.connlab.test': ['127.0.0.31'],
};

describe('resolving names through a real DNS server (dnsmasq)', () => {
  let dns: Dnsmasq;
  before(async () => { dns = await startDnsmasq(RECORDS); });
  after(async () => { await dns?.close(); });
  const resolve = (texts: string[], options = {}) => resolveTargets(parseTargetList(texts), { dnsServers: [dns.server], ...options });

  it('gives every A and AAAA record as a destination of its own, for every port', async () => {
    const r = await resolve(['multi.connlab.test:9000-9001']);
    assert.deepEqual(r.destinations.map(formatDestination), [
      '127.0.0.21:9000', '127.0.0.22:9000', '127.0.0.23:9000', '[::1]:9000', '[fd00:53::1]:9000',
      '127.0.0.21:9001', '127.0.0.22:9001', '127.0.0.23:9001', '[::1]:9001', '[fd00:53::1]:9001',
    ]);
    assert.deepEqual(r.resolved, [{ name: 'multi.connlab.test', addresses: ['127.0.0.21', '127.0.0.22', '127.0.0.23', '::1', 'fd00:53::1'], via: 'dns' }]);
  });
  it('narrows to one family with --ip-family', async () => {
    assert.deepEqual((await resolve(['multi.connlab.test:1'], { family: 4 })).destinations.map(formatDestination), ['127.0.0.21:1', '127.0.0.22:1', '127.0.0.23:1']);
    assert.deepEqual((await resolve(['multi.connlab.test:1'], { family: 6 })).destinations.map(formatDestination), ['[::1]:1', '[fd00:53::1]:1']);
  });
  it('fails with the resolver\'s code for a name it does not know, or with no record of the family asked', async () => {
    await assert.rejects(resolve(['nowhere.connlab.test:1']), (e: Error & { code: string }) => e.code === 'CONNLAB_ERR_INVALID_ARGUMENT' && /ENOTFOUND/.test(e.message));
    await assert.rejects(resolve(['v4only.connlab.test:1'], { family: 6 }), (e: Error & { code: string }) => e.code === 'CONNLAB_ERR_INVALID_ARGUMENT' && /ENODATA/.test(e.message));
  });
  it('pins a name with --resolve without asking DNS, per port or for any port', async () => {
    const pins = [parseResolvePin('nowhere.connlab.test:9000:127.0.0.9,[::1]'), parseResolvePin('multi.connlab.test:*:127.0.0.8')];
    const r = await resolve(['nowhere.connlab.test:9000', 'multi.connlab.test:7'], { pins });
    assert.deepEqual(r.destinations.map(formatDestination), ['127.0.0.9:9000', '[::1]:9000', '127.0.0.8:7']);
    assert.deepEqual(r.resolved.map((x) => x.via), ['resolve', 'resolve']);
    // A pin for another port does not apply: DNS is asked, and answers.
    const other = await resolve(['multi.connlab.test:8'], { pins: [parseResolvePin('multi.connlab.test:7:127.0.0.8')] });
    assert.equal(other.destinations.length, 5);
  });
  it('keeps literals as they are and asks nothing for them', async () => {
    const r = await resolveTargets(parseTargetList(['127.0.0.1:1', '[::1]:1']), { dnsServers: ['127.0.0.1:1'] });
    assert.deepEqual(r.destinations.map(formatDestination), ['127.0.0.1:1', '[::1]:1']);
    assert.deepEqual(r.resolved, []);
  });
});
