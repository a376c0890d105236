// Property tests for the TypeScript side of the wire format, the twin of native/fuzz:
// - FrameDecoder (src/protocol/frame.ts): any cut of a byte stream into chunks decodes to
//   the same frames, and the same protocol error, as the stream in one piece;
// - the node holder's answer bound (answerBytesFor in src/engine/node-holder.ts): no read
//   is answered with more, the issue-8 read is answered with exactly that much, and a
//   real node holder over loopback echoes every frame byte for byte under the attack and
//   under random splits, without a protocol close.
// Randomness comes from one seed, printed with any failure; CONNLAB_SEED=N replays it.

import assert from 'node:assert/strict';
import net from 'node:net';
import { after, before, describe, it } from 'node:test';
import type { Holder } from '../../src/engine/holder.ts';
import { answerBytesFor, createNodeHolder } from '../../src/engine/node-holder.ts';
import {
  encodeFrame, type Frame, type FrameDecodeError, FRAME_HEADER_BYTES, FRAME_TYPES, FrameDecoder, type FrameRole, type FrameType,
} from '../../src/protocol/frame.ts';
import { freePort, rawSocket } from '../helpers/net.ts';
import { waitFor } from '../helpers/wait.ts';

const SEED = Number(process.env.CONNLAB_SEED ?? Math.floor(Math.random() * 2 ** 32));
const READ_BYTES = 65_536; // the holders' scratch buffer: the most one read delivers
const ANSWER_WAIT_MS = 10_000;

/** mulberry32: small, fast, and enough to pick lengths and cut points. */
function prng(seed: number): { below(n: number): number; bytes(n: number): Uint8Array } {
  let state = seed >>> 0;
  const next = (): number => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 2 ** 32;
  };
  return {
    below: (n) => Math.floor(next() * n),
    bytes: (n) => Uint8Array.from({ length: n }, () => Math.floor(next() * 256)),
  };
}
type Rng = ReturnType<typeof prng>;

/** Runs `body` with the seed in any failure's message. */
async function seeded(name: string, body: (rng: Rng) => void | Promise<void>): Promise<void> {
  try {
    await body(prng(SEED));
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    throw new Error(`${name} failed with seed ${SEED} (replay: CONNLAB_SEED=${SEED}): ${message}`, { cause: error });
  }
}

function payloadLength(rng: Rng): number {
  const pick = rng.below(6);
  if (pick < 3) return rng.below(17);
  if (pick < 5) return rng.below(2048);
  return rng.below(2) === 0 ? 65_535 : rng.below(65_536);
}

/** Valid frames for a receiver in `role`, encoded back to back. */
function frames(rng: Rng, role: FrameRole, count: number, maxPayload = 65_535): Uint8Array {
  const types: FrameType[] = role === 'server' ? ['ping', 'echo'] : ['pong', 'broadcast'];
  const parts: Uint8Array[] = [];
  for (let i = 0; i < count; i++) {
    const type = types[rng.below(2)] as FrameType;
    const bare = type === 'ping' || type === 'pong';
    const payload = bare ? undefined : rng.bytes(Math.min(maxPayload, payloadLength(rng)));
    parts.push(encodeFrame(type, rng.below(2 ** 32), rng.below(2 ** 40), payload));
  }
  return Buffer.concat(parts);
}

/** What a decoder yields for the chunks: the frames, and the error code it stopped on. */
function decode(role: FrameRole, chunks: Uint8Array[]): { frames: Frame[]; error?: string } {
  const decoder = new FrameDecoder(role);
  const out: Frame[] = [];
  for (const chunk of chunks) {
    try {
      out.push(...decoder.push(chunk));
    } catch (error) {
      out.push(...((error as Partial<FrameDecodeError>).frames ?? []));
      return { frames: out, error: (error as { code?: string }).code ?? String(error) };
    }
  }
  return { frames: out };
}

function cutAt(bytes: Uint8Array, cuts: number[]): Uint8Array[] {
  const points = [0, ...cuts, bytes.byteLength];
  return points.slice(1).map((end, i) => bytes.subarray(points[i], end));
}

function randomCuts(rng: Rng, length: number): number[] {
  const cuts: number[] = [];
  for (let at = 0; ; ) {
    const style = rng.below(3);
    at += style === 0 ? 1 + rng.below(FRAME_HEADER_BYTES + 1) : style === 1 ? 1 + rng.below(READ_BYTES) : READ_BYTES;
    if (at >= length) return cuts;
    cuts.push(at);
  }
}

/** Flips a few bytes anywhere, headers included: the decoder may now stop on an error. */
function mutate(rng: Rng, bytes: Uint8Array): Uint8Array {
  const copy = Uint8Array.from(bytes);
  for (let i = 1 + rng.below(4); i > 0; i--) {
    const at = rng.below(copy.byteLength);
    copy[at] = (copy[at] as number) ^ (1 + rng.below(255));
  }
  return copy;
}

/**
 * What decoding `chunks` must give, against `bytewise` (the stream fed one byte at a
 * time, which yields every frame before a bad header): the same frames and the same
 * error, or none, however the stream is cut (the error carries the frames its chunk
 * completed before it).
 */
function assertSameDecode(got: ReturnType<typeof decode>, bytewise: ReturnType<typeof decode>, where: string): void {
  assert.equal(got.error, bytewise.error, `${where}: the same protocol error, or none`);
  assert.deepEqual(got.frames, bytewise.frames, where);
}

const bytewise = (role: FrameRole, stream: Uint8Array): ReturnType<typeof decode> =>
  decode(role, cutAt(stream, Array.from({ length: stream.byteLength - 1 }, (_, i) => i + 1)));

describe('FrameDecoder at random split points', () => {
  it('decodes any cut of random frames to what the unsplit stream gives', () =>
    seeded('random splits', (rng) => {
      for (let i = 0; i < 300; i++) {
        const role: FrameRole = rng.below(2) === 0 ? 'server' : 'client';
        const stream = frames(rng, role, 1 + rng.below(12));
        const whole = decode(role, [stream]);
        assert.equal(whole.error, undefined);
        assert.deepEqual(decode(role, cutAt(stream, randomCuts(rng, stream.byteLength))), whole, `iteration ${i}`);
      }
    }));

  it('stops on the same protocol error at any cut of damaged frames', () =>
    seeded('damaged splits', (rng) => {
      for (let i = 0; i < 300; i++) {
        const role: FrameRole = rng.below(2) === 0 ? 'server' : 'client';
        const stream = mutate(rng, frames(rng, role, 1 + rng.below(8), 300));
        const reference = bytewise(role, stream);
        assertSameDecode(decode(role, [stream]), reference, `iteration ${i}, unsplit`);
        assertSameDecode(decode(role, cutAt(stream, randomCuts(rng, stream.byteLength))), reference, `iteration ${i}`);
      }
    }));

  it('decodes every one- and two-cut split of small sequences like the whole', () =>
    seeded('every split', (rng) => {
      const sequences: [FrameRole, Uint8Array][] = [
        ['server', frames(rng, 'server', 4, 20)],
        ['client', frames(rng, 'client', 4, 20)],
        ['server', Buffer.concat([encodeFrame('echo', 1, 1, rng.bytes(5)), encodeFrame('pong', 2, 2)])],
        ['client', Buffer.concat([encodeFrame('pong', 1, 1), Buffer.from([FRAME_TYPES.pong, 0, 0, 3]), rng.bytes(12)])],
      ];
      for (const [role, stream] of sequences) {
        const reference = bytewise(role, stream);
        for (let i = 1; i < stream.byteLength; i++) {
          assertSameDecode(decode(role, cutAt(stream, [i])), reference, `${role}, cut at ${i}`);
          for (let j = i + 1; j < stream.byteLength; j++) {
            assertSameDecode(decode(role, cutAt(stream, [i, j])), reference, `${role}, cuts at ${i} and ${j}`);
          }
        }
      }
    }));
});

/** The server's answer to a stream, as a prefix function: due[k] answer bytes are owed
 * once k input bytes were read (PING -> PONG header, ECHO -> header, then each byte). */
function answerDue(stream: Uint8Array): Int32Array {
  const due = new Int32Array(stream.byteLength + 1);
  const view = new DataView(stream.buffer, stream.byteOffset, stream.byteLength);
  let owed = 0;
  for (let at = 0; at < stream.byteLength; ) {
    const frameBytes = FRAME_HEADER_BYTES + view.getUint16(at + 2);
    for (let i = 1; i <= frameBytes && at + i <= stream.byteLength; i++) {
      if (i >= FRAME_HEADER_BYTES) owed += i === FRAME_HEADER_BYTES ? FRAME_HEADER_BYTES : 1;
      due[at + i] = owed;
    }
    at += frameBytes;
  }
  return due;
}

describe('the node holder answer bound', () => {
  it('answerBytesFor is the read plus 15 bytes', () => {
    for (const length of [0, 1, 15, 16, 17, READ_BYTES]) assert.equal(answerBytesFor(length), length + FRAME_HEADER_BYTES - 1);
  });

  it('holds for every read of random splits and is reached by the issue-8 read', () =>
    seeded('answer bound', (rng) => {
      for (let i = 0; i < 200; i++) {
        const stream = frames(rng, 'server', 1 + rng.below(8));
        const due = answerDue(stream);
        assert.equal(due[stream.byteLength], stream.byteLength, 'a server answers every byte of valid frames');
        const points = [0, ...randomCuts(rng, stream.byteLength), stream.byteLength];
        for (let r = 1; r < points.length; r++) {
          const [from, to] = [points[r - 1] as number, points[r] as number];
          const answer = (due[to] as number) - (due[from] as number);
          assert.ok(answer <= answerBytesFor(to - from), `${answer} answer bytes for a read of ${to - from}`);
        }
      }
      const attack = encodeFrame('echo', 1, 1, new Uint8Array(65_535));
      const due = answerDue(attack);
      const longest = (due[FRAME_HEADER_BYTES - 1 + READ_BYTES] as number) - (due[FRAME_HEADER_BYTES - 1] as number);
      assert.equal(longest, answerBytesFor(READ_BYTES), 'the bound is tight: the attack read needs all of it');
    }));
});

describe('a real node holder over loopback', () => {
  let holder: Holder;
  let port = 0;
  before(async () => {
    holder = createNodeHolder();
    port = await freePort();
    await holder.listen('127.0.0.1', port);
  });
  after(() => holder.destroy());

  /** Writes `chunks` one read at a time (each once the holder has read the last) and
   * returns everything the holder answered. */
  async function exchange(chunks: Uint8Array[], expectBytes: number): Promise<Buffer> {
    const socket: net.Socket = await rawSocket(port);
    const received: Buffer[] = [];
    let have = 0;
    let timer: NodeJS.Timeout | undefined;
    const done = new Promise<void>((resolve, reject) => {
      socket.on('data', (chunk: Buffer) => {
        received.push(chunk);
        have += chunk.byteLength;
        if (have >= expectBytes) resolve();
      });
      socket.once('close', () => reject(new Error(`closed after ${have} of ${expectBytes} answer bytes`)));
      // A holder that threw in its read handler neither answers nor closes: bound the wait.
      timer = setTimeout(() => reject(new Error(`${have} of ${expectBytes} answer bytes after ${ANSWER_WAIT_MS} ms`)), ANSWER_WAIT_MS);
    });
    try {
      for (const chunk of chunks) {
        const target = holder.stats().bytesIn + chunk.byteLength;
        socket.write(chunk);
        await waitFor(() => holder.stats().bytesIn >= target, { describe: () => JSON.stringify(holder.stats()) });
      }
      if (expectBytes > 0) await done;
      return Buffer.concat(received);
    } finally {
      clearTimeout(timer);
      socket.destroy();
    }
  }

  it('echoes the issue-8 attack whole at every cut of the header', () =>
    seeded('attack', async (rng) => {
      for (let cut = 1; cut < FRAME_HEADER_BYTES; cut++) {
        const frame = encodeFrame('echo', cut, 1, rng.bytes(65_535));
        const answer = await exchange([frame.subarray(0, cut), frame.subarray(cut)], frame.byteLength);
        assert.ok(answer.equals(frame), `cut at ${cut}: the echo is the frame, byte for byte`);
      }
      assert.equal(holder.stats().closed.protocol, 0);
    }));

  it('answers random frames cut at random points byte for byte', () =>
    seeded('node holder splits', async (rng) => {
      for (let i = 0; i < 15; i++) {
        const stream = frames(rng, 'server', 1 + rng.below(8));
        const expected = Buffer.from(stream);
        for (let at = 0; at < expected.byteLength; ) { // the answer to a PING is a PONG
          expected[at] = expected[at] === FRAME_TYPES.ping ? FRAME_TYPES.pong : (expected[at] as number);
          at += FRAME_HEADER_BYTES + expected.readUInt16BE(at + 2);
        }
        const answer = await exchange(cutAt(stream, randomCuts(rng, stream.byteLength)), expected.byteLength);
        assert.ok(answer.equals(expected), `iteration ${i}: ${answer.byteLength} answer bytes for ${expected.byteLength}`);
      }
      assert.equal(holder.stats().closed.protocol, 0);
      assert.equal(holder.stats().closed.slow, 0);
    }));
});
