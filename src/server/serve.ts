// connlab serve as a library: a supervisor over holder workers that share the listen
// addresses through SO_REUSEPORT. It restarts a worker that dies and says why, sums the
// workers' counters, broadcasts on request, and closes everything it started.

import { EventEmitter } from 'node:events';
import type { HolderStats, SocketLimits } from '../engine/holder.ts';
import { checkSendBufferBytes, checkStallTimeoutMs } from '../engine/holder-args.ts';
import type { ListenAddress, ServerWorkerConfig } from '../engine/messages.ts';
import { resolveHolderKind, type HolderChoice } from '../engine/create-holder.ts';
import { RateMeter, STATS_RATE_INTERVAL_MS } from '../engine/rate-meter.ts';
import { serverWorkersFor } from '../engine/sizing.ts';
import { WorkerPool } from '../engine/worker-pool.ts';
import { ConnlabError } from '../errors.ts';

export interface ServeOptions {
  listen: ListenAddress[];
  /** Sizes `workers: 'auto'`; the server accepts more if they come. */
  connections?: number;
  workers?: number | 'auto';
  holder?: HolderChoice;
  backlog?: number;
  /** What each connection may keep queued in the kernel (holder.ts SocketLimits). */
  sendBufferBytes?: number;
  stallTimeoutMs?: number;
  /** The per-process open-file soft limit workers inherit (doctor's reading). */
  fdSoftLimit: number;
  reportIntervalMs?: number;
}

export interface WorkerView {
  index: number;
  pid: number | undefined;
  established: number;
  privateBytes: number | null;
  heapUsedBytes: number | null;
  restarts: number;
}

export interface ServeStats {
  connections: number;
  peakConnections: number;
  acceptsPerSecond: number;
  totals: HolderStats;
  /** Summed private memory (Private_Clean + Private_Dirty) of the workers. */
  privateBytes: number;
  workers: WorkerView[];
}

export interface BroadcastResult {
  seq: number;
  /** Connections the broadcast frame was written to. */
  written: number;
  durationMs: number;
}

export interface ServeEvents {
  'worker-exit': [index: number, reason: string, restarted: boolean];
}

export class ServeHandle extends EventEmitter<ServeEvents> {
  readonly pool: WorkerPool;
  readonly holder: string;
  #peak = 0;
  #accepts = new RateMeter({ minIntervalMs: STATS_RATE_INTERVAL_MS });
  #seq = 0;
  #closed: Promise<ServeStats> | undefined;

  constructor(pool: WorkerPool, holder: string) {
    super();
    this.pool = pool;
    this.holder = holder;
    pool.on('worker-exit', (index, reason, restarted) => this.emit('worker-exit', index, reason, restarted));
    pool.on('report', () => this.#observe());
  }

  #observe(): HolderStats {
    const totals = this.pool.totals();
    this.#peak = Math.max(this.#peak, totals.established);
    return totals;
  }

  stats(): ServeStats {
    const totals = this.#observe();
    const workers = this.pool.workers.map((w) => ({
      index: w.index,
      pid: w.exited ? undefined : w.pid,
      established: w.report?.stats.established ?? 0,
      privateBytes: w.report?.memory?.privateBytes ?? null,
      heapUsedBytes: w.report?.heapUsedBytes ?? null,
      restarts: w.restarts,
    }));
    return {
      connections: totals.established,
      peakConnections: this.#peak,
      acceptsPerSecond: this.#accepts.update(totals.accepted),
      totals,
      privateBytes: workers.reduce((sum, w) => sum + (w.privateBytes ?? 0), 0),
      workers,
    };
  }

  /** Every worker writes one BROADCAST frame to every connection it holds. */
  async broadcast(timeoutMs = 30_000): Promise<BroadcastResult> {
    const seq = ++this.#seq;
    const started = performance.now();
    this.pool.send({ type: 'broadcast', seq });
    const replies = await this.pool.collect('broadcasted', timeoutMs);
    return { seq, written: replies.reduce((sum, r) => sum + r.written, 0), durationMs: performance.now() - started };
  }

  /** Asks every worker to report now, so stats() is current rather than up to a tick old. */
  async refresh(): Promise<ServeStats> {
    await this.pool.refresh();
    return this.stats();
  }

  /** Closes every connection and ends every worker; the final stats. Safe to call twice. */
  close(): Promise<ServeStats> {
    this.#closed ??= (async () => {
      await this.pool.close();
      return this.stats();
    })();
    return this.#closed;
  }

  destroy(): void {
    this.pool.destroy();
  }
}

/** The limits checked here, so a bad value fails before any worker starts. */
function socketLimits({ sendBufferBytes, stallTimeoutMs }: ServeOptions): SocketLimits {
  if (sendBufferBytes !== undefined) checkSendBufferBytes('sendBufferBytes', sendBufferBytes);
  if (stallTimeoutMs !== undefined) checkStallTimeoutMs('stallTimeoutMs', stallTimeoutMs);
  return { sendBufferBytes, stallTimeoutMs };
}

export async function startServe(options: ServeOptions): Promise<ServeHandle> {
  if (options.listen.length === 0) {
    throw new ConnlabError('CONNLAB_ERR_USAGE', 'serve needs at least one --listen address', { hint: 'pass --listen 127.0.0.1:9000' });
  }
  const kind = resolveHolderKind(options.holder ?? 'auto');
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
  };
  const pool = new WorkerPool(Array.from({ length: workers }, () => config), { restart: true });
  const handle = new ServeHandle(pool, kind);
  await pool.start();
  return handle;
}
