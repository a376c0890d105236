// The behaviour every Holder implementation must share, as node:test cases. Each
// implementation's test file calls holderContract() with its factory and capabilities.
// Loopback only; every holder, server, socket and child process opened here is closed.

import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import net from 'node:net';
import { after, before, describe, it } from 'node:test';
import { emptyClosed } from '../../src/engine/aggregate.ts';
import type { Holder, HolderOptions, HolderStats } from '../../src/engine/holder.ts';
import { encodeFrame, FRAME_HEADER_BYTES } from '../../src/protocol/frame.ts';
import { parseIpv4 } from '../../src/tuple/address.ts';
import { freePort, rawSocket } from '../helpers/net.ts';
import { waitFor } from '../helpers/wait.ts';

export interface HolderCaps {
  /** One (srcIp, srcPort) can carry connections to several destinations at once. */
  sharedSourcePort: boolean;
}

type CreateHolder = (options?: HolderOptions) => Holder;

const ip = (text: string): number => parseIpv4(text) as number;
const LOCALHOST = ip('127.0.0.1');

/** Waits until `check` holds for the holder's stats and returns them. */
async function until(holder: Holder, check: (stats: HolderStats) => boolean, timeoutMs = 10_000): Promise<HolderStats> {
  let stats = holder.stats();
  await waitFor(() => check((stats = holder.stats())), { timeoutMs, describe: () => JSON.stringify(stats) });
  return stats;
}

function tuples(count: number, src: [number, number], dstPort: number): Uint32Array {
  const out = new Uint32Array(count * 4);
  for (let i = 0; i < count; i++) out.set([src[0], src[1], LOCALHOST, dstPort], i * 4);
  return out;
}

/**
 * A listener with backlog 1 in a child process whose event loop is frozen, so it never
 * accepts: the kernel completes two handshakes and drops the other SYNs, which leaves
 * those connects pending. A child, because a frozen loop here would freeze the holder.
 */
async function frozenListener(): Promise<{ port: number; stop(): Promise<void> }> {
  const script = `const s = require('node:net').createServer();
s.listen({ port: 0, host: '127.0.0.1', backlog: 1 }, () => process.stdout.write(s.address().port + '\\n',
  () => Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 30000)));`;
  const child = spawn(process.execPath, ['-e', script], { stdio: ['ignore', 'pipe', 'inherit'] });
  const [line] = (await once(child.stdout, 'data')) as [Buffer];
  const exited = once(child, 'exit');
  return {
    port: Number(line.toString().trim()),
    async stop() {
      child.kill();
      await exited;
    },
  };
}

export function holderContract(name: string, create: CreateHolder, caps: HolderCaps): void {
  describe(`${name} holder: a server and a client holder in one process, 2,000 connections`, () => {
    const count = 2000;
    let server: Holder;
    let client: Holder;

    before(async () => {
      const port = await freePort();
      server = create();
      client = create({ connectTimeoutMs: 5000 });
      await server.listen('127.0.0.1', port);
      client.connect(tuples(count, [0, 0], port));
    });

    after(() => {
      client.destroy();
      server.destroy();
    });

    it('holds the same number of connections on both sides', async () => {
      const c = await until(client, (s) => s.established === count);
      const s = await until(server, (st) => st.established === count);
      assert.equal(c.connected, count);
      assert.equal(c.peakEstablished, count);
      assert.equal(c.pending, 0);
      assert.equal(c.queued, 0);
      assert.equal(s.accepted, count);
      assert.equal(s.listeners, 1);
      assert.deepEqual(c.errors, {});
      assert.deepEqual(s.errors, {});
      assert.equal(client.drainSamples().connectUs.length, count);
    });

    it('verifies every connection with one pingAll and records one RTT each', async () => {
      client.pingAll(1);
      const c = await until(client, (s) => s.verified === count);
      assert.equal(c.pingsSent, count);
      assert.equal(c.pongsReceived, count);
      assert.equal(c.bytesOut, count * FRAME_HEADER_BYTES);
      const { rttUs } = client.drainSamples();
      assert.equal(rttUs.length, count);
      assert.ok(rttUs.every((us) => us < 5_000_000));
    });

    it('resets verified on the next pingAll and counts only answers to it', async () => {
      client.pingAll(2);
      assert.equal(client.stats().pingsSent, 2 * count);
      const c = await until(client, (s) => s.pongsReceived === 2 * count);
      assert.equal(c.verified, count);
      client.drainSamples();
    });

    it('delivers a broadcast to every connection with a latency sample each', async () => {
      assert.equal(server.broadcast(7), count);
      const c = await until(client, (s) => s.broadcastsReceived === count);
      assert.equal(server.stats().broadcastsSent, count);
      assert.equal(c.established, count);
      const { broadcastUs } = client.drainSamples();
      assert.equal(broadcastUs.length, count);
      assert.ok(broadcastUs.every((us) => us < 5_000_000));
    });

    it('skips a broadcast payload and keeps the frame stream in step', async () => {
      assert.equal(server.broadcast(8, new Uint8Array(1000).fill(0x50)), count);
      client.pingAll(3);
      const c = await until(client, (s) => s.verified === count && s.broadcastsReceived === 2 * count);
      assert.equal(c.closed.protocol, 0);
    });

    it('returns each sample once: drainSamples clears what it returns', async () => {
      const first = client.drainSamples();
      assert.equal(first.rttUs.length, count);
      assert.equal(first.broadcastUs.length, count);
      const second = client.drainSamples();
      assert.deepEqual([second.connectUs.length, second.rttUs.length, second.broadcastUs.length], [0, 0, 0]);
    });

    it('recycles connections with churn: reset here, counted churn, connected again', async () => {
      const clientBefore = client.stats();
      const serverBefore = server.stats();
      assert.equal(client.churn(300), 300);
      const c = await until(client, (st) => st.connected === clientBefore.connected + 300 && st.established === count);
      assert.equal(c.closed.churn, 300);
      assert.deepEqual(c.errors, {});
      const s = await until(server, (st) => st.accepted === serverBefore.accepted + 300 && st.established === count);
      assert.equal(s.closed.reset - serverBefore.closed.reset, 300, 'the server sees each recycled connection reset');
      assert.equal(client.drainSamples().connectUs.length, 300, 'each reconnect is timed like a first connect');
      assert.equal(client.churn(0), 0);
    });

    it('churns nothing on the accepting side, whose connections it did not open', () => {
      assert.equal(server.churn(10), 0);
    });

    it('leaves nothing established after closeAll, counted local on the closing side', async () => {
      await client.closeAll();
      const c = client.stats();
      assert.equal(c.established, 0);
      assert.equal(c.verified, 0);
      assert.equal(c.closed.local, count);
      const s = await until(server, (st) => st.established === 0);
      assert.equal(s.closed.peer, count);
      assert.equal(s.listeners, 1);
    });
  });

  describe(`${name} holder: four-tuples and errors`, () => {
    const holders: Holder[] = [];
    const holder = (options: HolderOptions = {}): Holder => {
      const h = create(options);
      holders.push(h);
      return h;
    };

    after(() => {
      for (const h of holders) h.destroy();
    });

    it('counts a connect to a closed port as ECONNREFUSED', async () => {
      const client = holder();
      client.connect(tuples(3, [0, 0], await freePort()));
      const c = await until(client, (s) => (s.errors.ECONNREFUSED ?? 0) === 3);
      assert.equal(c.established, 0);
      assert.equal(c.pending, 0);
      assert.deepEqual(c.closed, emptyClosed());
    });

    it('closes connects still pending after connectTimeoutMs and counts them ETIMEDOUT', async () => {
      const frozen = await frozenListener();
      try {
        const client = holder({ connectTimeoutMs: 100 });
        client.connect(tuples(4, [0, 0], frozen.port));
        const c = await until(client, (s) => s.queued === 0 && s.pending === 0);
        assert.ok(c.closed.timeout >= 2, JSON.stringify(c));
        assert.equal(c.errors.ETIMEDOUT, c.closed.timeout);
        assert.equal(c.closed.timeout + c.established, 4);
        await client.closeAll();
      } finally {
        await frozen.stop();
      }
    });

    it('rejects listen on an address held without SO_REUSEPORT with EADDRINUSE', async () => {
      const plain = net.createServer();
      plain.listen(0, '127.0.0.1');
      await once(plain, 'listening');
      const { port } = plain.address() as net.AddressInfo;
      const h = holder();
      await assert.rejects(h.listen('127.0.0.1', port), (err: Error & { code: string }) => {
        assert.equal(err.code, 'CONNLAB_ERR_LISTEN');
        assert.equal((err.cause as { code: string }).code, 'EADDRINUSE');
        return true;
      });
      assert.equal(h.stats().listeners, 0);
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
      const invalid = { code: 'CONNLAB_ERR_INVALID_ARGUMENT' };
      await assert.rejects(h.listen('localhost', 1), invalid);
      await assert.rejects(h.listen('127.0.0.1', 0), invalid);
      await assert.rejects(h.listen('127.0.0.1', 1, 0), invalid);
      assert.throws(() => h.connect(new Uint32Array(3)), invalid);
      assert.throws(() => h.connect(new Uint32Array([0, 70000, LOCALHOST, 80])), invalid);
      assert.throws(() => h.connect(new Uint32Array([0, 0, LOCALHOST, 0])), invalid);
      assert.throws(() => h.pingAll(-1), invalid);
      assert.throws(() => h.broadcast(1.5), invalid);
      assert.throws(() => h.broadcast(1, new Uint8Array(0x10000)), invalid);
      assert.throws(() => create({ maxSamples: -1 }), invalid);
      assert.throws(() => create({ connectTimeoutMs: 0.5 }), invalid);
      assert.throws(() => create({ sendBufferBytes: 1024 }), invalid);
      assert.throws(() => create({ sendBufferBytes: 2 ** 31 }), invalid);
      assert.throws(() => create({ stallTimeoutMs: -1 }), invalid);
      create({ sendBufferBytes: 0, stallTimeoutMs: 0 }).destroy(); // 0: the kernel's defaults
    });

    it('records at most maxSamples per kind and counts the rest as dropped', async () => {
      const port = await freePort();
      const server = holder();
      const client = holder({ maxSamples: 2 });
      await server.listen('127.0.0.1', port);
      client.connect(tuples(5, [0, 0], port));
      await until(client, (s) => s.established === 5);
      client.pingAll(1);
      const c = await until(client, (s) => s.verified === 5);
      assert.equal(c.samplesDropped, 3 + 3);
      const samples = client.drainSamples();
      assert.deepEqual([samples.connectUs.length, samples.rttUs.length], [2, 2]);
    });

    it('carries connections to three destinations from one source address and port', { skip: !caps.sharedSourcePort }, async () => {
      const server = holder();
      const client = holder();
      const ports = [await freePort(), await freePort(), await freePort()];
      for (const p of ports) await server.listen('127.0.0.1', p);
      const src: [number, number] = [ip('127.0.0.2'), await freePort('127.0.0.2')];
      client.connect(new Uint32Array(ports.flatMap((p) => [...tuples(1, src, p)])));
      const c = await until(client, (s) => s.queued === 0 && s.pending === 0);
      assert.equal(c.established, 3);
      assert.deepEqual(c.errors, {});
      assert.equal((await until(server, (s) => s.established === 3)).listeners, 3);
    });

    it('counts a second connection on the same four-tuple as EADDRNOTAVAIL', { skip: !caps.sharedSourcePort }, async () => {
      const server = holder();
      const client = holder();
      const port = await freePort();
      await server.listen('127.0.0.1', port);
      const src: [number, number] = [ip('127.0.0.3'), await freePort('127.0.0.3')];
      client.connect(tuples(2, src, port));
      const c = await until(client, (s) => s.queued === 0 && s.pending === 0 && s.established === 1);
      assert.deepEqual(c.errors, { EADDRNOTAVAIL: 1 });
    });
  });

  describe(`${name} holder: the wire format`, () => {
    let server: Holder;
    let port: number;

    before(async () => {
      port = await freePort();
      server = create();
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
      await until(server, (s) => s.bytesIn >= 7);
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
      assert.deepEqual(reply, Buffer.from(encodeFrame('pong', 5, 777)));
      socket.destroy();
    });

    it('closes a peer that sends bytes outside the format and counts it as protocol', async () => {
      const before = server.stats().closed.protocol;
      const socket = await rawSocket(port);
      socket.write('GET / HTTP/1.1\r\nHost: x\r\n\r\n');
      socket.resume();
      await once(socket, 'close');
      await until(server, (s) => s.closed.protocol === before + 1);
    });

    /** Opens a raw client and waits until the server holds it and nothing else. */
    async function soleConnection(): Promise<{ socket: net.Socket; start: HolderStats }> {
      const accepted = server.stats().accepted;
      const socket = await rawSocket(port);
      const start = await until(server, (s) => s.accepted === accepted + 1 && s.established === 1);
      return { socket, start };
    }

    it('counts a peer that closes as peer', async () => {
      const { socket, start } = await soleConnection();
      socket.end();
      await until(server, (s) => s.closed.peer === start.closed.peer + 1 && s.established === 0);
    });

    it('closes a connection whose peer stops reading as slow instead of queueing', async () => {
      const { socket, start } = await soleConnection();
      socket.pause();
      const payload = new Uint8Array(0xffff);
      let rounds = 0;
      while (server.broadcast(rounds, payload) === 1) rounds++;
      const s = server.stats();
      assert.equal(s.closed.slow, start.closed.slow + 1);
      assert.equal(s.established, 0);
      assert.equal(s.broadcastsSent, start.broadcastsSent + rounds);
      socket.destroy();
    });

    it('closes a server that sends a frame a client must not receive as protocol', async () => {
      const raw = net.createServer((socket) => socket.end(encodeFrame('ping', 1, 1)));
      raw.listen(0, '127.0.0.1');
      await once(raw, 'listening');
      const client = create();
      try {
        client.connect(tuples(1, [0, 0], (raw.address() as net.AddressInfo).port));
        const c = await until(client, (s) => s.closed.protocol + s.closed.peer === 1);
        assert.equal(c.closed.protocol, 1);
      } finally {
        client.destroy();
        raw.close();
        await once(raw, 'close');
      }
    });
  });

  describe(`${name} holder: lifecycle`, () => {
    it('keeps returning the final stats after destroy and refuses commands', async () => {
      const h = create();
      const port = await freePort();
      await h.listen('127.0.0.1', port);
      h.destroy();
      h.destroy();
      assert.equal(h.stats().listeners, 1);
      const destroyed = { code: 'CONNLAB_ERR_HOLDER_DESTROYED' };
      assert.throws(() => h.pingAll(1), destroyed);
      assert.throws(() => h.broadcast(1), destroyed);
      assert.throws(() => h.connect(new Uint32Array(0)), destroyed);
      assert.throws(() => h.drainSamples(), destroyed);
      await assert.rejects(h.closeAll(), destroyed);
      await assert.rejects(h.listen('127.0.0.1', port), destroyed);
    });

    it('frees the listening address on destroy', async () => {
      const port = await freePort();
      const h = create();
      await h.listen('127.0.0.1', port);
      h.destroy();
      const plain = net.createServer();
      plain.listen(port, '127.0.0.1');
      await once(plain, 'listening');
      plain.close();
      await once(plain, 'close');
    });
  });
}
