// serve --tls-cert/--tls-key: connlab's engine accepts TLS, checked with clients no one
// here wrote (Node's tls, whose OpenSSL is not the worker's, and the openssl s_client
// CLI, which also sends KeyUpdates), in C workers by default; where libssl.so.3 cannot
// load (CONNLAB_LIBSSL names one that does not exist) serve says so with --worker-runtime
// c, falls back to Node workers on auto, and plain TCP still runs in C workers.

import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { once } from 'node:events';
import net from 'node:net';
import { readFileSync } from 'node:fs';
import tls from 'node:tls';
import { after, before, describe, it } from 'node:test';
import { setTimeout as delay } from 'node:timers/promises';
import { startServe, type ServeHandle } from '../../src/server/serve.ts';
import { freePort } from '../helpers/net.ts';
import { makeTestCerts, TEST_SERVER_NAME, type TestCerts } from '../helpers/tls-certs.ts';

const BIN = new URL('../../bin/connlab.js', import.meta.url).pathname;
const MISSING_LIBSSL = 'libssl-connlab-missing.so.3';

/** A connlab PING header: type P, length 0, the seq, a time. */
function ping(seq: number): Buffer {
  const frame = Buffer.alloc(16);
  frame[0] = 0x50;
  frame.writeUInt32BE(seq, 4);
  frame.writeBigUInt64BE(0x1122334455667788n, 8);
  return frame;
}

/** Resolves with everything read once `done(bytes)` says so (or rejects after 30 s: a shared machine can be slow). */
function readUntil(socket: net.Socket | tls.TLSSocket, done: (bytes: Buffer) => boolean): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    let bytes = Buffer.alloc(0);
    const timer = setTimeout(() => reject(new Error(`timed out with ${bytes.toString('hex')}`)), 30_000);
    socket.on('data', (chunk: Buffer) => {
      bytes = Buffer.concat([bytes, chunk]);
      if (done(bytes)) {
        clearTimeout(timer);
        resolve(bytes);
      }
    });
    socket.once('error', reject);
  });
}

async function tlsClient(port: number, certs: TestCerts, options: tls.ConnectionOptions = {}): Promise<tls.TLSSocket> {
  const socket = tls.connect({ host: '127.0.0.1', port, ca: readFileSync(certs.caFile), servername: TEST_SERVER_NAME, ...options });
  await once(socket, 'secureConnect');
  return socket;
}

async function pingPong(socket: net.Socket | tls.TLSSocket, seq: number): Promise<void> {
  const answer = readUntil(socket, (b) => b.length >= 16);
  socket.write(ping(seq));
  const pong = await answer;
  assert.equal(pong[0], 0x4f, `a PONG: ${pong.toString('hex')}`);
  assert.equal(pong.readUInt32BE(4), seq);
}

let certs: TestCerts;
before(() => (certs = makeTestCerts()));
after(() => certs?.remove());

describe('serve --tls-cert in C workers, against third-party TLS clients', () => {
  let serve: ServeHandle;
  let port: number;
  before(async () => {
    port = await freePort();
    serve = await startServe({ listen: [{ host: '127.0.0.1', port }], workers: 1, fdSoftLimit: 20_000, reportIntervalMs: 100, tls: { certFile: certs.certFile, keyFile: certs.keyFile } });
  });
  after(() => serve?.close());

  it('runs in the C worker runtime', () => {
    assert.equal(serve.workerRuntime, 'c');
  });

  it('answers a ping over TLS 1.3 to Node tls, verified against the CA with SNI, and broadcasts to it', async () => {
    const socket = await tlsClient(port, certs);
    try {
      assert.equal(socket.getProtocol(), 'TLSv1.3');
      assert.equal(socket.authorized, true);
      await pingPong(socket, 7);
      const broadcast = readUntil(socket, (b) => b.length >= 16);
      const { written } = await serve.broadcast();
      assert.ok(written >= 1);
      assert.equal((await broadcast)[0], 0x42, 'a BROADCAST frame');
    } finally {
      socket.destroy();
    }
  });

  it('echoes a 60,000-byte frame: records split across reads on the way in, several records on the way out', async () => {
    const socket = await tlsClient(port, certs);
    try {
      const payload = Buffer.from(Array.from({ length: 60_000 }, (_, i) => (i * 7919) % 251));
      const frame = Buffer.concat([Buffer.from([0x45, 0, 0xea, 0x60, 0, 0, 0, 11, 0, 0, 0, 0, 0, 0, 0, 0]), payload]);
      const answer = readUntil(socket, (b) => b.length >= frame.length);
      for (let at = 0; at < frame.length; at += 1000) socket.write(frame.subarray(at, at + 1000)); // 60 records, cut anywhere by TCP
      assert.ok((await answer).equals(frame), 'the identical frame back');
    } finally {
      socket.destroy();
    }
  });

  it('answers a ping over TLS 1.2 too (that connection keeps its OpenSSL session)', async () => {
    const socket = await tlsClient(port, certs, { maxVersion: 'TLSv1.2' });
    try {
      assert.equal(socket.getProtocol(), 'TLSv1.2');
      await pingPong(socket, 8);
    } finally {
      socket.destroy();
    }
  });

  it('follows KeyUpdates from openssl s_client, asked for an answer (K) and not (k), and still answers pings', async () => {
    const client = spawn('openssl', ['s_client', '-connect', `127.0.0.1:${port}`, '-CAfile', certs.caFile, '-servername', TEST_SERVER_NAME], { stdio: ['pipe', 'pipe', 'pipe'] });
    let out = Buffer.alloc(0);
    let err = '';
    client.stdout.on('data', (chunk: Buffer) => (out = Buffer.concat([out, chunk])));
    client.stderr.on('data', (chunk: Buffer) => (err += chunk.toString()));
    const pongs = (): number => [0x01020304, 0x05060708].filter((seq) => out.includes(Buffer.concat([Buffer.from([0x4f, 0, 0, 0]), Buffer.from(seq.toString(16).padStart(8, '0'), 'hex')]))).length;
    const until = async (predicate: () => boolean): Promise<void> => {
      for (let i = 0; i < 600 && !predicate(); i++) await delay(50);
      assert.ok(predicate(), `s_client stdout ${out.toString('latin1').slice(-300)} stderr ${err}`);
    };
    try {
      await until(() => out.includes('Verify return code: 0 (ok)'));
      assert.match(out.toString('latin1'), /TLSv1\.3/);
      // s_client treats a read of stdin that starts with K or k as its KeyUpdate command.
      for (const [command, seq, expected] of [['K', 0x01020304, 1], ['k', 0x05060708, 2]] as const) {
        client.stdin.write(command);
        await until(() => (err.match(/KEYUPDATE/g) ?? []).length >= expected);
        await delay(200); // a separate read of stdin: the frame is data, not a command
        client.stdin.write(ping(seq));
        await until(() => pongs() >= expected);
      }
    } finally {
      client.kill();
    }
  });

  it('counts every handshake and no TLS failure', async () => {
    const stats = await serve.refresh();
    assert.equal(stats.totals.tls.handshakes, 4, JSON.stringify(stats.totals.tls)); // TLS 1.3 twice, TLS 1.2, s_client
    assert.deepEqual(stats.totals.tls.errors, {});
  });
});

describe('serve --tls-cert against forged, oversized and cut records after a TLS 1.3 handshake', () => {
  let serve: ServeHandle;
  let port: number;
  before(async () => {
    port = await freePort();
    serve = await startServe({ listen: [{ host: '127.0.0.1', port }], workers: 1, fdSoftLimit: 20_000, reportIntervalMs: 100, tls: { certFile: certs.certFile, keyFile: certs.keyFile } });
  });
  after(() => serve?.close());

  /** A verified TLS 1.3 connection, then `bytes` written under TLS, straight to its socket; resolves when serve closes it. */
  async function injected(bytes: Buffer, end = false): Promise<void> {
    const raw = net.connect({ host: '127.0.0.1', port });
    await once(raw, 'connect');
    const socket = tls.connect({ socket: raw, ca: readFileSync(certs.caFile), servername: TEST_SERVER_NAME });
    await once(socket, 'secureConnect');
    assert.equal(socket.getProtocol(), 'TLSv1.3');
    await pingPong(socket, 99); // the server has the client's Finished: what follows is after the handshake
    socket.on('error', () => {}); // the server's close may come as a reset
    const closed = once(raw, 'close');
    raw.write(bytes);
    if (end) raw.end();
    await closed;
  }

  it('closes each one `tls` with the reason, or as the peer\'s close for a cut record, and serves the next connection', async () => {
    await injected(Buffer.concat([Buffer.from([23, 3, 3, 0, 40]), Buffer.alloc(40, 0x5a)])); // does not authenticate
    await injected(Buffer.from([23, 3, 3, 0xff, 0xff])); // longer than TLS 1.3 allows
    // 2^14 + 32: within the 2^14 + 256 of RFC 8446 5.2, past the 2^14 + 1 of plaintext 5.4
    // allows with a 16-byte tag; refused at its header (tls13.c once waited for the body)
    await injected(Buffer.from([23, 3, 3, 0x40, 0x20]));
    await injected(Buffer.from([21, 3, 3, 0, 2, 2, 40])); // a plaintext alert
    await injected(Buffer.from([23, 3, 3, 0, 40, 1, 2, 3]), true); // cut, then FIN
    const socket = await tlsClient(port, certs);
    await pingPong(socket, 12);
    socket.destroy();
    const stats = await serve.refresh();
    assert.deepEqual(stats.totals.tls.errors, { 'bad record mac': 1, 'record overflow': 2, 'plaintext alert after the handshake': 1 });
    assert.equal(stats.totals.closed.tls, 4);
    assert.ok(stats.totals.closed.peer >= 1, JSON.stringify(stats.totals.closed));
  });
});

interface CliRun {
  status: number | null;
  stdout: string;
  stderr: string;
}

function cli(args: string[], env: NodeJS.ProcessEnv = {}): { done: Promise<CliRun> } {
  return {
    done: new Promise((resolve) => {
      execFile(process.execPath, [BIN, ...args], { env: { ...process.env, ...env } }, (error, stdout, stderr) =>
        resolve({ status: error ? (typeof error.code === 'number' ? error.code : null) : 0, stdout, stderr }));
    }),
  };
}

async function connectWhenUp(port: number, connect: () => net.Socket | tls.TLSSocket): Promise<net.Socket | tls.TLSSocket> {
  for (let i = 0; ; i++) {
    try {
      const socket = connect();
      await once(socket, socket instanceof tls.TLSSocket ? 'secureConnect' : 'connect');
      return socket;
    } catch (error) {
      if (i > 300) throw error; // 30 s for serve to start on a busy machine
      await delay(100);
    }
  }
}

describe('serve --tls-cert where libssl.so.3 cannot load', () => {
  const env = { CONNLAB_LIBSSL: MISSING_LIBSSL };

  it('refuses --worker-runtime c before starting anything: exit 2, and the line says what is missing and what to do', async () => {
    const run = await cli(['serve', '--listen', `127.0.0.1:${await freePort()}`, '--tls-cert', certs.certFile, '--tls-key', certs.keyFile, '--worker-runtime', 'c', '--duration', '1s'], env).done;
    assert.equal(run.status, 2, run.stderr);
    assert.match(run.stderr, /CONNLAB_ERR_PROTOCOL_UNSUPPORTED/);
    assert.match(run.stderr, new RegExp(`${MISSING_LIBSSL.replaceAll('.', '\\.')}.*libssl3`));
  });

  it('falls back to Node workers on auto, which serve TLS with the OpenSSL inside Node', async () => {
    const port = await freePort();
    const serving = cli(['serve', '--listen', `127.0.0.1:${port}`, '--tls-cert', certs.certFile, '--tls-key', certs.keyFile, '--workers', '1', '--duration', '10s', '--json'], env);
    const socket = await connectWhenUp(port, () => tls.connect({ host: '127.0.0.1', port, ca: readFileSync(certs.caFile), servername: TEST_SERVER_NAME }));
    await pingPong(socket, 9);
    socket.destroy();
    const run = await serving.done;
    assert.equal(run.status, 0, run.stderr);
    const summary = JSON.parse(run.stdout) as { worker_runtime: string; tls: { handshakes: number } };
    assert.equal(summary.worker_runtime, 'node');
    assert.ok(summary.tls.handshakes >= 1);
  });

  it('still serves plain TCP in C workers', async () => {
    const port = await freePort();
    const serving = cli(['serve', '--listen', `127.0.0.1:${port}`, '--workers', '1', '--worker-runtime', 'c', '--duration', '10s', '--json'], env);
    const socket = await connectWhenUp(port, () => net.connect({ host: '127.0.0.1', port }));
    await pingPong(socket, 10);
    socket.destroy();
    const run = await serving.done;
    assert.equal(run.status, 0, run.stderr);
    assert.equal((JSON.parse(run.stdout) as { worker_runtime: string }).worker_runtime, 'c');
  });
});
