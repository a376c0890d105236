// The limits and edges of the client protocol parsers (native/proto/), on raw bytes:
// HTTP lines up to 8 KiB, a 64 KiB header block and a 4 MiB body per response, each
// breach closed at its first byte over with its own verdict; WebSocket control frames up
// to 125 bytes, close codes and reasons checked per RFC 6455 7.4 (answered with 1002 or
// 1007, never echoed); the bad-bytes sample pointing at the frame or line that broke.
// Streams short enough are cut at every one and two points; long ones at every point
// near a limit (the only places a split could change the answer) and at random ones.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { PROTOCOL_CODES } from '../../src/engine/holder.ts';
import { loadTestBinding, type ProtoFeedResult } from '../helpers/native-test.ts';

const native = loadTestBinding();
const OPEN = -1;
const PROTOCOL = 0;
const SERVER_CLOSE = 1;
const HEADERS_TOO_LARGE = 3;
const BODY_TOO_LARGE = 4;
const LINE_MAX = 8192; // its LF included
const HEADERS_MAX = 65_536;
const BODY_MAX = 4 * 1024 * 1024;

type Kind = 'http' | 'ws';
const ACCEPT = 's3pPLMBiTxaQ9kYGzzhZRbK+xOo='; // RFC 6455 1.3's example

function feed(kind: Kind, chunks: Uint8Array[]): ProtoFeedResult {
  return native.protoFeedForTest(PROTOCOL_CODES[kind], chunks, kind === 'ws' ? ACCEPT : null);
}

const plain = (r: ProtoFeedResult): string => JSON.stringify([r.events, r.verdict, Buffer.from(r.out).toString('hex'), r.eofComplete]);

/** Whole, then cut once at each of `points` and twice at each pair of a few of them: all agree. */
function assertSplits(kind: Kind, bytes: Buffer, points: Iterable<number>): ProtoFeedResult {
  const whole = feed(kind, [bytes]);
  const expected = plain(whole);
  const list = [...new Set(points)].filter((i) => i >= 0 && i <= bytes.length).sort((a, b) => a - b);
  for (const i of list) {
    const got = plain(feed(kind, [bytes.subarray(0, i), bytes.subarray(i)]));
    if (got !== expected) assert.equal(got, expected, `one cut at ${i}`);
  }
  const few = list.filter((_, k) => k % Math.max(1, Math.floor(list.length / 40)) === 0);
  for (const i of few) {
    for (const j of few.filter((x) => x > i)) {
      const got = plain(feed(kind, [bytes.subarray(0, i), bytes.subarray(i, j), bytes.subarray(j)]));
      if (got !== expected) assert.equal(got, expected, `cuts at ${i} and ${j}`);
    }
  }
  return whole;
}

/** Every point of a short stream; near the given offsets and 200 random ones of a long one. */
function pointsOf(length: number, near: number[] = []): number[] {
  if (length <= 600) return Array.from({ length: length + 1 }, (_, i) => i);
  const out = [0, length];
  for (const at of near) for (let d = -40; d <= 40; d++) out.push(at + d);
  for (let k = 0; k < 200; k++) out.push(Math.floor(Math.random() * length));
  return out;
}

const crlf = (text: string): Buffer => Buffer.from(text.replaceAll('\n', '\r\n'));

/** The verdict is due exactly when byte `at` (1-based prefix length) has arrived: not before. */
function assertDueAt(kind: Kind, bytes: Buffer, at: number, verdict: number): void {
  assert.equal(feed(kind, [bytes.subarray(0, at - 1)]).verdict, OPEN, `open with ${at - 1} bytes`);
  assert.equal(feed(kind, [bytes.subarray(0, at)]).verdict, verdict, `closed at byte ${at}`);
}

describe('HTTP response limits', () => {
  it('reads a status line longer than 64 bytes, up to 8 KiB, at every split near its end', () => {
    const status = `HTTP/1.1 200 ${'Reason phrase '.repeat(580)}`.slice(0, LINE_MAX - 2);
    const bytes = crlf(`${status}\nContent-Length: 2\n\nok`);
    const r = assertSplits('http', bytes, pointsOf(bytes.length, [LINE_MAX]));
    assert.deepEqual([r.events, r.verdict], [['code http 200', 'answer 0 0'], OPEN]);
    const short = assertSplits('http', crlf(`HTTP/1.1 200 ${'x'.repeat(120)}\nContent-Length: 0\n\n`), pointsOf(160));
    assert.deepEqual(short.events, ['code http 200', 'answer 0 0']);
  });

  it('reads a header line of exactly 8 KiB with its LF, and closes one byte longer as http_headers_too_large', () => {
    const value = (n: number): string => 'v'.repeat(n);
    const head = 'HTTP/1.1 200 OK\r\n';
    const name = 'X-Big: ';
    const fits = Buffer.from(`${head}${name}${value(LINE_MAX - name.length - 2)}\r\nContent-Length: 0\r\n\r\n`);
    assert.deepEqual(assertSplits('http', fits, pointsOf(fits.length, [head.length + LINE_MAX])).events, ['code http 200', 'answer 0 0']);
    const over = Buffer.from(`${head}${name}${value(LINE_MAX - name.length - 1)}\r\nContent-Length: 0\r\n\r\n`);
    const r = assertSplits('http', over, pointsOf(over.length, [head.length + LINE_MAX]));
    assert.deepEqual([r.events, r.verdict], [[], HEADERS_TOO_LARGE]);
    assertDueAt('http', over, head.length + LINE_MAX, HEADERS_TOO_LARGE); // the line's 8,192nd byte is not its LF
  });

  it('closes a status line that never ends as http_headers_too_large after 8 KiB', () => {
    const bytes = Buffer.from(`HTTP/1.1 200 ${'a'.repeat(20_000)}`);
    assertDueAt('http', bytes, LINE_MAX, HEADERS_TOO_LARGE);
  });

  it('closes a header block past 64 KiB (interim responses included) as http_headers_too_large', () => {
    const line = `X-Filler: ${'f'.repeat(1000)}\r\n`;
    const endless = Buffer.from(`HTTP/1.1 200 OK\r\n${line.repeat(80)}`);
    const r = assertSplits('http', endless, pointsOf(endless.length, [HEADERS_MAX]));
    assert.deepEqual([r.events, r.verdict], [[], HEADERS_TOO_LARGE]);
    assertDueAt('http', endless, HEADERS_MAX + 1, HEADERS_TOO_LARGE);
    // exactly 64 KiB, blank line included, is read; one byte more is not
    const block = (extra: number): Buffer => {
      const start = 'HTTP/1.1 200 OK\r\nContent-Length: 0\r\n';
      let left = HEADERS_MAX - start.length - 2 + extra;
      const lines: string[] = [];
      for (; left > 8020; left -= 8000) lines.push(`X-Pad: ${'p'.repeat(8000 - 9)}\r\n`);
      lines.push(`X-Pad: ${'p'.repeat(left - 9)}\r\n`);
      return Buffer.from(`${start}${lines.join('')}\r\n`);
    };
    assert.equal(block(0).length, HEADERS_MAX);
    assert.deepEqual(feed('http', [block(0)]).events, ['code http 200', 'answer 0 0']);
    assert.equal(feed('http', [block(1)]).verdict, HEADERS_TOO_LARGE);
    const interim = Buffer.from('HTTP/1.1 100 Continue\r\n\r\n'.repeat(3000));
    assert.equal(assertSplits('http', interim, pointsOf(interim.length, [HEADERS_MAX])).verdict, HEADERS_TOO_LARGE);
  });

  it('closes an endless chunked body, chunk framing included, as http_body_too_large after 4 MiB', () => {
    const chunk = Buffer.concat([Buffer.from('ffff\r\n'), Buffer.alloc(0xffff, 0x61), Buffer.from('\r\n')]);
    const head = Buffer.from('HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n');
    const bytes = Buffer.concat([head, ...Array.from({ length: 70 }, () => chunk)]);
    const r = assertSplits('http', bytes, pointsOf(bytes.length, [head.length + BODY_MAX]));
    assert.deepEqual([r.events, r.verdict], [[], BODY_TOO_LARGE]);
    assertDueAt('http', bytes, head.length + BODY_MAX + 1, BODY_TOO_LARGE);
  });

  it('closes a body that runs to EOF past 4 MiB, and an announced Content-Length past 4 MiB at once', () => {
    const head = Buffer.from('HTTP/1.1 200 OK\r\n\r\n');
    const eof = Buffer.concat([head, Buffer.alloc(BODY_MAX + 10, 0x62)]);
    assertDueAt('http', eof, head.length + BODY_MAX + 1, BODY_TOO_LARGE);
    assert.equal(feed('http', [eof.subarray(0, head.length + BODY_MAX)]).eofComplete, 1);
    const announced = crlf(`HTTP/1.1 200 OK\nContent-Length: ${BODY_MAX + 1}\n\n`);
    assertDueAt('http', announced, announced.length, BODY_TOO_LARGE);
    const exact = Buffer.concat([crlf(`HTTP/1.1 200 OK\nContent-Length: ${BODY_MAX}\n\n`), Buffer.alloc(BODY_MAX)]);
    assert.deepEqual(feed('http', [exact]).events, ['code http 200', 'answer 0 0']);
    // 204 and 304 name a length they never send: no body, no limit
    assert.equal(feed('http', [crlf('HTTP/1.1 304 Not Modified\nContent-Length: 99999999999\n\n')]).verdict, OPEN);
  });

  it('reports the broken line, not the read, as the bad sample', () => {
    const r = assertSplits('http', crlf('HTTP/1.1 2x0 Broken\n\n'), pointsOf(22));
    assert.equal(r.verdict, PROTOCOL);
    assert.deepEqual(r.events, [`bad ${Buffer.from('HTTP/1.1 2x0 Bro').toString('hex')}`]);
  });
});

function serverFrame(opcode: number, payload: Buffer, fin = true): Buffer {
  const len = payload.length;
  const head = len < 126 ? Buffer.from([(fin ? 0x80 : 0) | opcode, len]) : Buffer.from([(fin ? 0x80 : 0) | opcode, 126, len >> 8, len & 255]);
  return Buffer.concat([head, payload]);
}

/** Client frames the parser answered with, unmasked: [opcode, payload hex]. */
function clientFrames(out: Uint8Array): [number, string][] {
  const frames: [number, string][] = [];
  for (let at = 0; at < out.length;) {
    const len = (out[at + 1] as number) & 0x7f;
    const mask = out.subarray(at + 2, at + 6);
    frames.push([(out[at] as number) & 0x0f, Buffer.from(Array.from(out.subarray(at + 6, at + 6 + len), (b, i) => b ^ (mask[i & 3] as number))).toString('hex')]);
    at += 6 + len;
  }
  return frames;
}

const upgrade = crlf(`HTTP/1.1 101 Switching Protocols\nUpgrade: websocket\nConnection: Upgrade\nSec-WebSocket-Accept: ${ACCEPT}\n\n`);
const closeFrame = (code: number, reason: Buffer = Buffer.alloc(0)): Buffer =>
  serverFrame(8, Buffer.concat([Buffer.from([code >> 8, code & 255]), reason]));

describe('WebSocket control frames and close codes (RFC 6455 5.5, 7.4)', () => {
  it('answers pings of every length up to 125 bytes with a pong of the same payload, at every split', () => {
    for (const len of [0, 32, 33, 64, 124, 125]) {
      const payload = Buffer.from(Array.from({ length: len }, (_, i) => (i * 7) & 255));
      const bytes = Buffer.concat([upgrade, serverFrame(9, payload), serverFrame(10, payload)]);
      const r = assertSplits('ws', bytes, pointsOf(bytes.length, [upgrade.length]));
      assert.equal(r.verdict, OPEN, `ping of ${len}`);
      assert.deepEqual(clientFrames(r.out), [[10, payload.toString('hex')]], `pong of ${len}`);
    }
  });

  it('echoes every valid close code with its UTF-8 reason, and ends as server_close', () => {
    for (const code of [1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 1012, 1013, 1014, 3000, 4000, 4999]) {
      const bytes = Buffer.concat([upgrade, closeFrame(code, Buffer.from('bye — ok ✓'))]);
      const r = assertSplits('ws', bytes, pointsOf(bytes.length));
      assert.deepEqual([r.events.at(-1), r.verdict], [`code ws_close ${code}`, SERVER_CLOSE], `code ${code}`);
      assert.deepEqual(clientFrames(r.out), [[8, Buffer.from([code >> 8, code & 255]).toString('hex')]]);
    }
  });

  it('answers an invalid close code with 1002, never echoing it, and ends as protocol', () => {
    for (const code of [0, 999, 1004, 1005, 1006, 1015, 1016, 2000, 2999, 5000, 65535]) {
      const bytes = Buffer.concat([upgrade, closeFrame(code)]);
      const r = assertSplits('ws', bytes, pointsOf(bytes.length));
      assert.equal(r.verdict, PROTOCOL, `code ${code}`);
      assert.deepEqual(clientFrames(r.out), [[8, '03ea']], `code ${code} answered with 1002`);
      assert.ok(!r.events.some((e) => e.startsWith('code ws_close')), `code ${code} is not counted as a close code`);
    }
  });

  it('answers a close reason that is not UTF-8 with 1007, and a one-byte close payload with 1002', () => {
    for (const bad of [[0xff], [0xc0, 0x80], [0xed, 0xa0, 0x80], [0xe2, 0x82], [0xf4, 0x90, 0x80, 0x80]]) {
      const r = assertSplits('ws', Buffer.concat([upgrade, closeFrame(1000, Buffer.from(bad))]), pointsOf(200));
      assert.deepEqual([r.verdict, clientFrames(r.out)], [PROTOCOL, [[8, '03ef']]], `reason ${Buffer.from(bad).toString('hex')}`);
    }
    const one = assertSplits('ws', Buffer.concat([upgrade, Buffer.from([0x88, 0x01, 0x03])]), pointsOf(200));
    assert.deepEqual([one.verdict, clientFrames(one.out)], [PROTOCOL, [[8, '03ea']]]);
  });

  it('samples the frame that broke the protocol, not the handshake read with it', () => {
    const masked = Buffer.from([0x81, 0x85, 1, 2, 3, 4, 5]);
    const r = assertSplits('ws', Buffer.concat([upgrade, masked]), pointsOf(200));
    assert.deepEqual([r.verdict, r.events], [PROTOCOL, ['code http 101', 'bad 8185']]);
    const close = assertSplits('ws', Buffer.concat([upgrade, closeFrame(999, Buffer.from('nope'))]), pointsOf(200));
    assert.deepEqual(close.events, ['code http 101', `bad ${Buffer.concat([Buffer.from([0x88, 6, 3, 0xe7]), Buffer.from('nope')]).toString('hex')}`]);
  });

  it('closes an upgrade answer with an endless header block as http_headers_too_large', () => {
    const bytes = Buffer.concat([crlf('HTTP/1.1 101 Switching Protocols\n'), Buffer.from(`X-Filler: ${'f'.repeat(1000)}\r\n`.repeat(80))]);
    assert.equal(feed('ws', [bytes]).verdict, HEADERS_TOO_LARGE);
  });
});
