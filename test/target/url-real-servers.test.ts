// URL targets against servers no one here wrote, as a user types them: the scheme alone
// sets the protocol and TLS, and a name pinned with --resolve is still the name the TLS
// handshake sends and verifies (nginx answers 200 only to SNI connlab.test, 421 else;
// the TLS echo server records the names it saw).

import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { after, before, describe, it } from 'node:test';
import type { LoadResult } from '../../src/load/load.ts';
import { freePort } from '../helpers/net.ts';
import {
  haveMosquitto, haveNginx, startMosquitto, startMosquittoTls, startMosquittoWithPassword, startNginx, startNginxTls, startTlsEcho, startWsServer, startWssServer, type RealServer,
} from '../helpers/real-servers.ts';
import { makeTestCerts, TEST_SERVER_NAME, type TestCerts } from '../helpers/tls-certs.ts';

const BIN = new URL('../../bin/connlab.js', import.meta.url).pathname;
const N = 500;

async function load(target: string, args: string[] = []): Promise<{ status: number | null; result: LoadResult; stderr: string }> {
  const child = spawn(process.execPath, [BIN, 'load', target, '-c', String(N), '--duration', '1s', '--ping', '0', '--json', ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
  child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
  const [status] = (await once(child, 'exit')) as [number | null];
  return { status, result: (stdout ? JSON.parse(stdout) : {}) as LoadResult, stderr };
}

function assertVerified(run: Awaited<ReturnType<typeof load>>, protocol: string, tls: boolean): void {
  assert.deepEqual({ status: run.status, verified: run.result.connections?.verified, protocol: run.result.protocol, tls: run.result.tls !== null },
    { status: 0, verified: N, protocol, tls }, run.stderr);
}

let certs: TestCerts;
before(() => (certs = makeTestCerts()));
after(() => certs?.remove());
const pinned = (port: number) => ['--resolve', `${TEST_SERVER_NAME}:${port}:127.0.0.1`, '--ca', certs.caFile];

describe('http:// and https:// against nginx', { skip: !haveNginx() && 'nginx is not installed' }, () => {
  it('http://localhost:PORT/ speaks HTTP and gets 200s', async () => {
    const nginx: RealServer = await startNginx(await freePort(), 2);
    try {
      const run = await load(`http://localhost:${nginx.port}/`);
      assertVerified(run, 'http', false);
      assert.ok((run.result.codes.http_status['200'] ?? 0) >= N);
    } finally { await nginx.stop(); }
  });
  it('https://connlab.test:PORT/ with --resolve sends and verifies the name: nginx answers 200, not 421', async () => {
    const port = await freePort();
    const nginx = await startNginxTls(port, certs, TEST_SERVER_NAME);
    try {
      const run = await load(`https://${TEST_SERVER_NAME}:${port}/`, pinned(port));
      assertVerified(run, 'http', true);
      assert.deepEqual(Object.keys(run.result.codes.http_status), ['200']);
    } finally { await nginx.stop(); }
  });
});

describe('ws:// and wss:// against the ws package', () => {
  it('ws://localhost:PORT/socket upgrades and pings', async () => {
    const ws = await startWsServer(await freePort(), 1);
    try { assertVerified(await load(`ws://localhost:${ws.port}/socket`), 'ws', false); } finally { await ws.stop(); }
  });
  it('wss://connlab.test:PORT/socket with --resolve', async () => {
    const port = await freePort();
    const wss = await startWssServer(port, certs, 1);
    try { assertVerified(await load(`wss://${TEST_SERVER_NAME}:${port}/socket`, pinned(port)), 'ws', true); } finally { await wss.stop(); }
  });
});

describe('mqtt:// and mqtts:// against Mosquitto', { skip: !haveMosquitto() && 'mosquitto is not installed' }, () => {
  it('mqtt://localhost:PORT connects and pings', async () => {
    const broker = await startMosquitto(await freePort());
    try {
      const run = await load(`mqtt://localhost:${broker.port}`);
      assertVerified(run, 'mqtt', false);
      assert.deepEqual(run.result.codes.mqtt_connack, { 0: N });
    } finally { await broker.stop(); }
  });
  it('mqtt://user:password@… carries the URL\'s credentials in CONNECT: a broker that knows only them accepts, and refuses others', async () => {
    const broker = await startMosquittoWithPassword(await freePort(), 'alice', 's3:cret');
    try {
      const run = await load(`mqtt://alice:s3%3Acret@localhost:${broker.port}`);
      assertVerified(run, 'mqtt', false);
      assert.deepEqual(run.result.codes.mqtt_connack, { 0: N });
      const wrong = await load(`mqtt://alice:other@localhost:${broker.port}`);
      assert.equal(wrong.status, 1);
      assert.deepEqual(wrong.result.codes.mqtt_connack, { 5: N }, 'CONNACK 5: not authorized');
    } finally { await broker.stop(); }
  });
  it('mqtts://connlab.test:PORT with --resolve', async () => {
    const port = await freePort();
    const broker = await startMosquittoTls(port, certs);
    try { assertVerified(await load(`mqtts://${TEST_SERVER_NAME}:${port}`, pinned(port)), 'mqtt', true); } finally { await broker.stop(); }
  });
});

describe('tls:// against a TLS echo server', () => {
  it('sends the URL\'s name as SNI although --resolve pins the address', async () => {
    const port = await freePort();
    const echo = await startTlsEcho(port, certs);
    try {
      assertVerified(await load(`tls://${TEST_SERVER_NAME}:${port}`, pinned(port)), 'tcp', true);
      assert.deepEqual([...echo.serverNames()], [[TEST_SERVER_NAME, N]]);
    } finally { await echo.stop(); }
  });
});
