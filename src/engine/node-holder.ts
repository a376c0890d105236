// The plain-Node connection holder: the Holder contract over `node:net` alone, for hosts
// where the native addon cannot be built, and the baseline benchmarks compare it with.
// Same counters, close reasons, errno names, samples and argument checks as
// native-holder.ts; what Node cannot reproduce is listed at the end of this comment.
// Protocols: connlab frames, and tcp (nothing sent; a round counts the client sockets
// open without error, as Node cannot read TCP_INFO). http, ws and mqtt are the native
// holder's only: asking for them here throws CONNLAB_ERR_PROTOCOL_UNSUPPORTED.
//
// Lean by construction:
// - Per-connection state lives in typed arrays indexed by a slot (node-conn-table.ts);
//   a socket carries only that slot under a symbol key. Every event handler is created
//   once per holder and shared by all its sockets (`this` is the socket), so holding a
//   connection costs Node's own Socket and handle and nothing else.
// - Client sockets read through `onread` into one 64 KiB buffer per holder, so reads
//   allocate no Buffer; accepted sockets cannot take `onread` (net.Server has no such
//   option) and use one shared 'data' handler.
// - One interval per holder expires pending connects, armed only while connectTimeoutMs
//   is set and connects are pending (unref'd: the sockets themselves keep the loop alive).
// - Writes are all-or-nothing like the native holder: a write the kernel does not take
//   whole at once leaves bytes in the socket's writable buffer (writableLength > 0),
//   and that connection is closed `slow`, so nothing is ever queued in JavaScript.
//
// Socket options, and why:
// - allowHalfOpen: true on both sides, then destroy() on 'end': the peer's FIN closes
//   the descriptor at once (counted `peer`) like the native close(fd), instead of
//   Node's default end() round trip through a shutdown write request.
// - pauseOnConnect: false: accepted sockets must read PINGs immediately; the shared
//   'data' handler is attached in the same tick as 'connection', before any read.
// - noDelay: true on both sides, so a 16-byte PING or PONG is not held back by Nagle.
// - listen: reusePort (SO_REUSEPORT, Node >= 22.12) like the native listener, and
//   exclusive: true so that under `cluster` each worker still binds its own socket and
//   the kernel spreads connections, rather than the primary accepting for everyone.
// - connect with a planned source: libuv's bind sets SO_REUSEADDR itself, so one
//   (srcIp, srcPort) carries connections to several destinations exactly as natively,
//   and a repeated four-tuple fails with EADDRNOTAVAIL at connect (counted, not thrown).
//
// Differences from the native holder that Node cannot avoid:
// - srcIp set with srcPort 0: Node binds (ip, 0) at bind time, as it cannot set
//   IP_BIND_ADDRESS_NO_PORT, so the ephemeral ports of one source address are shared by
//   all destinations (~28k per source address) instead of being a pool per destination.
// - Connects that fail synchronously natively (EADDRNOTAVAIL, EADDRINUSE, EMFILE from
//   socket/bind/connect) are reported by Node on the next tick: they are counted in
//   `pending` for that moment, then in `errors` under the same name.
// - accept() running out of descriptors: libuv closes a reserved descriptor, accepts and
//   closes the waiting connections, and reports nothing to JavaScript. So errors.EMFILE
//   and acceptBackoffs stay 0 and the peers see a reset or EOF instead of waiting in the
//   backlog; the server neither crashes nor spins. If libuv ever does report an accept
//   error, the server's 'error' is counted here (EMFILE-class codes also as a back-off).
// - The timeout tick, the connect pump and every callback share the JavaScript thread:
//   a blocked event loop delays timeouts and replies, which the native thread does not.
// - Open sockets keep the process alive until closeAll() or destroy().
// - No cap on kernel memory per connection (SocketLimits): Node has no setsockopt for TCP
//   sockets, so sendBufferBytes and stallTimeoutMs are checked like the native holder's
//   and then have no effect. Each send buffer autotunes up to net.ipv4.tcp_wmem's
//   maximum (4 MiB here), and only once that is full does a write stay in writableLength
//   and close the connection `slow`: a peer that never reads can pin up to that much.
//   And a peer that takes none of what is queued (no ACKs, or a zero window whose probes
//   it ACKs) is held until the kernel's own retries end (net.ipv4.tcp_retries2, ~15 min
//   without ACKs; never while probes are ACKed). There is no stall for the tick to time:
//   nothing is ever queued in JavaScript, and what the kernel holds is invisible to it.
//   Host-wide, the sysctls net.ipv4.tcp_notsent_lowat and tcp_wmem bound every socket.
//
// One file past the usual size on purpose: every path below updates the same private
// counters, and moving the frame parser out would put an interface call on the
// per-frame path. Per-connection state, samples and argument checks have their own
// modules (node-conn-table.ts, sample-buffer.ts, holder-args.ts).

import net from 'node:net';
import type { Server, TcpNetConnectOpts } from 'node:net';
import { once } from 'node:events';
import { invalidArgument } from '../errors.ts';
import { FRAME_TYPES, realtimeUs, writeHeader } from '../protocol/frame.ts';
import { formatIpv4, parseIpv4 } from '../tuple/address.ts';
import { formatIpv6 } from '../tuple/ipv6.ts';
import { TUPLE_IPV6 } from '../tuple/plan.ts';
import type { CloseReason, Holder, HolderOptions, HolderSamples, HolderStats } from './holder.ts';
import {
  checkInteger, checkPayload, checkTuples, DEFAULT_BACKLOG, holderDestroyed, holderSettings,
  listenFailed, MAX_U32,
} from './holder-args.ts';
import {
  CLIENT, CONNECTING, ConnTable, FRAME_HEADER_BYTES, FREE, MODE_ECHO, MODE_HEADER, MODE_SKIP,
  SERVER, SLOT, type SlotSocket,
} from './node-conn-table.ts';
import { SampleBuffer } from './sample-buffer.ts';
import { emptyClosed } from './aggregate.ts';
import { ConnlabError } from '../errors.ts';

const SCRATCH_BYTES = 65_536;
const CONNECT_BATCH = 256; // connects issued per event-loop turn, so I/O runs between batches
const BACKOFF_CODES: ReadonlySet<string> = new Set(['EMFILE', 'ENFILE', 'ENOBUFS', 'ENOMEM']);
const { ping: PING, pong: PONG, echo: ECHO, broadcast: BROADCAST } = FRAME_TYPES;

const monotonicUs = (): number => performance.now() * 1000;

function errorName(error: unknown): string {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === 'string' && code !== '' ? code : 'UNKNOWN';
}

function closeServer(server: Server): Promise<void> {
  return new Promise((resolve) => server.close(() => resolve()));
}

/** The IPv6 table (holder.ts HolderOptions.addresses6) as a base and address texts. */
function readAddresses6(table: Uint8Array): { base: bigint; destinations: string[] } {
  const at = (k: number): bigint => [...table.subarray(16 * k, 16 * k + 16)].reduce((v, b) => (v << 8n) | BigInt(b), 0n);
  const destinations: string[] = [];
  for (let k = 1; k < table.length / 16; k++) destinations.push(formatIpv6(at(k)));
  return { base: at(0), destinations };
}

class NodeHolder implements Holder {
  readonly kind = 'node';
  readonly #timeoutUs: number;
  readonly #tickMs: number;
  readonly #table = new ConnTable();
  readonly #servers = new Set<Server>();
  #final: HolderStats | undefined;
  /** Bumped by closeAll() and destroy(): a listen() in flight across one is closed. */
  #generation = 0;

  #established = 0;
  #peakEstablished = 0;
  #pending = 0;
  #closedPending = 0;
  #queued = 0;
  #accepted = 0;
  #connected = 0;
  readonly #closed: Record<CloseReason, number> = emptyClosed();
  /** tcp: send nothing; a ping round counts open client sockets (no TCP_INFO in Node). */
  readonly #tcp: boolean;
  readonly #errors = new Map<string, number>();
  #acceptBackoffs = 0;
  #pingsSent = 0;
  #pongsReceived = 0;
  #verified = 0;
  #broadcastsSent = 0;
  #broadcastsReceived = 0;
  #bytesIn = 0;
  #bytesOut = 0;
  #samplesDropped = 0;
  #listeners = 0;

  #pingSeq = 0;
  #pingGen = 0;
  /** IPv6 tuples: the source base and the destinations by index (HolderOptions.addresses6). */
  readonly #addresses6: { base: bigint; destinations: string[] } | undefined;
  /** Where the next churn() looks first, so recycling spreads over the table. */
  #churnCursor = 0;
  readonly #connectUs: SampleBuffer;
  readonly #rttUs: SampleBuffer;
  readonly #broadcastUs: SampleBuffer;

  /**
   * Answers built while parsing one read. An answer is at most the read's length plus
   * FRAME_HEADER_BYTES - 1: only the first header a read completes can have begun in an
   * earlier read; everything after is answered byte for byte (native/holder.h says the
   * same of OUT_BYTES, and test/protocol/split-property.test.ts checks it).
   */
  #out = Buffer.allocUnsafeSlow(answerBytesFor(SCRATCH_BYTES));
  #outLength = 0;
  readonly #pingFrame = Buffer.alloc(FRAME_HEADER_BYTES);

  /** Tuples handed to connect() and not issued yet; #queueAt indexes the head array. */
  #queue: Uint32Array[] = [];
  #queueAt = 0;
  #pump: NodeJS.Immediate | undefined;
  #tick: NodeJS.Timeout | undefined;

  // Handlers shared by every socket of this holder (`this` is the socket).
  readonly #onConnection: (socket: net.Socket) => void;
  readonly #onData: (this: SlotSocket, chunk: Buffer) => void;
  readonly #onRead: { buffer: Uint8Array; callback: (this: SlotSocket, bytes: number, buffer: Uint8Array) => boolean };
  readonly #onConnect: (this: SlotSocket) => void;
  readonly #onEnd: (this: SlotSocket) => void;
  readonly #onError: (this: SlotSocket, error: Error) => void;
  readonly #onServerError: (error: Error) => void;
  readonly #onPump: () => void;
  readonly #onTick: () => void;

  constructor(options: HolderOptions) {
    const { connectTimeoutMs, maxSamples } = holderSettings(options);
    this.#addresses6 = options.addresses6 ? readAddresses6(options.addresses6) : undefined;
    const protocol = options.protocol?.kind ?? 'connlab';
    if (protocol !== 'connlab' && protocol !== 'tcp') {
      throw new ConnlabError('CONNLAB_ERR_PROTOCOL_UNSUPPORTED', `the plain-Node holder speaks connlab and tcp, not ${protocol}`, {
        hint: 'build the native holder (npm run build:native) or pass --holder native',
      });
    }
    if (options.protocol?.tls || options.serverTls) {
      throw new ConnlabError('CONNLAB_ERR_PROTOCOL_UNSUPPORTED', 'the plain-Node holder does not speak TLS', {
        hint: 'TLS runs in the native holder (native/tls.c): build it (npm run build:native) or pass --holder native',
      });
    }
    this.#tcp = protocol === 'tcp';
    this.#timeoutUs = connectTimeoutMs * 1000;
    this.#tickMs = Math.min(100, Math.max(5, connectTimeoutMs / 10));
    this.#connectUs = new SampleBuffer(maxSamples);
    this.#rttUs = new SampleBuffer(maxSamples);
    this.#broadcastUs = new SampleBuffer(maxSamples);
    const holder = this;
    this.#onConnection = (socket) => holder.#accept(socket as SlotSocket);
    this.#onData = function (chunk) { holder.#read(this, chunk, chunk.byteLength); };
    this.#onRead = {
      buffer: Buffer.allocUnsafeSlow(SCRATCH_BYTES),
      callback(bytes, buffer) { holder.#read(this, buffer, bytes); return true; },
    };
    this.#onConnect = function () { holder.#connectDone(this); };
    this.#onEnd = function () { holder.#closeSocket(this, 'peer'); };
    this.#onError = function (error) { holder.#failed(this, error); };
    this.#onServerError = (error) => holder.#acceptFailed(error);
    this.#onPump = () => holder.#issueBatch();
    this.#onTick = () => holder.#expire();
  }

  #live(): void {
    if (this.#final) throw holderDestroyed();
  }

  async listen(host: string, port: number, backlog = DEFAULT_BACKLOG): Promise<void> {
    if (net.isIP(host) === 0) throw invalidArgument('host', host, 'an IPv4 or IPv6 address');
    checkInteger('port', port, 1, 0xffff);
    checkInteger('backlog', backlog, 1, 0x7fff_ffff);
    this.#live();
    const generation = this.#generation;
    const server = net.createServer({ allowHalfOpen: true, pauseOnConnect: false, noDelay: true }, this.#onConnection);
    server.listen({ host, port, backlog, reusePort: true, exclusive: true });
    try {
      await once(server, 'listening');
    } catch (cause) {
      throw listenFailed(host, port, cause);
    }
    if (generation !== this.#generation) {
      server.close(); // closeAll() or destroy() ran meanwhile; the native listen is synchronous
      this.#live();
      return;
    }
    server.on('error', this.#onServerError);
    this.#servers.add(server);
    this.#listeners++;
  }

  connect(tuples: Uint32Array): void {
    checkTuples(tuples);
    this.#live();
    if (tuples.length === 0) return;
    this.#queue.push(tuples.slice());
    this.#queued += tuples.length / 4;
    this.#pump ??= setImmediate(this.#onPump);
  }

  /** Returns once every ping is written and `verified` counts only this round. */
  pingAll(seq: number): void {
    checkInteger('seq', seq, 0, MAX_U32);
    this.#live();
    this.#pingSeq = seq;
    this.#pingGen = this.#pingGen === MAX_U32 ? 1 : this.#pingGen + 1;
    this.#verified = 0;
    if (this.#tcp) {
      this.#verifyOpen();
      return;
    }
    const frame = this.#pingFrame;
    frame.writeUInt32BE(PING << 24, 0); // type, flags 0, length 0
    frame.writeUInt32BE(seq, 4);
    const table = this.#table;
    let sent = 0;
    for (let slot = 0; slot < table.end; slot++) {
      if (table.state[slot] !== CLIENT) continue;
      const timeUs = realtimeUs();
      frame.writeUInt32BE(Math.floor(timeUs / 2 ** 32), 8);
      frame.writeUInt32BE(timeUs % 2 ** 32, 12);
      if (this.#send(slot, frame)) sent++;
    }
    this.#pingsSent += sent;
  }

  churn(count: number): number {
    checkInteger('count', count, 0, MAX_U32);
    this.#live();
    const table = this.#table;
    let recycled = 0;
    for (let scanned = 0; scanned < table.end && recycled < count; scanned++) {
      const slot = this.#churnCursor;
      this.#churnCursor = slot + 1 >= table.end ? 0 : slot + 1;
      const socket = table.sockets[slot];
      if (table.state[slot] !== CLIENT || !socket) continue;
      const srcIp = parseIpv4(socket.localAddress ?? '');
      const dstIp = parseIpv4(socket.remoteAddress ?? '');
      if (srcIp === undefined || dstIp === undefined) continue;
      const remotePort = socket.remotePort ?? 0;
      this.#close(slot, 'churn', true);
      // Same source address, but a port the kernel chooses: libuv resets some sockets
      // with a FIN instead (seen: 60 of 300 left in TIME_WAIT), and a bind to such a
      // port fails with EADDRINUSE. The native holder reuses the whole four-tuple.
      this.#issue(srcIp, 0, dstIp, remotePort);
      recycled++;
    }
    return recycled;
  }

  /** tcp: every client socket still open and error-free answers the round. */
  #verifyOpen(): void {
    const table = this.#table;
    for (let slot = 0; slot < table.end; slot++) {
      if (table.state[slot] !== CLIENT) continue;
      table.pingGen[slot] = this.#pingGen;
      this.#verified++;
    }
  }

  broadcast(seq: number, payload?: Uint8Array): number {
    checkInteger('seq', seq, 0, MAX_U32);
    checkPayload(payload);
    this.#live();
    const length = payload?.byteLength ?? 0;
    const frame = Buffer.allocUnsafe(FRAME_HEADER_BYTES + length);
    writeHeader(frame, 0, { type: 'broadcast', length, seq, timeUs: realtimeUs() });
    if (payload) frame.set(payload, FRAME_HEADER_BYTES);
    const table = this.#table;
    let sent = 0;
    for (let slot = 0; slot < table.end; slot++) {
      if (table.state[slot] === SERVER && this.#send(slot, frame)) sent++;
    }
    this.#broadcastsSent += sent;
    return sent;
  }

  stats(): HolderStats {
    if (this.#final) return structuredClone(this.#final);
    return {
      established: this.#established, peakEstablished: this.#peakEstablished,
      pending: this.#pending, queued: this.#queued,
      accepted: this.#accepted, connected: this.#connected,
      closed: { ...this.#closed }, errors: Object.fromEntries(this.#errors),
      acceptBackoffs: this.#acceptBackoffs,
      pingsSent: this.#pingsSent, pongsReceived: this.#pongsReceived, verified: this.#verified,
      broadcastsSent: this.#broadcastsSent, broadcastsReceived: this.#broadcastsReceived,
      bytesIn: this.#bytesIn, bytesOut: this.#bytesOut,
      samplesDropped: this.#samplesDropped, listeners: this.#listeners,
      closedEarly: 0, closedPending: this.#closedPending, silent: 0, codes: { http_status: {}, ws_close: {}, mqtt_connack: {} }, protocolBytes: [], tls: { handshakes: 0, errors: {} },
    };
  }

  drainSamples(): HolderSamples {
    this.#live();
    return { connectUs: this.#connectUs.drain(), rttUs: this.#rttUs.drain(), broadcastUs: this.#broadcastUs.drain() };
  }

  async closeAll(): Promise<void> {
    this.#live();
    this.#stopWork();
    const table = this.#table;
    for (let slot = 0; slot < table.end; slot++) {
      if (table.state[slot] !== FREE) this.#close(slot, 'local');
    }
    table.clear();
    const closing = [...this.#servers].map(closeServer);
    this.#servers.clear();
    this.#listeners = 0;
    await Promise.all(closing);
  }

  destroy(): void {
    if (this.#final) return;
    this.#final = this.stats();
    this.#stopWork();
    for (const socket of this.#table.sockets) socket?.destroy();
    this.#table.clear();
    for (const server of this.#servers) server.close();
    this.#servers.clear();
  }

  /** Forgets queued connects and stops the pump and the tick. */
  #stopWork(): void {
    this.#generation++;
    this.#queue = [];
    this.#queueAt = 0;
    this.#queued = 0;
    if (this.#pump) clearImmediate(this.#pump);
    this.#pump = undefined;
    this.#stopTick();
  }

  // ---- accept and connect ----

  #accept(socket: SlotSocket): void {
    this.#table.add(socket, SERVER);
    this.#accepted++;
    this.#addEstablished();
    socket.on('data', this.#onData);
    socket.on('end', this.#onEnd);
    socket.on('error', this.#onError);
  }

  #acceptFailed(error: Error): void {
    const name = errorName(error);
    this.#countError(name);
    if (BACKOFF_CODES.has(name)) this.#acceptBackoffs++;
  }

  #issueBatch(): void {
    this.#pump = undefined;
    for (let i = 0; i < CONNECT_BATCH && this.#queue.length > 0; i++) {
      const tuples = this.#queue[0] as Uint32Array;
      const at = this.#queueAt;
      this.#queued--;
      this.#queueAt += 4;
      if (this.#queueAt === tuples.length) {
        this.#queue.shift();
        this.#queueAt = 0;
      }
      this.#issue(tuples[at] as number, tuples[at + 1] as number, tuples[at + 2] as number, tuples[at + 3] as number);
    }
    if (this.#queue.length > 0) this.#pump = setImmediate(this.#onPump);
  }

  #issue(srcIp: number, srcPort: number, dstIp: number, dstPort: number): void {
    const v6 = (dstPort & TUPLE_IPV6) !== 0 ? this.#addresses6 : undefined;
    if ((dstPort & TUPLE_IPV6) !== 0 && (!v6 || v6.destinations[dstIp] === undefined)) {
      this.#countError('EINVAL');
      return;
    }
    const options: TcpNetConnectOpts = {
      host: v6 ? (v6.destinations[dstIp] as string) : formatIpv4(dstIp), port: dstPort & 0xffff, noDelay: true, allowHalfOpen: true, onread: this.#onRead,
    };
    if (srcIp !== 0 || srcPort !== 0) options.localAddress = v6 ? (srcIp === 0 ? '::' : formatIpv6(v6.base + BigInt(srcIp))) : formatIpv4(srcIp);
    if (srcPort !== 0) options.localPort = srcPort;
    let socket: SlotSocket;
    try {
      socket = net.connect(options) as SlotSocket;
    } catch (error) {
      this.#countError(errorName(error));
      return;
    }
    const slot = this.#table.add(socket, CONNECTING);
    this.#table.startUs[slot] = monotonicUs();
    this.#pending++;
    socket.on('connect', this.#onConnect);
    socket.on('end', this.#onEnd);
    socket.on('error', this.#onError);
    if (this.#timeoutUs > 0 && !this.#tick) this.#tick = setInterval(this.#onTick, this.#tickMs).unref();
  }

  #connectDone(socket: SlotSocket): void {
    const slot = socket[SLOT];
    if (slot < 0 || this.#table.state[slot] !== CONNECTING) return;
    this.#table.state[slot] = CLIENT;
    this.#pending--;
    this.#connected++;
    this.#sample(this.#connectUs, monotonicUs() - (this.#table.startUs[slot] as number));
    this.#addEstablished();
  }

  /** A socket error: a failed connect is counted by errno, an established connection closes `reset`. */
  #failed(socket: SlotSocket, error: Error): void {
    const slot = socket[SLOT];
    if (slot < 0) return;
    if (this.#table.state[slot] !== CONNECTING) {
      this.#close(slot, 'reset');
      return;
    }
    this.#countError(errorName(error));
    this.#pending--;
    this.#table.remove(slot);
    socket.destroy();
  }

  #expire(): void {
    const table = this.#table;
    const now = monotonicUs();
    for (let slot = 0; slot < table.end && this.#pending > 0; slot++) {
      if (table.state[slot] === CONNECTING && now - (table.startUs[slot] as number) >= this.#timeoutUs) {
        this.#countError('ETIMEDOUT');
        this.#close(slot, 'timeout');
      }
    }
    if (this.#pending === 0) this.#stopTick();
  }

  #stopTick(): void {
    if (this.#tick) clearInterval(this.#tick);
    this.#tick = undefined;
  }

  // ---- bookkeeping ----

  #addEstablished(): void {
    if (++this.#established > this.#peakEstablished) this.#peakEstablished = this.#established;
  }

  #countError(name: string): void {
    this.#errors.set(name, (this.#errors.get(name) ?? 0) + 1);
  }

  #sample(buffer: SampleBuffer, us: number): void {
    if (!buffer.push(Math.round(us))) this.#samplesDropped++;
  }

  #closeSocket(socket: SlotSocket, reason: CloseReason): void {
    if (socket[SLOT] >= 0) this.#close(socket[SLOT], reason);
  }

  /**
   * Closes a pending or established connection, counted under `reason`; `reset` sends
   * an RST instead of a FIN, so no TIME_WAIT keeps the four-tuple (churn reuses it).
   */
  #close(slot: number, reason: CloseReason, reset = false): void {
    const table = this.#table;
    const state = table.state[slot];
    if (state === CONNECTING) {
      this.#pending--;
      this.#closedPending++;
    } else if (state === CLIENT || state === SERVER) {
      this.#established--;
      if (state === CLIENT && this.#pingGen !== 0 && table.pingGen[slot] === this.#pingGen) this.#verified--;
    } else {
      return;
    }
    this.#closed[reason]++;
    const socket = table.remove(slot);
    if (reset) socket?.resetAndDestroy();
    else socket?.destroy();
  }

  /** Writes all of `bytes` now or closes the connection (`slow`, or `reset` on an error). */
  #send(slot: number, bytes: Buffer): boolean {
    const socket = this.#table.sockets[slot] as SlotSocket;
    if (!socket.destroyed) socket.write(bytes);
    if (!socket.destroyed && socket.writableLength === 0) {
      this.#bytesOut += bytes.byteLength;
      return true;
    }
    this.#close(slot, socket.destroyed ? 'reset' : 'slow');
    return false;
  }

  // ---- frames ----

  #read(socket: SlotSocket, bytes: Uint8Array, length: number): void {
    const slot = socket[SLOT];
    if (slot < 0) return;
    this.#bytesIn += length;
    if (answerBytesFor(length) > this.#out.length) this.#out = Buffer.allocUnsafeSlow(answerBytesFor(length));
    this.#outLength = 0;
    const reason = this.#parse(slot, bytes, length);
    if (this.#outLength > 0 && !this.#send(slot, this.#out.subarray(0, this.#outLength))) return;
    if (reason !== undefined) this.#close(slot, reason);
  }

  /** Feeds bytes[0, length) through the slot's frame state; returns `protocol` on a bad frame. */
  #parse(slot: number, bytes: Uint8Array, length: number): CloseReason | undefined {
    const table = this.#table;
    const server = table.state[slot] === SERVER;
    const base = slot * FRAME_HEADER_BYTES;
    let at = 0;
    while (at < length) {
      if (table.mode[slot] !== MODE_HEADER) {
        at = this.#payload(slot, bytes, at, length);
        continue;
      }
      let have = table.headerBytes[slot] as number;
      while (have < FRAME_HEADER_BYTES && at < length) table.header[base + have++] = bytes[at++] as number;
      table.headerBytes[slot] = have === FRAME_HEADER_BYTES ? 0 : have;
      if (have < FRAME_HEADER_BYTES) break;
      const reason = server ? this.#serverFrame(slot, base) : this.#clientFrame(slot, base);
      if (reason !== undefined) return reason;
    }
    return undefined;
  }

  /** Echoes or skips payload bytes of the current frame; returns the new read offset. */
  #payload(slot: number, bytes: Uint8Array, at: number, length: number): number {
    const table = this.#table;
    const left = table.remaining[slot] as number;
    const take = Math.min(left, length - at);
    if (table.mode[slot] === MODE_ECHO) {
      this.#out.set(bytes.subarray(at, at + take), this.#outLength);
      this.#outLength += take;
    }
    table.remaining[slot] = left - take;
    if (left === take) table.mode[slot] = MODE_HEADER;
    return at + take;
  }

  /** A whole header on an accepted connection: PING gets a PONG, ECHO is returned as is. */
  #serverFrame(slot: number, base: number): CloseReason | undefined {
    const header = this.#table.header;
    const type = header[base] as number;
    const length = ((header[base + 2] as number) << 8) | (header[base + 3] as number);
    if (header[base + 1] !== 0 || !((type === PING && length === 0) || type === ECHO)) return 'protocol';
    const out = this.#out;
    const at = this.#outLength;
    for (let i = 0; i < FRAME_HEADER_BYTES; i++) out[at + i] = header[base + i] as number;
    if (type === PING) out[at] = PONG;
    this.#outLength += FRAME_HEADER_BYTES;
    if (length > 0) {
      this.#table.remaining[slot] = length;
      this.#table.mode[slot] = MODE_ECHO;
    }
    return undefined;
  }

  /** A whole header on a connection this holder opened: PONG or BROADCAST. */
  #clientFrame(slot: number, base: number): CloseReason | undefined {
    const table = this.#table;
    const header = table.header;
    const type = header[base] as number;
    const length = ((header[base + 2] as number) << 8) | (header[base + 3] as number);
    if (header[base + 1] !== 0) return 'protocol';
    const elapsedUs = Math.max(0, realtimeUs() - readU64(header, base + 8));
    if (type === PONG && length === 0) {
      this.#pongsReceived++;
      this.#sample(this.#rttUs, elapsedUs);
      if (this.#pingGen !== 0 && readU32(header, base + 4) === this.#pingSeq && table.pingGen[slot] !== this.#pingGen) {
        table.pingGen[slot] = this.#pingGen;
        this.#verified++;
      }
      return undefined;
    }
    if (type !== BROADCAST) return 'protocol';
    this.#broadcastsReceived++;
    this.#sample(this.#broadcastUs, elapsedUs);
    if (length > 0) {
      table.remaining[slot] = length;
      table.mode[slot] = MODE_SKIP;
    }
    return undefined;
  }
}

/** The longest answer a read of `length` bytes can produce (see #out). */
export function answerBytesFor(length: number): number {
  return length + FRAME_HEADER_BYTES - 1;
}

function readU32(bytes: Uint8Array, at: number): number {
  return (
    (bytes[at] as number) * 2 ** 24 + (((bytes[at + 1] as number) << 16) | ((bytes[at + 2] as number) << 8) | (bytes[at + 3] as number))
  );
}

function readU64(bytes: Uint8Array, at: number): number {
  return readU32(bytes, at) * 2 ** 32 + readU32(bytes, at + 4);
}

/** A holder on `node:net` only: the fallback where the native addon is unavailable. */
export function createNodeHolder(options: HolderOptions = {}): Holder {
  return new NodeHolder(options);
}
