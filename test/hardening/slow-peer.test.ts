// Issue 8, item 3: clients that never read and keep sending ECHO frames. Each echo
// lands in serve's kernel send queue; without a cap the kernel autotunes that queue up
// to tcp_wmem's maximum (4 MiB here) and the holder never sees a write block. With the
// native holder's caps, every such connection is closed `slow` (by a write the kernel
// refuses, or by TCP_USER_TIMEOUT once the peer takes nothing), and no socket of serve
// ever queues more than 2 × sendBufferBytes + one 64 KiB segment (native/conn.c).
// A control connection that reads normally must never be closed.

import assert from 'node:assert/strict';
import { once } from 'node:events';
import net from 'node:net';
import { setTimeout as delay } from 'node:timers/promises';
import { after, before, describe, it } from 'node:test';
import { DEFAULT_SEND_BUFFER_BYTES } from '../../src/engine/holder-args.ts';
import { createNativeHolder, nativeHolderAvailable } from '../../src/engine/native-holder.ts';
import { socketQueues } from '../../src/probe/kernel-tools.ts';
import { encodeFrame, FRAME_HEADER_BYTES } from '../../src/protocol/frame.ts';
import { startServe, type ServeHandle, type ServeStats } from '../../src/server/serve.ts';
import { freePort } from '../helpers/net.ts';

const NEVER_READERS = 2_000;
/** Per never-reader: past its own receive window (~128 KiB) plus the bound, so without a cap serve holds more than the bound. */
const WRITE_BYTES = 384 * 1024;
const ECHO_PAYLOAD_BYTES = 4096;
const STALL_TIMEOUT_MS = 2_000;
const SEGMENT_BYTES = 64 * 1024;
/** SO_SNDBUF as the kernel doubles it, plus the one segment the kernel may start past it. */
const BOUND_BYTES = 2 * DEFAULT_SEND_BUFFER_BYTES + SEGMENT_BYTES;
/** skmem `w` is Send-Q plus the kernel's per-buffer overhead (about 1 %). */
const SKB_OVERHEAD_BYTES = 4096;

/**
 * A loopback source address of its own, so the clients' ports do not compete with other
 * tests' connections from 127.0.0.1.
 */
const SOURCE = `127.${64 + Math.floor(Math.random() * 64)}.${Math.floor(Math.random() * 250)}.${1 + Math.floor(Math.random() * 250)}`;

/** The largest send queues seen on serve's sockets while it runs (ss every few ms). */
function sampleQueues(port: number) {
  const seen = { samples: 0, sendQ: 0, w: 0, peakTotalSendQ: 0, sendBuffers: new Set<number>() };
  let running = true;
  const done = (async () => {
    while (running) {
      const sockets = await socketQueues(['src', `127.0.0.1:${port}`]);
      let total = 0;
      for (const s of sockets) {
        total += s.sendQ;
        seen.sendQ = Math.max(seen.sendQ, s.sendQ);
        seen.w = Math.max(seen.w, s.skmem.w ?? 0);
        if (s.skmem.tb !== undefined) seen.sendBuffers.add(s.skmem.tb);
      }
      seen.peakTotalSendQ = Math.max(seen.peakTotalSendQ, total);
      seen.samples++;
      await delay(20);
    }
  })();
  return { seen, stop: async () => { running = false; await done; } };
}

/** A client that reads everything: a PING and a full-size ECHO every 50 ms; counts whole answers. */
async function controlClient(port: number) {
  const socket = net.connect(port, '127.0.0.1');
  await once(socket, 'connect');
  const echo = Buffer.from(encodeFrame('echo', 7, 0, Buffer.alloc(0xffff, 0x63)));
  const answers = { pongs: 0, echoes: 0, broadcasts: 0, closed: false };
  let pending = Buffer.alloc(0);
  socket.on('data', (chunk: Buffer) => {
    pending = Buffer.concat([pending, chunk]);
    while (pending.byteLength >= FRAME_HEADER_BYTES) {
      const frameBytes = FRAME_HEADER_BYTES + pending.readUInt16BE(2);
      if (pending.byteLength < frameBytes) break;
      const type = pending[0];
      if (type === 0x4f) answers.pongs++;
      else if (type === 0x45) answers.echoes++;
      else if (type === 0x42) answers.broadcasts++;
      pending = pending.subarray(frameBytes);
    }
  });
  socket.on('close', () => { answers.closed = true; });
  socket.on('error', () => {});
  let sent = 0;
  const timer = setInterval(() => {
    sent++;
    socket.write(encodeFrame('ping', sent, 0));
    socket.write(echo);
  }, 50);
  return {
    answers,
    /** Stops sending and waits until every request sent has its answer. */
    async settle(): Promise<number> {
      clearInterval(timer);
      const deadline = Date.now() + 5_000;
      while ((answers.pongs < sent || answers.echoes < sent) && !answers.closed && Date.now() < deadline) await delay(10);
      return sent;
    },
    close: () => {
      clearInterval(timer);
      socket.destroy();
    },
  };
}

/** Opens a socket that never reads and writes `bytes` of ECHO frames to it at once. */
async function neverReader(port: number, frame: Buffer, bytes: number): Promise<net.Socket> {
  const socket = net.connect({ port, host: '127.0.0.1', localAddress: SOURCE });
  socket.pause(); // before connect: Node never starts reading it
  socket.on('error', () => {}); // serve's close arrives as a reset
  await once(socket, 'connect');
  for (let written = 0; written < bytes; written += frame.byteLength) socket.write(frame);
  return socket;
}

async function until(serve: ServeHandle, predicate: (slow: number) => boolean, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let stats = await serve.refresh();
  while (!predicate(stats.totals.closed.slow)) {
    if (Date.now() > deadline) throw new Error(`not met in ${timeoutMs} ms: ${JSON.stringify(stats.totals.closed)}, ${stats.connections} held`);
    await delay(100);
    stats = await serve.refresh();
  }
}

describe('clients that never read (issue 8, item 3)', { skip: !nativeHolderAvailable() && 'the native holder is not built' }, () => {
  let port: number;
  let serve: ServeHandle;
  const sockets: net.Socket[] = [];

  before(async () => {
    port = await freePort();
    serve = await startServe({
      listen: [{ host: '127.0.0.1', port }], workers: 2, holder: 'native', fdSoftLimit: 20_000, stallTimeoutMs: STALL_TIMEOUT_MS,
    });
  });

  after(async () => {
    for (const socket of sockets) socket.destroy();
    await serve.close();
  });

  it(`closes ${NEVER_READERS.toLocaleString('en-US')} of them as slow and keeps each send queue under ${BOUND_BYTES / 1024} KiB`, async () => {
    const queues = sampleQueues(port);
    const control = await controlClient(port);
    let requests: number;
    let broadcastWritten: number;
    let stats: ServeStats;
    let answers: typeof control.answers;
    try {
      const frame = Buffer.from(encodeFrame('echo', 1, 0, Buffer.alloc(ECHO_PAYLOAD_BYTES, 0x61)));
      for (let i = 0; i < NEVER_READERS; i += 250) {
        const batch = Array.from({ length: Math.min(250, NEVER_READERS - i) }, () => neverReader(port, frame, WRITE_BYTES));
        sockets.push(...(await Promise.all(batch)));
      }
      broadcastWritten = (await serve.broadcast()).written;
      // A write refused closes most at once; the rest, whose queues stayed under the cap,
      // close when the kernel gives up on them after STALL_TIMEOUT_MS.
      await until(serve, (slow) => slow >= NEVER_READERS, STALL_TIMEOUT_MS + 10_000);
      requests = await control.settle();
      stats = await serve.refresh(); // before the control connection closes
      answers = { ...control.answers };
    } finally {
      await queues.stop();
      control.close();
    }
    const { seen } = queues;
    assert.equal(stats.totals.closed.slow, NEVER_READERS, 'every never-reader, and nothing else, closed slow');
    assert.deepEqual({ ...stats.totals.closed, slow: 0 }, { peer: 0, reset: 0, protocol: 0, slow: 0, local: 0, timeout: 0, churn: 0, lost: 0, server_close: 0, idle: 0, refused: 0, keepalive: 0 });
    assert.equal(stats.connections, 1, 'only the control connection is left');
    assert.ok(seen.samples >= 2, `ss sampled ${seen.samples} times`);
    assert.ok(seen.sendQ <= BOUND_BYTES, `largest send queue ${seen.sendQ} B > ${BOUND_BYTES} B`);
    assert.ok(seen.w <= BOUND_BYTES + SKB_OVERHEAD_BYTES, `largest skmem w ${seen.w} B`);
    // The control connection's socket shows the cap applied through the listener: SO_SNDBUF, doubled.
    assert.ok(seen.sendBuffers.has(2 * DEFAULT_SEND_BUFFER_BYTES), `send buffers seen: ${[...seen.sendBuffers].join(', ')}`);
    assert.deepEqual([...seen.sendBuffers], [2 * DEFAULT_SEND_BUFFER_BYTES], 'no socket of serve autotuned its send buffer');

    assert.equal(answers.closed, false, 'the control connection is never closed');
    assert.equal(answers.pongs, requests);
    assert.equal(answers.echoes, requests);
    assert.equal(answers.broadcasts, 1);
    assert.ok(broadcastWritten >= 1);
    console.log(`# ${NEVER_READERS} never-readers: largest send queue ${seen.sendQ} B (skmem w ${seen.w} B), ` +
      `peak total ${(seen.peakTotalSendQ / 1e6).toFixed(1)} MB over ${seen.samples} ss samples`);
  });
});

describe('a peer that stops taking data', { skip: !nativeHolderAvailable() && 'the native holder is not built' }, () => {
  it('is aborted by the kernel after stallTimeoutMs and counted slow, not reset', async () => {
    const port = await freePort();
    const holder = createNativeHolder({ stallTimeoutMs: 500 });
    await holder.listen('127.0.0.1', port);
    const socket = net.connect({ port, host: '127.0.0.1', localAddress: SOURCE });
    try {
      socket.pause();
      socket.on('error', () => {});
      await once(socket, 'connect');
      // Echo 4 KiB at a time until the client's receive window is full and serve's socket
      // holds unsent bytes: far below the send buffer, so no write is ever refused.
      const frame = Buffer.from(encodeFrame('echo', 1, 0, Buffer.alloc(4096 - FRAME_HEADER_BYTES)));
      const ownSocket = ['src', `127.0.0.1:${port}`, 'dst', `${SOURCE}:${socket.localPort}`];
      let written = 0;
      let queued = 0;
      while (queued === 0 && written < 1024 * 1024) {
        socket.write(frame);
        written += frame.byteLength;
        while (holder.stats().bytesIn < written) await delay(1);
        queued = (await socketQueues(ownSocket))[0]?.notsent ?? 0;
      }
      assert.ok(queued > 0 && queued < DEFAULT_SEND_BUFFER_BYTES, `serve holds ${queued} B unsent`);
      const stalled = performance.now();
      while (holder.stats().established > 0 && performance.now() - stalled < 10_000) await delay(20);
      const stats = holder.stats();
      assert.deepEqual(stats.closed, { peer: 0, reset: 0, protocol: 0, slow: 1, local: 0, timeout: 0, churn: 0, lost: 0, server_close: 0, idle: 0, refused: 0, keepalive: 0 });
      assert.ok(performance.now() - stalled >= 400, 'closed by the stall timeout, not by a write');
    } finally {
      socket.destroy();
      holder.destroy();
    }
  });
});

describe('serve refuses limits it cannot apply', () => {
  it('with CONNLAB_ERR_INVALID_ARGUMENT before any worker starts', async () => {
    const base = { listen: [{ host: '127.0.0.1', port: await freePort() }], workers: 1, fdSoftLimit: 20_000 };
    const invalid = { code: 'CONNLAB_ERR_INVALID_ARGUMENT' };
    await assert.rejects(startServe({ ...base, sendBufferBytes: 1000 }), invalid);
    await assert.rejects(startServe({ ...base, stallTimeoutMs: 1.5 }), invalid);
  });
});
