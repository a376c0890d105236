// connlab serve as a library: a supervisor over holder workers that share the listen
// addresses through SO_REUSEPORT. It restarts a worker that dies (with back-off, up to a
// crash-loop limit) and says why and what was lost, sums the workers' counters,
// broadcasts on request, and closes everything it started.

import { EventEmitter } from 'node:events';
import { accessSync, constants as fsConstants } from 'node:fs';
import { resolve } from 'node:path';
import type { HolderStats, ServerTlsOptions, SocketLimits } from '../engine/holder.ts';
import { checkSendBufferBytes, checkStallTimeoutMs, DEFAULT_TLS_GROUPS } from '../engine/holder-args.ts';
import type { ListenAddress, ServerWorkerConfig } from '../engine/messages.ts';
import { resolveHolderKind, type HolderChoice } from '../engine/create-holder.ts';
import { RateMeter, STATS_RATE_INTERVAL_MS } from '../engine/rate-meter.ts';
import { serverWorkersFor } from '../engine/sizing.ts';
import { Lifecycle } from '../engine/lifecycle.ts';
import { WorkerPool, type RestartPolicy, type StallRecord, type WorkerDeath } from '../engine/worker-pool.ts';
import { resolveWorkerRuntime, type WorkerRuntime, type WorkerRuntimeChoice } from '../engine/worker-process.ts';
import { ConnlabError, invalidArgument } from '../errors.ts';

export interface ServeOptions {
  listen: ListenAddress[];
  /** Sizes `workers: 'auto'`; the server accepts more if they come. */
  connections?: number;
  workers?: number | 'auto';
  holder?: HolderChoice;
  /** Worker processes in C (no V8) or in Node; auto: C when built and the holder is native. */
  workerRuntime?: WorkerRuntimeChoice;
  backlog?: number;
  /** What each connection may keep queued in the kernel (holder.ts SocketLimits). */
  sendBufferBytes?: number;
  stallTimeoutMs?: number;
  /** The per-process open-file soft limit workers inherit (doctor's reading). */
  fdSoftLimit: number;
  reportIntervalMs?: number;
  /** Back-off and crash-loop limit for restarts (restart-policy.ts has the defaults). */
  restart?: Partial<RestartPolicy>;
  /** How long close() waits for a worker's final report before killing it (default 10 s). */
  closeTimeoutMs?: number;
  /**
   * TLS on every accepted connection (native holder: native/tls.c, in C workers with the
   * system's libssl.so.3, in Node workers with Node's OpenSSL); absent: plain TCP.
   */
  tls?: ServerTlsOptions;
}

export interface WorkerView {
  index: number;
  pid: number | undefined;
  established: number;
  privateBytes: number | null;
  heapUsedBytes: number | null;
  restarts: number;
  /** No report for several intervals: `established` and the memory are its last, stale, counts. */
  stalled: boolean;
}

export interface ServeStats {
  connections: number;
  peakConnections: number;
  acceptsPerSecond: number;
  totals: HolderStats;
  /** Summed private memory (Private_Clean + Private_Dirty) of the workers. */
  privateBytes: number;
  workers: WorkerView[];
  /** Workers that died while serving: who, why, and how many connections went with them. */
  deaths: WorkerDeath[];
  /** Every time a worker went quiet for several report intervals, open ones included. */
  stalls: StallRecord[];
}

export interface BroadcastResult {
  seq: number;
  /** Connections the broadcast frame was written to. */
  written: number;
  durationMs: number;
}

export interface ServeEvents {
  'worker-exit': [index: number, reason: string, restarted: boolean, death: WorkerDeath];
  /** A worker sent no report for several intervals; `worker-recovered` when it does again. */
  'worker-stalled': [index: number, stall: StallRecord];
  'worker-recovered': [index: number, stall: StallRecord];
  /** A worker crash-looped (CONNLAB_ERR_CRASH_LOOP): no more restarts; close and report it. */
  failed: [error: ConnlabError];
}

export class ServeHandle extends EventEmitter<ServeEvents> {
  readonly pool: WorkerPool;
  readonly holder: string;
  readonly workerRuntime: WorkerRuntime;
  #peak = 0;
  #accepts = new RateMeter({ minIntervalMs: STATS_RATE_INTERVAL_MS });
  #seq = 0;
  readonly #lifecycle = new Lifecycle<ServeStats>('serve');

  constructor(pool: WorkerPool, holder: string) {
    super();
    this.pool = pool;
    this.holder = holder;
    this.workerRuntime = pool.runtime;
    pool.on('worker-exit', (index, reason, restarted, death) => this.emit('worker-exit', index, reason, restarted, death));
    pool.on('crash-loop', (error) => this.emit('failed', error));
    pool.on('worker-stalled', (index, stall) => this.emit('worker-stalled', index, stall));
    pool.on('worker-recovered', (index, stall) => this.emit('worker-recovered', index, stall));
    // The peak and the accept rate advance when a report arrives, never when read.
    pool.on('report', () => {
      this.#peak = Math.max(this.#peak, this.pool.sum((s) => s.established));
      this.#accepts.update(this.pool.sum((s) => s.accepted));
    });
  }

  /** The crash-loop error once the pool gave up restarting; undefined while all is well. */
  get failure(): ConnlabError | undefined {
    return this.pool.crashLoop;
  }

  /** A read without side effects: the same answer twice in a row, and after close(). */
  stats(): ServeStats {
    const totals = this.pool.totals();
    const workers = this.pool.workers.map((w) => ({
      index: w.index,
      pid: w.exited ? undefined : w.pid,
      established: w.report?.stats.established ?? 0,
      privateBytes: w.report?.memory?.privateBytes ?? null,
      heapUsedBytes: w.report?.heapUsedBytes ?? null,
      restarts: w.restarts,
      stalled: this.pool.isStalled(w.index),
    }));
    return {
      connections: totals.established,
      peakConnections: Math.max(this.#peak, totals.established),
      acceptsPerSecond: this.#accepts.perSecond,
      totals,
      privateBytes: workers.reduce((sum, w) => sum + (w.privateBytes ?? 0), 0),
      workers,
      deaths: [...this.pool.deaths],
      stalls: [...this.pool.stalls],
    };
  }

  /** Every worker writes one BROADCAST frame to every connection it holds. */
  async broadcast(timeoutMs = 30_000): Promise<BroadcastResult> {
    this.#lifecycle.assertOpen('broadcast');
    const seq = ++this.#seq;
    const started = performance.now();
    const replies = this.pool.collect('broadcasted', timeoutMs, seq);
    this.pool.send({ type: 'broadcast', seq });
    return { seq, written: (await replies).reduce((sum, r) => sum + r.written, 0), durationMs: performance.now() - started };
  }

  /** Asks every worker to report now, so stats() is current rather than up to a tick old. */
  async refresh(): Promise<ServeStats> {
    this.#lifecycle.assertOpen('refresh');
    await this.pool.refresh();
    return this.stats();
  }

  /** Closes every connection and ends every worker; the final stats. Idempotent. */
  close(): Promise<ServeStats> {
    return this.#lifecycle.close(async () => {
      await this.pool.close();
      return this.stats();
    });
  }

  /** Ends every worker by PID at once. Idempotent. */
  destroy(): void {
    this.#lifecycle.destroy(() => this.pool.destroy());
  }
}

/** The limits checked here, so a bad value fails before any worker starts. */
function socketLimits({ sendBufferBytes, stallTimeoutMs }: ServeOptions): SocketLimits {
  if (sendBufferBytes !== undefined) checkSendBufferBytes('sendBufferBytes', sendBufferBytes);
  if (stallTimeoutMs !== undefined) checkStallTimeoutMs('stallTimeoutMs', stallTimeoutMs);
  return { sendBufferBytes, stallTimeoutMs };
}

/** The certificate and key as absolute paths (workers may not share the caller's idea of
 * the working directory), each checked readable here so a typo fails before any worker. */
function serverTls(tls: ServerTlsOptions | undefined): ServerTlsOptions | undefined {
  if (!tls) return undefined;
  const readable = (flag: string, file: string): string => {
    try {
      accessSync(file, fsConstants.R_OK);
    } catch (error) {
      throw invalidArgument(flag, file, `a readable PEM file (${(error as NodeJS.ErrnoException).code ?? 'unreadable'})`);
    }
    return resolve(file);
  };
  // The classic groups, as load offers them: a hybrid post-quantum key share costs the
  // handshake more CPU for nothing a connection test needs (docs/tls.md).
  return { groups: DEFAULT_TLS_GROUPS, ...tls, certFile: readable('--tls-cert', tls.certFile), keyFile: readable('--tls-key', tls.keyFile) };
}

export async function startServe(options: ServeOptions): Promise<ServeHandle> {
  if (options.listen.length === 0) {
    throw new ConnlabError('CONNLAB_ERR_USAGE', 'serve needs at least one --listen address', { hint: 'pass --listen 127.0.0.1:9000' });
  }
  const kind = resolveHolderKind(options.holder ?? 'auto');
  const tls = serverTls(options.tls);
  const runtime = resolveWorkerRuntime(options.workerRuntime ?? 'auto', kind, tls !== undefined);
  const workers = options.workers === undefined || options.workers === 'auto'
    ? serverWorkersFor(options.connections ?? 1, options.fdSoftLimit)
    : options.workers;
  const config: ServerWorkerConfig = {
    role: 'server',
    holder: kind,
    listen: options.listen,
    backlog: options.backlog ?? 4096,
    limits: socketLimits(options),
    reportIntervalMs: options.reportIntervalMs ?? 1000,
    ...(tls ? { tls } : {}),
  };
  const pool = new WorkerPool(Array.from({ length: workers }, () => config), { restart: options.restart ?? true, runtime, closeTimeoutMs: options.closeTimeoutMs });
  const handle = new ServeHandle(pool, kind);
  await pool.start();
  return handle;
}
