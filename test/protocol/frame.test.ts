import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  encodeFrame, FRAME_HEADER_BYTES, FrameDecoder, readHeader, realtimeUs, writeHeader,
} from '../../src/protocol/frame.ts';

const hex = (bytes: Uint8Array): string => Buffer.from(bytes).toString('hex');

describe('frame encoding', () => {
  it('writes a ping as 16 big-endian header bytes', () => {
    const bytes = encodeFrame('ping', 0x01020304, 0x0005_0607_0809_0a0b);
    assert.equal(hex(bytes), '50000000' + '01020304' + '000506070809' + '0a0b');
  });

  it('puts the payload length after type and flags and the payload after the header', () => {
    const bytes = encodeFrame('echo', 7, 1, new Uint8Array([0xaa, 0xbb, 0xcc]));
    assert.equal(bytes.byteLength, FRAME_HEADER_BYTES + 3);
    assert.equal(hex(bytes.subarray(0, 4)), '45000003');
    assert.equal(hex(bytes.subarray(16)), 'aabbcc');
  });

  it('round-trips a CLOCK_REALTIME microsecond timestamp exactly', () => {
    const timeUs = realtimeUs();
    const header = readHeader(encodeFrame('pong', 42, timeUs), 0, 'client');
    assert.deepEqual(header, { type: 'pong', length: 0, seq: 42, timeUs });
  });

  it('writes a header at an offset inside a larger buffer', () => {
    const target = new Uint8Array(40);
    writeHeader(target, 20, { type: 'broadcast', length: 0, seq: 0xffffffff, timeUs: 0 });
    assert.equal(hex(target.subarray(20, 28)), '42000000ffffffff');
    assert.equal(target[19], 0);
  });

  it('refuses a payload longer than a u16 can say', () => {
    assert.throws(() => encodeFrame('echo', 1, 1, new Uint8Array(0x10000)), RangeError);
  });
});

describe('frame header validation', () => {
  const raw = (h: string): Uint8Array => new Uint8Array(Buffer.from(h, 'hex'));
  const zeros = '0000000000000000';

  it('decodes a ping from raw bytes on the server side', () => {
    assert.deepEqual(readHeader(raw('50000000' + '0000002a' + '00000000000003e8'), 0, 'server'), {
      type: 'ping', length: 0, seq: 42, timeUs: 1000,
    });
  });

  it('rejects an unknown type with CONNLAB_ERR_PROTOCOL', () => {
    assert.throws(() => readHeader(raw('58000000' + '00000001' + zeros), 0, 'server'), {
      code: 'CONNLAB_ERR_PROTOCOL',
    });
  });

  it('rejects nonzero flags', () => {
    assert.throws(() => readHeader(raw('50010000' + '00000001' + zeros), 0, 'server'), {
      code: 'CONNLAB_ERR_PROTOCOL',
    });
  });

  it('rejects a ping that carries a payload', () => {
    assert.throws(() => readHeader(raw('50000001' + '00000001' + zeros), 0, 'server'), {
      code: 'CONNLAB_ERR_PROTOCOL',
    });
  });

  it('rejects frames meant for the other side', () => {
    assert.throws(() => readHeader(encodeFrame('pong', 1, 1), 0, 'server'), { code: 'CONNLAB_ERR_PROTOCOL' });
    assert.throws(() => readHeader(encodeFrame('ping', 1, 1), 0, 'client'), { code: 'CONNLAB_ERR_PROTOCOL' });
    assert.throws(() => readHeader(encodeFrame('broadcast', 1, 1), 0, 'server'), { code: 'CONNLAB_ERR_PROTOCOL' });
  });
});

describe('FrameDecoder', () => {
  it('reassembles frames split at every byte boundary', () => {
    const stream = Buffer.concat([
      encodeFrame('echo', 1, 100, new Uint8Array([1, 2, 3, 4, 5])),
      encodeFrame('ping', 2, 200),
      encodeFrame('echo', 3, 300),
    ]);
    const decoder = new FrameDecoder('server');
    const frames = [...stream].flatMap((byte) => decoder.push(new Uint8Array([byte])));
    assert.deepEqual(
      frames.map((f) => [f.type, f.seq, f.timeUs, [...f.payload]]),
      [['echo', 1, 100, [1, 2, 3, 4, 5]], ['ping', 2, 200, []], ['echo', 3, 300, []]],
    );
  });

  it('returns several frames from one chunk in order', () => {
    const decoder = new FrameDecoder('client');
    const chunk = Buffer.concat([encodeFrame('pong', 9, 1), encodeFrame('broadcast', 10, 2, new Uint8Array([7]))]);
    assert.deepEqual(decoder.push(chunk).map((f) => [f.type, f.seq, f.payload.byteLength]), [
      ['pong', 9, 0],
      ['broadcast', 10, 1],
    ]);
  });

  it('holds a partial frame until the rest arrives', () => {
    const decoder = new FrameDecoder('client');
    const bytes = encodeFrame('broadcast', 5, 5, new Uint8Array([9, 9]));
    assert.deepEqual(decoder.push(bytes.subarray(0, 17)), []);
    assert.equal(decoder.push(bytes.subarray(17))[0]?.seq, 5);
  });

  it('throws CONNLAB_ERR_PROTOCOL on the first malformed header', () => {
    const decoder = new FrameDecoder('server');
    const bad = Buffer.concat([encodeFrame('ping', 1, 1), Buffer.from('GET / HTTP/1.1\r\n\r\n')]);
    assert.throws(() => decoder.push(bad), { code: 'CONNLAB_ERR_PROTOCOL' });
  });

  it('hands over the frames a chunk completed before the malformed header that ends it', () => {
    const decoder = new FrameDecoder('server');
    const bad = Buffer.concat([encodeFrame('ping', 1, 1), encodeFrame('echo', 2, 2, new Uint8Array([5])), Buffer.from('GET / HTTP/1.1\r\n\r\n')]);
    assert.throws(() => decoder.push(bad), (error: { code?: string; frames?: { type: string; seq: number }[] }) => {
      assert.equal(error.code, 'CONNLAB_ERR_PROTOCOL');
      assert.deepEqual(error.frames?.map((f) => [f.type, f.seq]), [['ping', 1], ['echo', 2]]);
      return true;
    });
  });
});
