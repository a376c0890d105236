// The messages between a supervisor and its worker processes: a discriminated union on
// `type`, checked where it arrives (a malformed message is a bug and is rejected, not
// guessed at). Counters travel as cumulative snapshots, so a late message never loses a
// count; latency travels as deltas: histograms encoded by the worker, added by the parent
// (see WorkerReport), so no sample crosses a process boundary on its own.

import type { ProcessMemory } from '../probe/process-memory.ts';
import type { PlanInput, Slice } from '../tuple/plan.ts';
import type { HolderSamples, HolderStats, ProtocolOptions, ServerTlsOptions, SocketLimits } from './holder.ts';

export type HolderKind = 'native' | 'node';

export interface ListenAddress {
  host: string;
  port: number;
}

export interface ServerWorkerConfig {
  role: 'server';
  holder: HolderKind;
  listen: ListenAddress[];
  backlog: number;
  /** Per accepted socket; absent values take the holder's defaults. */
  limits: SocketLimits;
  reportIntervalMs: number;
  /** TLS on every accepted connection (serve --tls-cert); absent: plain TCP. */
  tls?: ServerTlsOptions;
}

export interface ClientWorkerConfig {
  role: 'client';
  holder: HolderKind;
  plan: PlanInput;
  slice: Slice;
  /** Connects per second for this worker; null: as fast as the window allows. */
  ratePerSec: number | null;
  /** Connects in flight at most: the ramp's window, so a slow server sees a bounded burst. */
  maxPending: number;
  connectTimeoutMs: number;
  reportIntervalMs: number;
  /** After the ramp, connections per second to reset and reconnect (a soak); 0: none. */
  churnPerSec?: number;
  /** What each connection speaks; absent: connlab frames (older supervisors). */
  protocol?: ProtocolOptions;
}

export type WorkerConfig = ServerWorkerConfig | ClientWorkerConfig;

export type ToWorker =
  | { type: 'start'; config: WorkerConfig }
  /** Ping every connection; answer once all answered or timeoutMs passed. */
  | { type: 'ping'; seq: number; timeoutMs: number }
  | { type: 'broadcast'; seq: number }
  /** Report now, instead of at the next tick: before a close, so nothing is stale. */
  | { type: 'report' }
  | { type: 'close' };

/** The three latencies a holder measures, named as in HolderSamples (all in µs). */
export type LatencyKind = keyof HolderSamples;

/**
 * Latency recorded since the previous report, one histogram per kind that had samples
 * (kinds without any are absent). Each value is an HDR histogram of microseconds in
 * HdrHistogram's compressed V2 encoding, base64 (what hdr-histogram-js
 * encodeIntoCompressedBase64 and Java/C HdrHistogram's encodeCompressed produce):
 * lowest discernible value 1 µs, highest trackable 3,600,000,000 µs (values outside
 * clamped into that range), 3 significant digits. The parent decodes and adds them.
 */
export type EncodedLatency = Partial<Record<LatencyKind, string>>;

export interface WorkerReport {
  type: 'report';
  stats: HolderStats;
  /** Latency since the last report as encoded histograms: what a worker should send. */
  latency?: EncodedLatency;
  /**
   * Latency since the last report as raw µs samples: the compatibility path for a worker
   * that cannot encode histograms (no connlab worker today: Node and C workers both
   * encode); the parent records them one by one.
   * A report may carry both; each sample must travel in exactly one of them.
   */
  samples?: HolderSamples;
  memory: ProcessMemory | null;
  heapUsedBytes: number;
  /** Client: every tuple of the slice has been tried and none is in flight. */
  rampDone: boolean;
}

export type FromWorker =
  | { type: 'started'; pid: number; holder: HolderKind }
  | WorkerReport
  | { type: 'pinged'; seq: number; verified: number; established: number; silent?: number }
  /** Client: the slice is done (every tuple tried, none in flight). */
  | { type: 'ramped' }
  | { type: 'broadcasted'; seq: number; written: number }
  | { type: 'failed'; code: string; message: string }
  | { type: 'closed'; stats: HolderStats };

const TO_WORKER = new Set(['start', 'ping', 'broadcast', 'report', 'close']);
const FROM_WORKER = new Set(['started', 'report', 'pinged', 'ramped', 'broadcasted', 'failed', 'closed']);

const typed = (value: unknown): value is { type: string } =>
  typeof value === 'object' && value !== null && typeof (value as { type?: unknown }).type === 'string';

export function isToWorker(value: unknown): value is ToWorker {
  return typed(value) && TO_WORKER.has(value.type);
}

export function isFromWorker(value: unknown): value is FromWorker {
  return typed(value) && FROM_WORKER.has(value.type);
}
