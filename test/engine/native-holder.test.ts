import assert from 'node:assert/strict';
import net from 'node:net';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { after, before, describe, it } from 'node:test';
import { setTimeout as delay } from 'node:timers/promises';
import { createNativeHolder, errnoName, ipv4ToU32 } from '../../src/engine/native-holder.ts';
import type { Holder, HolderStats } from '../../src/engine/holder.ts';
import { encodeFrame, FRAME_HEADER_BYTES } from '../../src/protocol/frame.ts';

const LOCALHOST = ipv4ToU32('127.0.0.1');

/** A port nothing listens on right now: bind 0, read it, close. */
async function freePort(host = '127.0.0.1'): Promise<number> {
  const server = net.createServer();
  server.listen(0, host);
  await once(server, 'listening');
  const { port } = server.address() as net.AddressInfo;
  server.close();
  await once(server, 'close');
  return port;
}

/** Polls until `check` holds; fails after `timeoutMs` with the last stats. */
async function waitFor(holder: Holder, check: (s: HolderStats) => boolean, timeoutMs = 10_000): Promise<HolderStats> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const stats = holder.stats();
    if (check(stats)) return stats;
    if (Date.now() > deadline) assert.fail(`condition not met in ${timeoutMs} ms: ${JSON.stringify(stats)}`);
    await delay(5);
  }
}

function tuples(count: number, src: [number, number], dstPort: number): Uint32Array {
  const out = new Uint32Array(count * 4);
  for (let i = 0; i < count; i++) out.set([src[0], src[1], LOCALHOST, dstPort], i * 4);
  return out;
}

async function rawSocket(port: number): Promise<net.Socket> {
  const socket = net.connect(port, '127.0.0.1');
  await once(socket, 'connect');
  return socket;
}

describe('native holder: a server and a client holder in one process, 2,000 connections', () => {
  const count = 2000;
  let server: Holder;
  let client: Holder;
  let port: number;

  before(async () => {
    port = await freePort();
    server = createNativeHolder();
    client = createNativeHolder({ connectTimeoutMs: 5000 });
    await server.listen('127.0.0.1', port);
    client.connect(tuples(count, [0, 0], port));
  });

  after(() => {
    client.destroy();
    server.destroy();
  });

  it('holds the same number of connections on both sides', async () => {
    const c = await waitFor(client, (s) => s.established === count);
    const s = await waitFor(server, (st) => st.established === count);
    assert.equal(c.connected, count);
    assert.equal(c.pending, 0);
    assert.equal(s.accepted, count);
    assert.deepEqual(c.errors, {});
    assert.equal(client.drainSamples().connectUs.length, count);
  });

  it('verifies every connection with one pingAll and records one RTT each', async () => {
    client.pingAll(1);
    const c = await waitFor(client, (s) => s.verified === count);
    assert.equal(c.pingsSent, count);
    assert.equal(c.pongsReceived, count);
    const { rttUs } = client.drainSamples();
    assert.equal(rttUs.length, count);
    assert.ok(rttUs.every((us) => us < 5_000_000));
  });

  it('resets verified on the next pingAll and counts only answers to it', async () => {
    client.pingAll(2);
    assert.equal(client.stats().pingsSent, 2 * count);
    const c = await waitFor(client, (s) => s.pongsReceived === 2 * count);
    assert.equal(c.verified, count);
    client.drainSamples();
  });

  it('delivers a broadcast to every connection with a latency sample each', async () => {
    assert.equal(server.broadcast(7), count);
    const c = await waitFor(client, (s) => s.broadcastsReceived === count);
    assert.equal(server.stats().broadcastsSent, count);
    assert.equal(c.established, count);
    assert.equal(client.drainSamples().broadcastUs.length, count);
  });

  it('skips a broadcast payload and keeps the frame stream in step', async () => {
    assert.equal(server.broadcast(8, new Uint8Array(1000).fill(0x50)), count);
    client.pingAll(3);
    const c = await waitFor(client, (s) => s.verified === count && s.broadcastsReceived === 2 * count);
    assert.equal(c.closed.protocol, 0);
  });

  it('leaves nothing established after closeAll, counted local on the closing side', async () => {
    await client.closeAll();
    const c = client.stats();
    assert.equal(c.established, 0);
    assert.equal(c.verified, 0);
    assert.equal(c.closed.local, count);
    const s = await waitFor(server, (st) => st.established === 0);
    assert.equal(s.closed.peer, count, JSON.stringify(s));
  });
});

describe('native holder: four-tuples and errors', () => {
  const holders: Holder[] = [];
  const holder = (options = {}): Holder => {
    const h = createNativeHolder(options);
    holders.push(h);
    return h;
  };

  after(() => {
    for (const h of holders) h.destroy();
  });

  it('carries connections to three destinations from one source address and port', async () => {
    const server = holder();
    const client = holder();
    const ports = [await freePort(), await freePort(), await freePort()];
    for (const p of ports) await server.listen('127.0.0.1', p);
    const srcPort = await freePort('127.0.0.2');
    const src: [number, number] = [ipv4ToU32('127.0.0.2'), srcPort];
    client.connect(new Uint32Array(ports.flatMap((p) => [...tuples(1, src, p)])));
    const c = await waitFor(client, (s) => s.queued === 0 && s.pending === 0);
    assert.equal(c.established, 3);
    assert.deepEqual(c.errors, {});
    assert.equal((await waitFor(server, (s) => s.established === 3)).listeners, 3);
  });

  it('counts a second connection on the same four-tuple as EADDRNOTAVAIL', async () => {
    const server = holder();
    const client = holder();
    const port = await freePort();
    await server.listen('127.0.0.1', port);
    const src: [number, number] = [ipv4ToU32('127.0.0.3'), await freePort('127.0.0.3')];
    client.connect(tuples(2, src, port));
    const c = await waitFor(client, (s) => s.queued === 0 && s.pending === 0 && s.established === 1);
    assert.deepEqual(c.errors, { EADDRNOTAVAIL: 1 });
  });

  it('counts a connect to a closed port as ECONNREFUSED', async () => {
    const client = holder();
    client.connect(tuples(3, [0, 0], await freePort()));
    const c = await waitFor(client, (s) => (s.errors.ECONNREFUSED ?? 0) === 3);
    assert.equal(c.established, 0);
    assert.equal(c.pending, 0);
  });

  it('closes connects still pending after connectTimeoutMs and counts them ETIMEDOUT', async () => {
    // A plain server with backlog 1 whose event loop (this thread) is frozen cannot
    // accept: the kernel queues two handshakes and drops the other SYNs, so those
    // connects stay pending while the holder's own thread times them out.
    const blocked = net.createServer((socket) => socket.destroy());
    blocked.listen({ port: 0, host: '127.0.0.1', backlog: 1 });
    await once(blocked, 'listening');
    const client = holder({ connectTimeoutMs: 100 });
    client.connect(tuples(4, [0, 0], (blocked.address() as net.AddressInfo).port));
    Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 600);
    const c = client.stats();
    blocked.close();
    assert.ok(c.closed.timeout >= 2, JSON.stringify(c));
    assert.equal(c.errors.ETIMEDOUT, c.closed.timeout);
    assert.equal(c.closed.timeout + c.established, 4);
  });

  it('rejects listen on an address held without SO_REUSEPORT with EADDRINUSE', async () => {
    const plain = net.createServer();
    plain.listen(0, '127.0.0.1');
    await once(plain, 'listening');
    const { port } = plain.address() as net.AddressInfo;
    await assert.rejects(holder().listen('127.0.0.1', port), (err: Error & { code: string }) => {
      assert.equal(err.code, 'CONNLAB_ERR_LISTEN');
      assert.equal((err.cause as { code: string }).code, 'EADDRINUSE');
      return true;
    });
    plain.close();
    await once(plain, 'close');
  });

  it('lets two holders share one address with SO_REUSEPORT', async () => {
    const port = await freePort();
    await holder().listen('127.0.0.1', port);
    await holder().listen('127.0.0.1', port);
  });

  it('refuses bad arguments with CONNLAB_ERR_INVALID_ARGUMENT', async () => {
    const h = holder();
    await assert.rejects(h.listen('localhost', 1), { code: 'CONNLAB_ERR_INVALID_ARGUMENT' });
    await assert.rejects(h.listen('127.0.0.1', 0), { code: 'CONNLAB_ERR_INVALID_ARGUMENT' });
    assert.throws(() => h.connect(new Uint32Array(3)), { code: 'CONNLAB_ERR_INVALID_ARGUMENT' });
    assert.throws(() => h.connect(new Uint32Array([0, 70000, LOCALHOST, 80])), { code: 'CONNLAB_ERR_INVALID_ARGUMENT' });
    assert.throws(() => createNativeHolder({ maxSamples: -1 }), { code: 'CONNLAB_ERR_INVALID_ARGUMENT' });
  });
});

describe('native holder: the server side of the wire format', () => {
  let server: Holder;
  let port: number;

  before(async () => {
    port = await freePort();
    server = createNativeHolder();
    await server.listen('127.0.0.1', port);
  });

  after(() => server.destroy());

  it('returns an echo frame byte for byte, even when it arrives in pieces', async () => {
    const socket = await rawSocket(port);
    const frame = encodeFrame('echo', 99, 123456789, new Uint8Array(3000).map((_, i) => i & 0xff));
    const received: Buffer[] = [];
    let bytes = 0;
    const done = new Promise<void>((resolve) => {
      socket.on('data', (chunk: Buffer) => {
        received.push(chunk);
        bytes += chunk.byteLength;
        if (bytes >= frame.byteLength) resolve();
      });
    });
    socket.write(frame.subarray(0, 7));
    await waitFor(server, (s) => s.bytesIn >= 7);
    socket.write(frame.subarray(7, 1500));
    socket.write(frame.subarray(1500));
    await done;
    assert.deepEqual(Buffer.concat(received), Buffer.from(frame));
    socket.destroy();
  });

  it('answers a ping with a pong carrying the same seq and time', async () => {
    const socket = await rawSocket(port);
    socket.write(encodeFrame('ping', 5, 777));
    const [reply] = (await once(socket, 'data')) as [Buffer];
    assert.equal(reply.byteLength, FRAME_HEADER_BYTES);
    assert.deepEqual(reply, Buffer.from(encodeFrame('pong', 5, 777)));
    socket.destroy();
  });

  it('closes a peer that sends bytes outside the format and counts it as protocol', async () => {
    const before = server.stats().closed.protocol;
    const socket = await rawSocket(port);
    socket.write('GET / HTTP/1.1\r\nHost: x\r\n\r\n');
    socket.resume();
    await once(socket, 'close');
    assert.equal((await waitFor(server, (s) => s.closed.protocol === before + 1)).closed.protocol, before + 1);
  });
});

describe('native holder: a peer that does not read', () => {
  it('is closed as slow once a broadcast would block, and nothing is queued for it', async () => {
    const server = createNativeHolder();
    const port = await freePort();
    await server.listen('127.0.0.1', port);
    const socket = await rawSocket(port);
    socket.pause();
    socket.on('error', () => {});
    await waitFor(server, (s) => s.established === 1);
    const payload = new Uint8Array(0xffff);
    let written = 0;
    for (let seq = 1; seq <= 2000 && server.stats().closed.slow === 0; seq++) written += server.broadcast(seq, payload);
    const s = server.stats();
    server.destroy();
    socket.destroy();
    assert.equal(s.closed.slow, 1);
    assert.equal(s.established, 0);
    assert.equal(s.broadcastsSent, written);
    assert.ok(written > 0 && written < 2000);
  });
});

describe('native holder: lifecycle', () => {
  it('keeps returning the final stats after destroy and refuses commands', async () => {
    const h = createNativeHolder();
    const port = await freePort();
    await h.listen('127.0.0.1', port);
    h.destroy();
    h.destroy();
    assert.equal(h.stats().listeners, 1);
    assert.throws(() => h.pingAll(1), { code: 'CONNLAB_ERR_HOLDER_DESTROYED' });
    await freePort(); // the listener is gone: nothing else to assert beyond no hang
  });

  it('does not keep a process alive when it is never destroyed', async () => {
    const port = await freePort();
    const script = [
      `const m = await import(${JSON.stringify(new URL('../../src/engine/native-holder.ts', import.meta.url).href)});`,
      `const h = m.createNativeHolder(); await h.listen('127.0.0.1', ${port});`,
      `h.connect(new Uint32Array([0, 0, 0x7f000001, ${port}]));`,
    ].join('\n');
    const child = spawn(process.execPath, ['--input-type=module', '-e', script], { stdio: 'inherit' });
    const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
    const [code, signal] = await once(child, 'exit');
    clearTimeout(timer);
    assert.deepEqual([code, signal], [0, null]);
  });

  it('names errno numbers the way Node does', () => {
    assert.equal(errnoName(99), 'EADDRNOTAVAIL');
    assert.equal(errnoName(11), 'EAGAIN');
  });
});
