// The supervisor's side of a C worker (native/worker/): spawns the program with an IPC
// channel in Node's 'json' serialization (one JSON text per line), and translates between
// the pool's typed messages (messages.ts) and the few the C program knows, so the pool and
// everything above it see the same WorkerReport as from a Node worker:
// - `start` goes without the plan: the tuple plan has one copy, in TypeScript. A client's
//   slice is expanded here, and sent as base64 of its Uint32Array in `tuples` chunks, the
//   first at once and each next one when the worker says `want`. Pacing (the window and
//   the rate) runs in the C worker, which alone knows its pending count without delay.
//   The holder settings (socket limits, samples) are resolved here, the protocol's
//   request travels in base64.
// - `report` and `closed` arrive as counters by name, errno counts by number, details
//   (protocol codes, bad bytes in hex) and latency as encoded HDR histograms, exactly as
//   a Node worker sends it (native/worker/hdr.c); they leave as HolderStats (holderStatsFrom
//   names errnos) and the same EncodedLatency, passed through: no sample is touched here.
// - `failed` may carry an errno number, which becomes its name in the message.

import { spawn, type ChildProcess } from 'node:child_process';
import { EventEmitter } from 'node:events';
import { isConnlabError } from '../errors.ts';
import { createTupleCursor, ipv6Table } from '../tuple/plan.ts';
import { PROTOCOL_CODES, type HolderStats, type ProtocolOptions, type TlsOptions } from './holder.ts';
import { LATENCY_KINDS } from './latency.ts';
import { holderSettings } from './holder-args.ts';
import { alpnWire, errnoName, holderStatsFrom } from './native-holder.ts';
import { isFromWorker, type EncodedLatency, type FromWorker, type ToWorker, type WorkerConfig } from './messages.ts';
import type { WorkerProcess } from './worker-process.ts';

/** Tuples per `tuples` message: 32 KiB of tuples, 43 KiB of base64 (C: TUPLES_PER_CHUNK). */
export const TUPLES_PER_CHUNK = 2048;

type TupleCursor = ReturnType<typeof createTupleCursor>;

/** The messages only the C worker and this adapter exchange. */
export type ToCWorker =
  | { type: 'start'; config: Record<string, unknown> }
  | { type: 'tuples'; data: string; last: boolean }
  | Exclude<ToWorker, { type: 'start' }>;

/**
 * The `start` the C worker understands: the config without the plan, with the holder's
 * settings resolved here as createHolder() resolves them for a Node worker (one copy of
 * the defaults, holder-args.ts; clients get the socket limits too), and a protocol's
 * request in base64 with its kind as PROTOCOL_CODES numbers it.
 */
export function cStartMessage(config: WorkerConfig): ToCWorker {
  if (config.role === 'server') {
    const { role, holder, listen, backlog, reportIntervalMs, tls } = config;
    const { maxSamples, sendBufferBytes, stallTimeoutMs } = holderSettings(config.limits);
    return { type: 'start', config: { role, holder, listen, backlog, reportIntervalMs, maxSamples, sendBufferBytes, stallTimeoutMs, tls: tls ?? null } };
  }
  const { role, holder, ratePerSec, maxPending, connectTimeoutMs, reportIntervalMs, churnPerSec = 0, protocol } = config;
  const { maxSamples, sendBufferBytes, stallTimeoutMs } = holderSettings({ connectTimeoutMs });
  const table = ipv6Table(config.plan);
  const addresses6 = table ? Buffer.from(table.buffer, table.byteOffset, table.byteLength).toString('base64') : null;
  return {
    type: 'start',
    config: { role, holder, ratePerSec, maxPending, connectTimeoutMs, reportIntervalMs, maxSamples, sendBufferBytes, stallTimeoutMs, churnPerSec, protocol: cProtocol(protocol), addresses6 },
  };
}

function cProtocol(p: ProtocolOptions | undefined): Record<string, unknown> | null {
  if (!p || (p.kind === 'connlab' && !p.tls)) return null;
  return {
    kind: PROTOCOL_CODES[p.kind], request: p.request ? Buffer.from(p.request.buffer, p.request.byteOffset, p.request.byteLength).toString('base64') : null,
    clientIdPrefix: p.clientIdPrefix ?? null, username: p.username ?? null, password: p.password ?? null,
    keepaliveSeconds: p.keepaliveSeconds ?? 0, tcpKeepaliveSeconds: p.tcpKeepaliveSeconds ?? 0, tls: cTls(p.tls),
  };
}

/** TlsOptions as the C worker reads them (start.c): the ALPN list in wire format, base64. */
function cTls(t: TlsOptions | undefined): Record<string, unknown> | null {
  if (!t) return null;
  return {
    sni: t.sni ?? null, alpn: t.alpn?.length ? Buffer.from(alpnWire(t.alpn)).toString('base64') : null, verify: t.verify,
    rootsPem: t.rootsPem ?? null, verifyName: t.verifyName ?? null, groups: t.groups ?? null,
  };
}

/** The next chunk of a slice; `last` once the slice is exhausted. */
export function tuplesMessage(cursor: TupleCursor, max = TUPLES_PER_CHUNK): ToCWorker {
  const tuples = cursor.next(max);
  const data = Buffer.from(tuples.buffer, tuples.byteOffset, tuples.byteLength).toString('base64');
  return { type: 'tuples', data, last: cursor.remaining() === 0 };
}

type Counts = Record<string, number>;

/** native/worker/report.c: details as the addon's details() has them, bad bytes in hex. */
interface CDetails {
  codes?: number[];
  bad?: string[];
  tls?: (string | number)[];
}

function statsOf(message: { counters?: Counts; errnos?: Counts; details?: CDetails }): HolderStats {
  const counters = message.counters ?? {};
  const errnos = Object.entries(message.errnos ?? {}).map(([errno, count]): [number, number] => [Number(errno), count]);
  return holderStatsFrom((name) => counters[name] ?? 0, errnos, { codes: message.details?.codes ?? [], badHex: message.details?.bad ?? [], tls: message.details?.tls ?? [] });
}

/** The kinds the worker encoded, as strings; anything else in `latency` is dropped. */
function latencyOf(latency: unknown): EncodedLatency {
  const out: EncodedLatency = {};
  if (typeof latency !== 'object' || latency === null) return out;
  for (const kind of LATENCY_KINDS) {
    const encoded = (latency as Record<string, unknown>)[kind];
    if (typeof encoded === 'string' && encoded.length > 0) out[kind] = encoded;
  }
  return out;
}

/** A message from the C worker as the pool knows it; undefined for `want` and the unknown. */
export function fromCWorker(raw: unknown): FromWorker | undefined {
  if (typeof raw !== 'object' || raw === null) return undefined;
  const m = raw as { type?: unknown; counters?: Counts; errnos?: Counts; details?: CDetails; latency?: unknown; memory?: unknown; rampDone?: unknown; errno?: unknown; message?: unknown; code?: unknown };
  if (m.type === 'report') {
    const memory = (m.memory ?? null) as Extract<FromWorker, { type: 'report' }>['memory'];
    return { type: 'report', stats: statsOf(m), latency: latencyOf(m.latency), memory, heapUsedBytes: 0, rampDone: m.rampDone === true };
  }
  if (m.type === 'closed') return { type: 'closed', stats: statsOf(m) };
  if (m.type === 'failed' && typeof m.errno === 'number') {
    return { type: 'failed', code: String(m.code), message: `${String(m.message)}: ${errnoName(m.errno)}` };
  }
  return isFromWorker(raw) && m.type !== 'report' ? raw : undefined;
}

/** One C worker process, looking to the pool like a forked Node worker. */
export class CWorkerProcess extends EventEmitter implements WorkerProcess {
  readonly #child: ChildProcess;
  #cursor: TupleCursor | undefined;

  constructor(path: string, parentPid: number) {
    super();
    // The worker exits at once if its parent is no longer parentPid (see main.c).
    this.#child = spawn(path, [String(parentPid)], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'], serialization: 'json' });
    for (const event of ['exit', 'error', 'disconnect', 'spawn', 'close'] as const) {
      this.#child.on(event, (...args: unknown[]) => this.emit(event, ...args));
    }
    this.#child.on('message', (raw: unknown) => this.#receive(raw));
  }

  get pid(): number | undefined {
    return this.#child.pid;
  }

  get connected(): boolean {
    return this.#child.connected;
  }

  get exitCode(): number | null {
    return this.#child.exitCode;
  }

  get signalCode(): NodeJS.Signals | null {
    return this.#child.signalCode;
  }

  kill(signal?: NodeJS.Signals | number): boolean {
    return this.#child.kill(signal);
  }

  send(message: ToWorker, _sendHandle?: undefined, _options?: undefined, callback?: (error: Error | null) => void): boolean {
    if (message.type !== 'start') return this.#send(message, callback);
    let start: ToCWorker;
    try {
      start = cStartMessage(message.config);
    } catch (error) {
      // As a Node worker whose createHolder() throws: `failed`, then it is gone.
      const code = isConnlabError(error) ? error.code : 'CONNLAB_ERR_WORKER';
      queueMicrotask(() => this.emit('message', { type: 'failed', code, message: String((error as Error).message) } satisfies FromWorker));
      this.#child.kill('SIGKILL');
      return false;
    }
    const sent = this.#send(start, callback);
    const config = message.config;
    if (config.role === 'client') {
      this.#cursor = createTupleCursor(config.plan, config.slice);
      this.#send(tuplesMessage(this.#cursor));
    }
    return sent;
  }

  #send(message: ToCWorker, callback: (error: Error | null) => void = () => {}): boolean {
    if (!this.#child.connected) {
      queueMicrotask(() => callback(new Error('the C worker channel is closed')));
      return false;
    }
    return this.#child.send(message, undefined, undefined, callback);
  }

  #receive(raw: unknown): void {
    if ((raw as { type?: unknown } | null)?.type === 'want') {
      if (this.#cursor && this.#cursor.remaining() > 0) this.#send(tuplesMessage(this.#cursor));
      return;
    }
    const message = fromCWorker(raw);
    if (message) this.emit('message', message);
  }
}
