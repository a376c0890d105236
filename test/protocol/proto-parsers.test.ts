// The client protocol parsers of native/proto/ on raw bytes, no sockets: each
// representative stream gives the same events, verdict and answer bytes when cut at
// every one point and every two points, and malformed input ends with the right verdict.

import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { describe, it } from 'node:test';
import { loadTestBinding, type ProtoFeedResult } from '../helpers/native-test.ts';
import { PROTOCOL_CODES } from '../../src/engine/holder.ts';

const native = loadTestBinding();
const OPEN = -1;
const PROTOCOL = 0;
const SERVER_CLOSE = 1;
const REFUSED = 2;

type Kind = 'http' | 'ws' | 'mqtt';

function feed(kind: Kind, chunks: Uint8Array[], accept?: string): ProtoFeedResult {
  return native.protoFeedForTest(PROTOCOL_CODES[kind], chunks, accept ?? null);
}

const plain = (r: ProtoFeedResult): object => ({ events: r.events, verdict: r.verdict, out: Buffer.from(r.out).toString('hex'), eof: r.eofComplete });

/** Feeds `bytes` whole, then cut at every point and every pair of points: all must agree. */
function assertSplitInvariant(kind: Kind, bytes: Buffer, accept?: string): ProtoFeedResult {
  const whole = feed(kind, [bytes], accept);
  const expected = plain(whole);
  for (let i = 0; i <= bytes.length; i++) {
    assert.deepEqual(plain(feed(kind, [bytes.subarray(0, i), bytes.subarray(i)], accept)), expected, `one cut at ${i}`);
    for (let j = i; j <= bytes.length; j++) {
      const parts = [bytes.subarray(0, i), bytes.subarray(i, j), bytes.subarray(j)];
      const got = plain(feed(kind, parts, accept));
      if (JSON.stringify(got) !== JSON.stringify(expected)) assert.deepEqual(got, expected, `cuts at ${i} and ${j}`);
    }
  }
  return whole;
}

const crlf = (text: string): Buffer => Buffer.from(text.replaceAll('\n', '\r\n'));

describe('HTTP/1.1 responses', () => {
  it('reads a Content-Length body, a chunked body with extensions and trailers, and no-body statuses at every split', () => {
    const bytes = Buffer.concat([
      crlf('HTTP/1.1 200 OK\nServer: nginx\nContent-Length: 3\n\n'), Buffer.from('ok\n'),
      crlf('HTTP/1.1 200 OK\nTransfer-Encoding: chunked\n\n5;ext=1\nhello\n0\nX-Trailer: y\n\n'),
      crlf('HTTP/1.1 100 Continue\n\nHTTP/1.1 204 No Content\nContent-Length: 99\n\n'),
      crlf('HTTP/1.1 304 Not Modified\nContent-Length: 1234\n\n'),
      crlf('HTTP/1.1 404 Not Found\ncontent-length: 0\n\n'),
    ]);
    const r = assertSplitInvariant('http', bytes);
    assert.deepEqual(r.events, [
      'code http 200', 'answer 0 0', 'code http 200', 'answer 0 0', 'code http 204', 'answer 0 0',
      'code http 304', 'answer 0 0', 'code http 404', 'answer 0 0',
    ]);
    assert.equal(r.verdict, OPEN);
  });

  it('skips a header longer than its line buffer and still reads the body', () => {
    const bytes = crlf(`HTTP/1.1 200 OK\nSet-Cookie: ${'a'.repeat(300)}\nContent-Length: 2\n\nhi`);
    assert.deepEqual(assertSplitInvariant('http', bytes).events, ['code http 200', 'answer 0 0']);
  });

  it('ends the connection as server_close after Connection: close and after an HTTP/1.0 answer', () => {
    const close = assertSplitInvariant('http', crlf('HTTP/1.1 200 OK\nConnection: close\nContent-Length: 0\n\n'));
    assert.deepEqual([close.events, close.verdict], [['code http 200', 'answer 0 0'], SERVER_CLOSE]);
    const old = assertSplitInvariant('http', crlf('HTTP/1.0 200 OK\nContent-Length: 0\n\n'));
    assert.equal(old.verdict, SERVER_CLOSE);
    const kept = assertSplitInvariant('http', crlf('HTTP/1.0 200 OK\nConnection: keep-alive\nContent-Length: 0\n\n'));
    assert.equal(kept.verdict, OPEN);
  });

  it('waits for EOF when a response has neither a length nor chunked encoding', () => {
    const r = assertSplitInvariant('http', crlf('HTTP/1.1 200 OK\n\nbody until the end'));
    assert.deepEqual([r.events, r.verdict, r.eofComplete], [[], OPEN, 1]);
  });

  for (const [name, text] of [
    ['connlab PONG bytes', Buffer.from('4f000000000000010000000000000001', 'hex')],
    ['an SSH banner', Buffer.from('SSH-2.0-OpenSSH_9.2\r\n')],
    ['a bad status code', crlf('HTTP/1.1 2x0 OK\n\n')],
    ['a non-numeric Content-Length', crlf('HTTP/1.1 200 OK\nContent-Length: abc\n\n')],
    ['a bad chunk size', crlf('HTTP/1.1 200 OK\nTransfer-Encoding: chunked\n\nzz\n')],
    ['a chunk without its CRLF', crlf('HTTP/1.1 200 OK\nTransfer-Encoding: chunked\n\n2\nabX\n')],
    ['an upgrade nobody asked for', crlf('HTTP/1.1 101 Switching Protocols\n\n')],
    ['a Content-Length line longer than the buffer', crlf(`HTTP/1.1 200 OK\nContent-Length: ${'0'.repeat(80)}1\n\n`)],
  ] as const) {
    it(`closes as protocol on ${name}`, () => {
      assert.equal(assertSplitInvariant('http', Buffer.from(text)).verdict, PROTOCOL);
    });
  }
});

// RFC 6455 section 1.3's example key and accept.
const KEY = 'dGhlIHNhbXBsZSBub25jZQ==';
const ACCEPT = 's3pPLMBiTxaQ9kYGzzhZRbK+xOo=';

function serverFrame(opcode: number, payload: Buffer, fin = true): Buffer {
  const len = payload.length;
  const head = len < 126 ? Buffer.from([(fin ? 0x80 : 0) | opcode, len])
    : len < 65536 ? Buffer.from([(fin ? 0x80 : 0) | opcode, 126, len >> 8, len & 255])
      : Buffer.concat([Buffer.from([(fin ? 0x80 : 0) | opcode, 127]), Buffer.from(new BigUint64Array([BigInt(len)]).buffer).reverse()]);
  return Buffer.concat([head, payload]);
}

/** Client frames the parser answered with, unmasked: [opcode, payload hex]. */
function clientFrames(out: Uint8Array): [number, string][] {
  const frames: [number, string][] = [];
  let at = 0;
  while (at < out.length) {
    const op = (out[at] as number) & 0x0f;
    const len = (out[at + 1] as number) & 0x7f;
    assert.equal((out[at + 1] as number) & 0x80, 0x80, 'client frames are masked');
    const mask = out.subarray(at + 2, at + 6);
    const payload = Buffer.from(Array.from(out.subarray(at + 6, at + 6 + len), (b, i) => b ^ (mask[i & 3] as number)));
    frames.push([op, payload.toString('hex')]);
    at += 6 + len;
  }
  return frames;
}

const upgrade = (accept = ACCEPT, status = '101 Switching Protocols'): Buffer =>
  crlf(`HTTP/1.1 ${status}\nUpgrade: websocket\nConnection: Upgrade\nSec-WebSocket-Accept: ${accept}\n\n`);

describe('WebSocket client', () => {
  it('computes Sec-WebSocket-Key and the accept it expects as RFC 6455 and node:crypto do', () => {
    assert.deepEqual(native.wsKeyForTest(Buffer.from('the sample nonce')), [KEY, ACCEPT]);
    const nonce = Buffer.from('0123456789abcdef');
    const [key, accept] = native.wsKeyForTest(nonce);
    assert.equal(accept, createHash('sha1').update(`${key}258EAFA5-E914-47DA-95CA-C5AB0DC85B11`).digest('base64'));
  });

  it('matches pongs, counts messages with their stamps, answers pings and echoes a close at every split', () => {
    const pong = Buffer.alloc(12);
    pong.writeUInt32BE(7, 0);
    pong.writeBigUInt64BE(123456n, 4);
    const bytes = Buffer.concat([
      upgrade(),
      serverFrame(10, pong),
      serverFrame(1, Buffer.from('connlab-ts:1700000000000000 hello')),
      serverFrame(2, Buffer.from('part one '), false), serverFrame(0, Buffer.from('and two')),
      serverFrame(9, Buffer.from('abc')),
      serverFrame(2, Buffer.alloc(300, 1)),
      serverFrame(8, Buffer.from([0x03, 0xe9, 0x62, 0x79, 0x65])),
    ]);
    const r = assertSplitInvariant('ws', bytes, ACCEPT);
    assert.deepEqual(r.events, ['code http 101', 'answer 7 123456', 'message 1700000000000000', 'message 0', 'message 0', 'code ws_close 1001']);
    assert.equal(r.verdict, SERVER_CLOSE);
    assert.deepEqual(clientFrames(r.out), [[10, Buffer.from('abc').toString('hex')], [8, '03e9']]);
  });

  // Pings pile up in one read while a client is busy; more pongs than its answer buffer
  // holds used to close the connection as a protocol error (found by native/fuzz).
  it('answers the latest of more pings than one read can answer, and stays open', () => {
    const pings = Buffer.concat([...Array.from({ length: 1000 }, () => Buffer.from([0x89, 0])), Buffer.from([0x89, 4]), Buffer.from('last')]);
    const r = feed('ws', [upgrade(), pings], ACCEPT);
    assert.equal(r.verdict, OPEN);
    const mask = Buffer.from(r.out.subarray(-8, -4));
    const payload = Buffer.from(r.out.subarray(-4)).map((b, i) => b ^ (mask[i % 4] ?? 0));
    assert.deepEqual([r.out.at(-10), r.out.at(-9), payload.toString()], [0x8a, 0x84, 'last']);
  });

  it('refuses a wrong accept, a missing Upgrade and a status other than 101', () => {
    assert.equal(assertSplitInvariant('ws', upgrade('x'.repeat(28)), ACCEPT).verdict, REFUSED);
    assert.equal(feed('ws', [crlf(`HTTP/1.1 101 Switching Protocols\nConnection: Upgrade\nSec-WebSocket-Accept: ${ACCEPT}\n\n`)], ACCEPT).verdict, REFUSED);
    const denied = assertSplitInvariant('ws', crlf('HTTP/1.1 403 Forbidden\nContent-Length: 0\n\n'), ACCEPT);
    assert.deepEqual([denied.events, denied.verdict], [['code http 403'], REFUSED]);
  });

  for (const [name, frame] of [
    ['a masked server frame', Buffer.from([0x81, 0x81, 1, 2, 3, 4, 5])],
    ['a reserved bit', Buffer.from([0xc1, 0x00])],
    ['a reserved opcode', Buffer.from([0x83, 0x00])],
    ['a fragmented ping', Buffer.from([0x09, 0x00])],
    ['a control frame over 125 bytes', Buffer.from([0x89, 126, 0, 126])],
    ['a continuation of nothing', Buffer.from([0x80, 0x00])],
    ['a one-byte close payload', Buffer.from([0x88, 0x01, 0x03])],
  ] as const) {
    it(`closes as protocol on ${name}`, () => {
      assert.equal(assertSplitInvariant('ws', Buffer.concat([upgrade(), Buffer.from(frame)]), ACCEPT).verdict, PROTOCOL);
    });
  }
});

describe('MQTT 3.1.1 client', () => {
  it('checks CONNACK, matches PINGRESP, counts PUBLISH and skips acks at every split', () => {
    const big = Buffer.concat([Buffer.from([0x00, 0x01, 0x74]), Buffer.alloc(200, 7)]);
    const bytes = Buffer.concat([
      Buffer.from([0x20, 0x02, 0x00, 0x00]),
      Buffer.from([0xd0, 0x00]),
      Buffer.from([0x30, 0x08, 0x00, 0x01, 0x74]), Buffer.from('hello'),
      Buffer.from([0x30, 0xcb, 0x01]), big,
      Buffer.from([0x90, 0x03, 0x00, 0x01, 0x00]),
      Buffer.from([0xd0, 0x00]),
    ]);
    const r = assertSplitInvariant('mqtt', bytes);
    assert.deepEqual(r.events, ['code mqtt_connack 0', 'answer 0 0', 'message 0', 'message 0', 'answer 0 0']);
    assert.equal(r.verdict, OPEN);
  });

  it('refuses a CONNACK with a nonzero return code and reports it', () => {
    const r = assertSplitInvariant('mqtt', Buffer.from([0x20, 0x02, 0x00, 0x05]));
    assert.deepEqual([r.events, r.verdict], [['code mqtt_connack 5'], REFUSED]);
  });

  for (const [name, bytes] of [
    ['a PINGRESP before CONNACK', [0xd0, 0x00]],
    ['an HTTP answer', [...Buffer.from('HTTP/1.1 400 Bad Request\r\n')]],
    ['a CONNACK of the wrong length', [0x20, 0x03, 0, 0, 0]],
    ['a second CONNACK', [0x20, 0x02, 0, 0, 0x20, 0x02, 0, 0]],
    ['a remaining length of five bytes', [0x20, 0x02, 0, 0, 0x30, 0xff, 0xff, 0xff, 0xff, 0x7f]],
    ['a CONNECT from the broker', [0x20, 0x02, 0, 0, 0x10, 0x00]],
    ['a PINGRESP with flags', [0x20, 0x02, 0, 0, 0xd1, 0x00]],
  ] as const) {
    it(`closes as protocol on ${name}`, () => {
      assert.equal(assertSplitInvariant('mqtt', Buffer.from(bytes)).verdict, PROTOCOL);
    });
  }
});
