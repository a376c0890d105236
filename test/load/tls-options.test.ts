// What --tls turns into before any connect: the names, the ALPN list, the roots and the
// groups the holder gets, checked eagerly with the option named; and how a failed
// handshake is explained.

import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { emptyStats } from '../../src/engine/aggregate.ts';
import { classifyCloses } from '../../src/load/classify.ts';
import { DEFAULT_TLS_GROUPS, protocolOptions } from '../../src/load/protocol-options.ts';
import { judgeLoad } from '../../src/load/verdict.ts';
import { makeTestCerts, type TestCerts } from '../helpers/tls-certs.ts';

let certs: TestCerts;
before(() => (certs = makeTestCerts()));
after(() => certs?.remove());

describe('protocolOptions with tls', () => {
  it('verifies the target IP and sends no SNI when no name is given; ALPN http/1.1 for http', () => {
    const t = protocolOptions({ kind: 'http', tls: {} }, '127.0.0.1:8443').tls;
    assert.equal(t?.sni, undefined);
    assert.equal(t?.verifyName, '127.0.0.1');
    assert.deepEqual(t?.alpn, ['http/1.1']);
    assert.equal(t?.verify, true);
    assert.equal(t?.groups, DEFAULT_TLS_GROUPS);
    assert.ok((t?.rootsPem ?? '').includes('BEGIN CERTIFICATE'), 'Node\'s default roots');
  });

  it('takes the name from --host without its port, and --sni over it; no ALPN for mqtt and tcp', () => {
    assert.deepEqual(protocolOptions({ kind: 'ws', host: 'example.test:8443', tls: {} }, '127.0.0.1:1').tls?.sni, 'example.test');
    const t = protocolOptions({ kind: 'mqtt', host: 'a.test', tls: { sni: 'b.test' } }, '127.0.0.1:1').tls;
    assert.deepEqual([t?.sni, t?.verifyName, t?.alpn], ['b.test', 'b.test', []]);
  });

  it('reads --ca eagerly and trusts only it; --insecure verifies nothing', () => {
    const t = protocolOptions({ kind: 'tcp', tls: { caFile: certs.caFile } }, '127.0.0.1:1').tls;
    assert.equal((t?.rootsPem ?? '').match(/BEGIN CERTIFICATE/g)?.length, 1);
    const insecure = protocolOptions({ kind: 'tcp', tls: { insecure: true, groups: 'default' } }, '127.0.0.1:1').tls;
    assert.deepEqual([insecure?.verify, insecure?.rootsPem, insecure?.verifyName, insecure?.groups], [false, undefined, undefined, undefined]);
  });

  it('refuses what cannot work with the option named', () => {
    const bad = join(certs.dir, 'not-a-cert.pem');
    writeFileSync(bad, 'hello\n');
    const code = { code: 'CONNLAB_ERR_INVALID_ARGUMENT' };
    assert.throws(() => protocolOptions({ kind: 'tcp', tls: { caFile: bad } }, '127.0.0.1:1'), code);
    assert.throws(() => protocolOptions({ kind: 'tcp', tls: { caFile: join(certs.dir, 'missing.pem') } }, '127.0.0.1:1'), code);
    assert.throws(() => protocolOptions({ kind: 'tcp', tls: { insecure: true, caFile: certs.caFile } }, '127.0.0.1:1'), code);
    assert.throws(() => protocolOptions({ kind: 'tcp', tls: { sni: '10.0.0.1' } }, '127.0.0.1:1'), code);
    assert.throws(() => protocolOptions({ kind: 'tcp', tls: { groups: 'NoSuchGroup' } }, '127.0.0.1:1'), code);
  });

  it('puts TLS under connlab frames too (serve --tls-cert speaks it), with no ALPN', () => {
    const options = protocolOptions({ kind: 'connlab', tls: { caFile: certs.caFile } }, '127.0.0.1:1');
    assert.deepEqual([options.kind, options.tls?.verify, options.tls?.verifyName, options.tls?.alpn], ['connlab', true, '127.0.0.1', []]);
  });
});

describe('explaining TLS failures', () => {
  it('classifies tls closes with OpenSSL\'s reason and what to do, and the verdict names them', () => {
    const stats = emptyStats();
    stats.closed.tls = 1000;
    stats.tls.errors = { 'certificate verify failed: self-signed certificate': 1000 };
    const explained = classifyCloses(stats, 'http', 0);
    assert.deepEqual(explained.map((c) => [c.errno, c.cause, c.count]), [['tls', 'tls', 1000]]);
    const v = judgeLoad({ connections: { target: 1000, established: 0, verified: 0, peak: 1000, silent: 0 }, explained, protocol: 'http' });
    assert.match(v.line ?? '', /tls × 1,000: tls — the TLS handshake failed \(certificate verify failed: self-signed certificate × 1,000\): trust its CA with --ca FILE/);
  });

  it('says a server does not speak TLS when OpenSSL saw no TLS record', () => {
    const stats = emptyStats();
    stats.closed.tls = 3;
    stats.tls.errors = { 'wrong version number': 3 };
    assert.match(classifyCloses(stats, 'tcp', 0)[0]?.explanation ?? '', /does not speak TLS on that port/);
  });
});
