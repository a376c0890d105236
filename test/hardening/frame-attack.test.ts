// The remote crash of issue 8, replayed against a real serve: a 15-byte ECHO header
// (length 65,535) on many connections, a pause, then the last header byte and the whole
// payload in one write. The answer to that read is 16 bytes longer than the read, which
// overflowed the answer buffer of both holders. Every worker must live, every
// attacker must get its echo back whole, and a control connection must still answer.

import assert from 'node:assert/strict';
import net from 'node:net';
import { setTimeout as delay } from 'node:timers/promises';
import { describe, it } from 'node:test';
import type { HolderKind } from '../../src/engine/messages.ts';
import { nativeHolderAvailable } from '../../src/engine/native-holder.ts';
import { encodeFrame, FRAME_HEADER_BYTES } from '../../src/protocol/frame.ts';
import { startServe } from '../../src/server/serve.ts';
import { freePort, rawSocket } from '../helpers/net.ts';

const ATTACKERS = 20;
const PAYLOAD_BYTES = 65_535;


/** Resolves with everything the socket received once `bytes` have arrived. */
function receive(socket: net.Socket, bytes: number): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let have = 0;
  return new Promise((resolve, reject) => {
    socket.on('data', (chunk: Buffer) => {
      chunks.push(chunk);
      have += chunk.byteLength;
      if (have >= bytes) resolve(Buffer.concat(chunks));
    });
    socket.once('close', () => reject(new Error(`closed after ${have} of ${bytes} bytes`)));
  });
}

async function pingPong(port: number): Promise<Buffer> {
  const socket = await rawSocket(port);
  const answer = receive(socket, FRAME_HEADER_BYTES);
  socket.write(encodeFrame('ping', 99, 0));
  const got = await answer;
  socket.destroy();
  return got;
}

const holders: HolderKind[] = nativeHolderAvailable() ? ['native', 'node'] : ['node'];

describe('a header completed by the next read (the issue 8 heap overflow)', () => {
  for (const holder of holders) {
    it(`leaves every ${holder} worker alive and echoes every frame whole`, async () => {
      const port = await freePort();
      const serve = await startServe({ listen: [{ host: '127.0.0.1', port }], workers: 2, holder, fdSoftLimit: 20_000 });
      const exits: string[] = [];
      serve.on('worker-exit', (index, reason) => exits.push(`worker ${index}: ${reason}`));
      const sockets: net.Socket[] = [];
      try {
        const frame = Buffer.from(encodeFrame('echo', 7, 0, Buffer.alloc(PAYLOAD_BYTES, 0x41)));
        for (let i = 0; i < ATTACKERS; i++) {
          const socket = await rawSocket(port);
          socket.on('error', () => {});
          sockets.push(socket);
          socket.write(frame.subarray(0, FRAME_HEADER_BYTES - 1));
        }
        await delay(50); // the 15 bytes arrive as a read of their own
        const echoes = sockets.map((socket) => receive(socket, frame.byteLength));
        for (const socket of sockets) socket.write(frame.subarray(FRAME_HEADER_BYTES - 1));
        for (const echo of await Promise.all(echoes)) assert.ok(echo.equals(frame), 'the echo is the frame, byte for byte');

        const pong = await pingPong(port);
        assert.equal(pong[0], 0x4f, 'a control connection still gets its PONG');
        assert.equal(pong.readUInt32BE(4), 99);
        const stats = await serve.refresh();
        assert.deepEqual(exits, []);
        assert.equal(stats.totals.closed.protocol, 0);
        assert.ok(stats.workers.every((w) => w.restarts === 0));
      } finally {
        for (const socket of sockets) socket.destroy();
        await serve.close();
      }
    });
  }
});
