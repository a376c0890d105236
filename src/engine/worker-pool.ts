// A supervisor's worker processes: forks them with an IPC channel, starts each with its
// config, keeps the latest report of each, restarts a worker that dies (when asked to)
// and says why, and ends them all: gracefully first, then by PID. Counts of workers that
// died are kept as retired totals so the sums never go backwards.

import { fork, type ChildProcess } from 'node:child_process';
import { EventEmitter } from 'node:events';
import { ConnlabError } from '../errors.ts';
import { retire, sumStats } from './aggregate.ts';
import type { HolderStats } from './holder.ts';
import { resolveWorkerEntry, type WorkerEntry } from './worker-entry.ts';
import { isFromWorker, type FromWorker, type HolderKind, type ToWorker, type WorkerConfig, type WorkerReport } from './messages.ts';


/**
 * How workers run. Each costs a fixed ~10 MB that dwarfs its connections (~50-150 B
 * each), so the fixed part is what to cut. A 1 MiB young generation and one malloc arena
 * took serve from ~890 to ~860 B and load from ~1,020 to ~860 B per connection at
 * 100,000 (bench/results/engine-2026-11-21T12-08-20Z.json). Flags that change V8's
 * code (--jitless, --lite-mode) cost 36 MB instead: the startup snapshot no longer fits.
 * The supervisor's own flags (--test, --inspect) are deliberately not inherited.
 */
const WORKER_EXEC_ARGV = ['--max-semi-space-size=1'];

function workerEnv(): NodeJS.ProcessEnv {
  return { ...process.env, MALLOC_ARENA_MAX: '1' };
}

export interface PoolOptions {
  /** Restart a worker that exits unexpectedly (servers), or not (load). */
  restart: boolean;
  /** How long close() waits for workers before ending them by PID. */
  closeTimeoutMs?: number;
  /** How long start() waits for every worker to report `started`. */
  startTimeoutMs?: number;
}

export interface WorkerState {
  index: number;
  pid: number | undefined;
  holder: HolderKind | undefined;
  config: WorkerConfig;
  report: WorkerReport | undefined;
  restarts: number;
  exited: boolean;
}

export interface PoolEvents {
  report: [index: number, report: WorkerReport];
  message: [index: number, message: FromWorker];
  /** A worker died unexpectedly; `restarted` says whether it was replaced. */
  'worker-exit': [index: number, reason: string, restarted: boolean];
}

export class WorkerPool extends EventEmitter<PoolEvents> {
  readonly #options: Required<PoolOptions>;
  readonly #workers: WorkerState[];
  readonly #children = new Map<number, ChildProcess>();
  readonly #retired: HolderStats[] = [];
  #closing = false;
  /** The file the workers run: lib/'s JavaScript when fresh, else the TypeScript source. */
  readonly entry: WorkerEntry = resolveWorkerEntry();

  constructor(configs: readonly WorkerConfig[], options: PoolOptions) {
    super();
    this.#options = { closeTimeoutMs: 10_000, startTimeoutMs: 30_000, ...options };
    this.#workers = configs.map((config, index) => ({ index, pid: undefined, holder: undefined, config, report: undefined, restarts: 0, exited: false }));
  }

  get workers(): readonly WorkerState[] {
    return this.#workers;
  }

  pids(): number[] {
    return this.#workers.flatMap((w) => (w.pid === undefined || w.exited ? [] : [w.pid]));
  }

  /**
   * Starts every worker; if any fails to start, ends the others before rejecting with
   * CONNLAB_ERR_WORKER, so a failed start never leaves processes behind.
   */
  async start(): Promise<void> {
    try {
      await Promise.all(this.#workers.map((w) => this.#spawn(w)));
    } catch (error) {
      await this.close();
      throw error;
    }
  }

  #spawn(state: WorkerState): Promise<void> {
    const child = fork(this.entry.path, [], { execArgv: WORKER_EXEC_ARGV, env: workerEnv(), serialization: 'advanced', stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    this.#children.set(state.index, child);
    // A send racing the worker's death fails with EPIPE here; its 'exit' says what
    // happened, so the error itself must not take the supervisor down.
    child.on('error', () => {});
    state.pid = child.pid;
    state.exited = false;
    return new Promise<void>((resolve, reject) => {
      let started = false;
      const timer = setTimeout(() => {
        if (!started) reject(new ConnlabError('CONNLAB_ERR_WORKER', `worker ${state.index} did not start within ${this.#options.startTimeoutMs} ms`));
      }, this.#options.startTimeoutMs);
      child.on('message', (message: unknown) => {
        if (!isFromWorker(message)) return;
        if (message.type === 'started') {
          started = true;
          state.holder = message.holder;
          clearTimeout(timer);
          resolve();
        } else if (message.type === 'failed' && !started) {
          clearTimeout(timer);
          reject(new ConnlabError('CONNLAB_ERR_WORKER', `worker ${state.index} failed to start: ${message.message} [${message.code}]`));
        } else if (message.type === 'report') {
          state.report = message;
          this.emit('report', state.index, message);
        } else if (message.type === 'closed' && state.report) {
          state.report = { ...state.report, stats: message.stats };
        }
        this.emit('message', state.index, message);
      });
      child.on('exit', (code, signal) => {
        clearTimeout(timer);
        this.#onExit(state, code, signal, started);
        if (!started) reject(new ConnlabError('CONNLAB_ERR_WORKER', `worker ${state.index} exited before starting (${describeExit(code, signal)})`));
      });
      child.send({ type: 'start', config: state.config } satisfies ToWorker);
    });
  }

  #onExit(state: WorkerState, code: number | null, signal: NodeJS.Signals | null, started: boolean): void {
    state.exited = true;
    this.#children.delete(state.index);
    if (state.report) this.#retired.push(retire(state.report.stats));
    state.report = undefined;
    if (this.#closing || !started) return;
    const restart = this.#options.restart;
    this.emit('worker-exit', state.index, describeExit(code, signal), restart);
    if (restart) {
      state.restarts += 1;
      this.#spawn(state).catch(() => {
        /* the exit handler of the new child reports it again */
      });
    }
  }

  /** Sends to one worker or to all of them. */
  send(message: ToWorker, index?: number): void {
    for (const [i, child] of this.#children) {
      if ((index === undefined || index === i) && child.connected) child.send(message, undefined, undefined, () => {});
    }
  }

  /** Waits for one message of `type` from every live worker (e.g. `pinged`). */
  async collect<T extends FromWorker['type']>(type: T, timeoutMs: number): Promise<Extract<FromWorker, { type: T }>[]> {
    const pending = new Set(this.#children.keys());
    const got: Extract<FromWorker, { type: T }>[] = [];
    if (pending.size === 0) return got;
    return new Promise((resolve) => {
      const done = (): void => {
        clearTimeout(timer);
        this.off('message', onMessage);
        resolve(got);
      };
      const timer = setTimeout(done, timeoutMs);
      const onMessage = (index: number, message: FromWorker): void => {
        if (message.type !== type || !pending.has(index)) return;
        pending.delete(index);
        got.push(message as Extract<FromWorker, { type: T }>);
        if (pending.size === 0) done();
      };
      this.on('message', onMessage);
    });
  }

  /** Asks every worker for a report now and waits for them: totals() is then current. */
  async refresh(timeoutMs = 5_000): Promise<void> {
    const replies = this.collect('report', timeoutMs);
    this.send({ type: 'report' });
    await replies;
  }

  /** The sum of the latest report of every worker, dead ones included. */
  totals(): HolderStats {
    return sumStats([...this.#retired, ...this.#workers.flatMap((w) => (w.report ? [w.report.stats] : []))]);
  }

  /** Graceful close, then SIGKILL by PID for any worker still there after the timeout. */
  async close(): Promise<void> {
    this.#closing = true;
    const live = [...this.#children.values()];
    const exits = live.map((child) => new Promise<void>((resolve) => {
      if (child.exitCode !== null || child.signalCode !== null) resolve();
      else child.once('exit', () => resolve());
    }));
    this.send({ type: 'close' });
    const timer = setTimeout(() => {
      for (const child of live) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    }, this.#options.closeTimeoutMs);
    await Promise.all(exits);
    clearTimeout(timer);
  }

  /** Immediate end, for when the supervisor itself must go now. */
  destroy(): void {
    this.#closing = true;
    for (const child of this.#children.values()) child.kill('SIGKILL');
  }
}

function describeExit(code: number | null, signal: NodeJS.Signals | null): string {
  if (signal === 'SIGKILL') return 'killed by SIGKILL (the OOM killer, or someone by PID)';
  if (signal) return `killed by ${signal}`;
  return `exit code ${code}`;
}
