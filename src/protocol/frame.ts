// The connlab wire format, shared by serve and load. Pure: no sockets, no clocks
// except realtimeUs().
//
// Every frame is a 16-byte header, big-endian, then `length` payload bytes:
//
//   offset 0  type    u8    'P' 0x50 PING, 'O' 0x4F PONG, 'E' 0x45 ECHO, 'B' 0x42 BROADCAST
//   offset 1  flags   u8    reserved, must be 0
//   offset 2  length  u16   payload bytes that follow the header
//   offset 4  seq     u32   ping sequence, echo id, or broadcast id
//   offset 8  timeUs  u64   CLOCK_REALTIME microseconds when the frame was first sent
//
//   PING       client -> server, length 0. The server answers PONG.
//   PONG       server -> client, length 0, the PING's seq and timeUs unchanged, so the
//              client measures round trip time against its own clock.
//   ECHO       client -> server, any length; the server returns the identical frame.
//   BROADCAST  server -> client, length 0 or a small payload; seq is the broadcast id,
//              timeUs the server's send time (delivery latency = arrival - timeUs).
//
// A server accepts only PING and ECHO, a client only PONG and BROADCAST. Anything else
// (another type, nonzero flags, PING or PONG with a payload) is a protocol error and
// the receiver closes the connection, counting it as closed "protocol".

import { ConnlabError } from '../errors.ts';

export const FRAME_HEADER_BYTES = 16;
export const MAX_PAYLOAD_BYTES = 0xffff;

export const FRAME_TYPES = { ping: 0x50, pong: 0x4f, echo: 0x45, broadcast: 0x42 } as const;
export type FrameType = keyof typeof FRAME_TYPES;

/** Which frames a receiver accepts: a server gets PING/ECHO, a client PONG/BROADCAST. */
export type FrameRole = 'server' | 'client';

export interface FrameHeader {
  type: FrameType;
  length: number;
  seq: number;
  timeUs: number;
}

export interface Frame extends FrameHeader {
  payload: Uint8Array;
}

const TYPE_BY_CODE = new Map<number, FrameType>(
  Object.entries(FRAME_TYPES).map(([name, code]) => [code, name as FrameType]),
);

const ACCEPTED: Record<FrameRole, ReadonlySet<FrameType>> = {
  server: new Set<FrameType>(['ping', 'echo']),
  client: new Set<FrameType>(['pong', 'broadcast']),
};

/** Microseconds since the Unix epoch, the clock frames carry. */
export function realtimeUs(): number {
  return Math.round((performance.timeOrigin + performance.now()) * 1000);
}

function protocolError(message: string): ConnlabError {
  return new ConnlabError('CONNLAB_ERR_PROTOCOL', message, {
    hint: 'the peer does not speak the connlab wire format; check host and port',
  });
}

/** Writes a header into `target` at `offset`. */
export function writeHeader(target: Uint8Array, offset: number, header: FrameHeader): void {
  if (!Number.isInteger(header.length) || header.length < 0 || header.length > MAX_PAYLOAD_BYTES) {
    throw new RangeError(`frame length ${header.length} is outside 0..${MAX_PAYLOAD_BYTES}`);
  }
  const view = new DataView(target.buffer, target.byteOffset + offset, FRAME_HEADER_BYTES);
  view.setUint8(0, FRAME_TYPES[header.type]);
  view.setUint8(1, 0);
  view.setUint16(2, header.length);
  view.setUint32(4, header.seq >>> 0);
  view.setBigUint64(8, BigInt(Math.max(0, Math.trunc(header.timeUs))));
}

/** One frame as bytes: header plus payload. */
export function encodeFrame(type: FrameType, seq: number, timeUs: number, payload?: Uint8Array): Uint8Array {
  const length = payload?.byteLength ?? 0;
  const bytes = new Uint8Array(FRAME_HEADER_BYTES + length);
  writeHeader(bytes, 0, { type, length, seq, timeUs });
  if (payload) bytes.set(payload, FRAME_HEADER_BYTES);
  return bytes;
}

/** Reads and validates the header at `offset` for a receiver in `role`. */
export function readHeader(bytes: Uint8Array, offset: number, role: FrameRole): FrameHeader {
  if (bytes.byteLength - offset < FRAME_HEADER_BYTES) throw new RangeError('fewer than 16 header bytes');
  const view = new DataView(bytes.buffer, bytes.byteOffset + offset, FRAME_HEADER_BYTES);
  const type = TYPE_BY_CODE.get(view.getUint8(0));
  const length = view.getUint16(2);
  if (type === undefined) throw protocolError(`unknown frame type 0x${view.getUint8(0).toString(16)}`);
  if (view.getUint8(1) !== 0) throw protocolError('frame flags must be 0');
  if (!ACCEPTED[role].has(type)) throw protocolError(`a ${role} does not accept ${type} frames`);
  if ((type === 'ping' || type === 'pong') && length !== 0) throw protocolError(`${type} with a payload`);
  return { type, length, seq: view.getUint32(4), timeUs: Number(view.getBigUint64(8)) };
}

/** What push() throws: CONNLAB_ERR_PROTOCOL, with the frames the chunk completed before it. */
export type FrameDecodeError = ConnlabError & { frames: Frame[] };

/**
 * Streaming decoder for one connection: feed chunks as they arrive, get whole frames.
 * Holds at most one partial header and one partial payload. Throws CONNLAB_ERR_PROTOCOL
 * on the first malformed frame, carrying in `frames` the ones the same chunk completed
 * before it (the holders answer those before they close); the caller closes the
 * connection.
 */
export class FrameDecoder {
  readonly #role: FrameRole;
  #header = new Uint8Array(FRAME_HEADER_BYTES);
  #headerBytes = 0;
  #current: FrameHeader | undefined;
  #payload: Uint8Array | undefined;
  #payloadBytes = 0;

  constructor(role: FrameRole) {
    this.#role = role;
  }

  push(chunk: Uint8Array): Frame[] {
    const frames: Frame[] = [];
    let offset = 0;
    while (offset < chunk.byteLength) {
      try {
        offset = this.#current ? this.#readPayload(chunk, offset) : this.#readHeader(chunk, offset);
      } catch (error) {
        throw Object.assign(error as ConnlabError, { frames });
      }
      const frame = this.#takeFrame();
      if (frame) frames.push(frame);
    }
    const last = this.#takeFrame();
    if (last) frames.push(last);
    return frames;
  }

  #readHeader(chunk: Uint8Array, offset: number): number {
    const take = Math.min(FRAME_HEADER_BYTES - this.#headerBytes, chunk.byteLength - offset);
    this.#header.set(chunk.subarray(offset, offset + take), this.#headerBytes);
    this.#headerBytes += take;
    if (this.#headerBytes === FRAME_HEADER_BYTES) {
      this.#headerBytes = 0;
      this.#current = readHeader(this.#header, 0, this.#role);
      this.#payload = new Uint8Array(this.#current.length);
      this.#payloadBytes = 0;
    }
    return offset + take;
  }

  #readPayload(chunk: Uint8Array, offset: number): number {
    const payload = this.#payload as Uint8Array;
    const take = Math.min(payload.byteLength - this.#payloadBytes, chunk.byteLength - offset);
    payload.set(chunk.subarray(offset, offset + take), this.#payloadBytes);
    this.#payloadBytes += take;
    return offset + take;
  }

  #takeFrame(): Frame | undefined {
    const header = this.#current;
    if (!header || this.#payloadBytes < header.length) return undefined;
    const frame: Frame = { ...header, payload: this.#payload as Uint8Array };
    this.#current = undefined;
    this.#payload = undefined;
    return frame;
  }
}
