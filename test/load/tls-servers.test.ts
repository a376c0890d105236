// connlab load --tls against servers no one here wrote: nginx with `ssl` (https),
// the ws package behind https.createServer (wss), Mosquitto with a TLS listener (MQTT over
// TLS) and a node:tls echo server (TLS over tcp), each with a throwaway CA made at test
// time by the openssl CLI. Through the CLI as a user runs it: JSON result, exit status,
// the one line that explains a shortfall.

import assert from 'node:assert/strict';
import { once } from 'node:events';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { freePort } from '../helpers/net.ts';
import { loadJson, type LoadRun } from '../helpers/procs.ts';
import { startMosquittoTls, startNginxTls, startTlsEcho, startWssServer, type RealServer } from '../helpers/real-servers.ts';
import { makeTestCerts, TEST_SERVER_NAME, type TestCerts } from '../helpers/tls-certs.ts';

const N = 1_000;



function assertHeldAndVerified(run: LoadRun, count: number): void {
  const c = run.result.connections;
  assert.deepEqual({ status: run.status, established: c.established, verified: c.verified, tls: run.result.closed?.tls },
    { status: 0, established: count, verified: count, tls: 0 }, run.stderr);
  assert.ok((run.result.tls?.handshakes ?? 0) >= count, JSON.stringify(run.result.tls));
}

let certs: TestCerts;
before(() => (certs = makeTestCerts()));
after(() => certs?.remove());

describe('load --protocol http --tls against nginx with ssl (keep-alive)', () => {
  let nginx: RealServer;
  before(async () => (nginx = await startNginxTls(await freePort(), certs, TEST_SERVER_NAME)));
  after(() => nginx?.stop());

  it('holds and verifies every connection with --ca and --sni, and nginx routes by the SNI it saw', async () => {
    const run = await loadJson(nginx.port, ['-c', String(N), '--protocol', 'http', '--tls', '--ca', certs.caFile, '--sni', TEST_SERVER_NAME, '--duration', '2s', '--ping', '1s']);
    assertHeldAndVerified(run, N);
    // server_name connlab.test answers 200; the default server (another or no SNI) 421.
    assert.ok((run.result.codes.http_status['200'] ?? 0) >= 2 * N, JSON.stringify(run.result.codes));
    assert.equal(run.result.codes.http_status['421'], undefined);
  });

  it('holds with --insecure against the IP, and without SNI nginx answers from its default server', async () => {
    const run = await loadJson(nginx.port, ['-c', '200', '--protocol', 'http', '--tls', '--insecure', '--duration', '1s']);
    assertHeldAndVerified(run, 200);
    assert.ok((run.result.codes.http_status['421'] ?? 0) >= 200, JSON.stringify(run.result.codes));
  });

  it('fails verification without --ca or --insecure: exit 1, every connection closed `tls`, and the line says why', async () => {
    const run = await loadJson(nginx.port, ['-c', '100', '--protocol', 'http', '--tls', '--sni', TEST_SERVER_NAME, '--duration', '1s']);
    assert.equal(run.status, 1);
    assert.equal(run.result.closed.tls, 100);
    assert.equal(run.result.connections.established, 0);
    assert.equal(run.result.tls?.handshakes, 0);
    assert.match(run.stderr, /short of the target: held 0 of 100.*tls × 100: tls — the TLS handshake failed \(certificate verify failed: unable to get local issuer certificate × 100\)/);
  });

  it('fails verification when the certificate does not carry the name asked for', async () => {
    const run = await loadJson(nginx.port, ['-c', '20', '--protocol', 'http', '--tls', '--ca', certs.caFile, '--sni', 'other.test', '--duration', '1s']);
    assert.equal(run.status, 1);
    assert.deepEqual(run.result.tls?.errors, { 'certificate verify failed: hostname mismatch': 20 });
  });
});

describe('load --protocol ws --tls against the ws package behind https.createServer (wss)', () => {
  let wss: RealServer;
  before(async () => (wss = await startWssServer(await freePort(), certs)));
  after(() => wss?.stop());

  it('upgrades, pings and verifies every connection over TLS', async () => {
    const run = await loadJson(wss.port, ['-c', String(N), '--protocol', 'ws', '--tls', '--ca', certs.caFile, '--host', `${TEST_SERVER_NAME}:443`, '--duration', '2s', '--ping', '1s']);
    assertHeldAndVerified(run, N);
    assert.ok(run.result.ping.rtt_ms.count >= 2 * N);
  });
});

describe('load --protocol mqtt --tls against Mosquitto with a TLS listener', () => {
  let broker: RealServer;
  before(async () => (broker = await startMosquittoTls(await freePort(), certs)));
  after(() => broker?.stop());

  it('connects, pings and verifies every client, checking the certificate against the IP', async () => {
    const run = await loadJson(broker.port, ['-c', String(N), '--protocol', 'mqtt', '--tls', '--ca', certs.caFile, '--duration', '2s', '--ping', '1s']);
    assertHeldAndVerified(run, N);
    assert.equal(run.result.codes.mqtt_connack['0'], N);
  });
});

describe('load --protocol tcp --tls against a node:tls echo server', () => {
  let echo: Awaited<ReturnType<typeof startTlsEcho>>;
  before(async () => (echo = await startTlsEcho(await freePort(), certs)));
  after(() => echo?.stop());

  it('holds every connection after a verified handshake, and the server sees the SNI', async () => {
    // A round waits for handshakes still in flight (the echo server runs in this process).
    const run = await loadJson(echo.port, ['-c', '500', '--tls', '--ca', certs.caFile, '--sni', TEST_SERVER_NAME, '--duration', '1s']);
    assertHeldAndVerified(run, 500);
    assert.equal(echo.serverNames().get(TEST_SERVER_NAME), 500);
  });

  it('names a server that does not speak TLS on that port', async () => {
    // node:http answers the ClientHello with a plain-text 400: not a TLS record.
    const server = http.createServer((_req, res) => res.end('plain\n'));
    server.listen({ host: '127.0.0.1', port: await freePort() });
    await once(server, 'listening');
    try {
      const run = await loadJson((server.address() as AddressInfo).port, ['-c', '10', '--tls', '--insecure', '--duration', '1s']);
      assert.equal(run.status, 1);
      assert.equal(run.result.closed.tls, 10, JSON.stringify(run.result.closed));
      assert.match(run.stderr, /tls × 10: tls — the TLS handshake failed \(wrong version number × 10\): the server does not speak TLS on that port/);
    } finally {
      await new Promise((resolve) => server.close(resolve));
    }
  });
});

describe('load --tls where it cannot run', () => {
  it('refuses the plain-Node holder with CONNLAB_ERR_PROTOCOL_UNSUPPORTED', async () => {
    const run = await loadJson(1, ['-c', '1', '--tls', '--insecure', '--holder', 'node']);
    assert.notEqual(run.status, 0);
    assert.match(run.stderr, /CONNLAB_ERR_PROTOCOL_UNSUPPORTED/);
  });

  it('refuses TLS-only flags without --tls', async () => {
    const noTls = await loadJson(1, ['-c', '1', '--insecure']);
    assert.equal(noTls.status, 2);
    assert.match(noTls.stderr, /--insecure needs --tls/);
  });
});
