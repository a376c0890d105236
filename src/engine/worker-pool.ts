// A supervisor's worker processes: forks them with an IPC channel, starts each with its
// config, keeps the latest report of each, restarts a worker that dies (when asked to)
// with a growing delay and gives up on a crash loop, and ends them all: gracefully
// first, then by PID. A worker that died keeps its last totals, and the connections it
// held then are counted closed as `lost`, so the sums never go backwards and accepted
// always equals closes plus held.
//
// A worker's end is one event, judged once its channel is drained: the process's 'exit'
// can come before the last messages it wrote are read (issue 15: a final `closed` report
// dropped that way showed up as `lost` with no death), so the pool waits for 'close'
// (exit + channel end, every message delivered) before it retires the worker's counts.
// Whenever the retired counts lose connections, a death names the worker: during a run,
// during close() (the pool had to SIGKILL it) and after destroy() alike.

import { EventEmitter } from 'node:events';
import { ConnlabError } from '../errors.ts';
import { emptyStats, retire, sumStats } from './aggregate.ts';
import type { HolderStats } from './holder.ts';
import { Lifecycle, type LifecycleState } from './lifecycle.ts';
import { resolveWorkerEntry, type WorkerEntry } from './worker-entry.ts';
import { startWorkerProcess, type WorkerProcess, type WorkerRuntime } from './worker-process.ts';
import { isFromWorker, type FromWorker, type HolderKind, type ToWorker, type WorkerConfig, type WorkerReport } from './messages.ts';
import { resolveRestartPolicy, restartDecision, type RestartPolicy } from './restart-policy.ts';

export type { RestartPolicy } from './restart-policy.ts';

export interface PoolOptions {
  /**
   * Restart a worker that exits unexpectedly (servers: true, or a policy), or not (load).
   * true means the default policy of restart-policy.ts.
   */
  restart: boolean | Partial<RestartPolicy>;
  /**
   * How long close() waits for workers before ending them by PID, before the allowance
   * for what they hold (closeTimeoutFor): 10 s unless given.
   */
  closeTimeoutMs?: number;
  /** How long start() waits for every worker to report `started`. */
  startTimeoutMs?: number;
  /** Node workers (worker.ts) or the C program (native/worker/); see worker-process.ts. */
  runtime?: WorkerRuntime;
}

export interface WorkerState {
  index: number;
  pid: number | undefined;
  holder: HolderKind | undefined;
  config: WorkerConfig;
  report: WorkerReport | undefined;
  restarts: number;
  exited: boolean;
  /** Why the pool itself killed this process, if it did (a close timeout, destroy()). */
  killedByPool?: string;
  /** When its last report arrived (performance.now()); undefined before the first. */
  lastReportAtMs: number | undefined;
  /** Its final `closed` counts, once it sent them: nothing it held is lost after that. */
  final: HolderStats | undefined;
}

/** A worker that has not reported for this many report intervals is `stalled`. */
export const STALL_REPORT_INTERVALS = 3;

/** A period in which a worker sent no report: a stop (SIGSTOP), a hang, a starved CPU. */
export interface StallRecord {
  worker: number;
  pid: number | null;
  /** Seconds since its last report: so far if still stalled, else the whole gap. */
  seconds: number;
  recovered: boolean;
}

/** A worker that died while it should have been running, named in every result. */
export interface WorkerDeath {
  index: number;
  pid: number | undefined;
  /** `killed by SIGKILL (...)`, `exit code 1`, or the worker's own error. */
  reason: string;
  /** Connections it held at its last report: counted in closed.lost. */
  lostConnections: number;
  /** Whether a replacement was scheduled. */
  restarted: boolean;
  /** When, on the supervisor's performance.now() clock. */
  atMs: number;
}

/** A death as results carry it (`deaths` in serve, load and bench JSON). */
export interface DeathRecord {
  worker: number;
  pid: number | null;
  reason: string;
  lost_connections: number;
  restarted: boolean;
}

export function deathRecords(deaths: readonly WorkerDeath[]): DeathRecord[] {
  return deaths.map((d) => ({ worker: d.index, pid: d.pid ?? null, reason: d.reason, lost_connections: d.lostConnections, restarted: d.restarted }));
}

export interface PoolEvents {
  report: [index: number, report: WorkerReport];
  message: [index: number, message: FromWorker];
  /** A worker died unexpectedly; `restarted` says whether it will be replaced. */
  'worker-exit': [index: number, reason: string, restarted: boolean, death: WorkerDeath];
  /** A worker died too often too soon: no more restarts. The owner ends the run. */
  'crash-loop': [error: ConnlabError];
  /** A worker sent no report for STALL_REPORT_INTERVALS intervals (checked once an interval). */
  'worker-stalled': [index: number, stall: StallRecord];
  /** A stalled worker reported again. */
  'worker-recovered': [index: number, stall: StallRecord];
}

export class WorkerPool extends EventEmitter<PoolEvents> {
  readonly #options: { closeTimeoutMs: number; startTimeoutMs: number; restart: RestartPolicy | null; runtime: WorkerRuntime };
  readonly #workers: WorkerState[];
  readonly #children = new Map<number, WorkerProcess>();
  readonly #retired: HolderStats[] = [];
  readonly #deaths: WorkerDeath[] = [];
  /** Death times per worker slot, for the back-off and the crash-loop limit. */
  readonly #deathTimes = new Map<number, number[]>();
  readonly #restartTimers = new Set<NodeJS.Timeout>();
  readonly #exitWaiters = new Set<(index: number) => void>();
  readonly #lifecycle = new Lifecycle<void>('worker pool');
  #crashLoop: ConnlabError | undefined;
  readonly #stalls: StallRecord[] = [];
  /** The open stall of each worker slot. */
  readonly #openStalls = new Map<number, StallRecord>();
  #stallTimer: NodeJS.Timeout | undefined;
  /** The file the workers run: lib/'s JavaScript when fresh, else the TypeScript source. */
  readonly entry: WorkerEntry = resolveWorkerEntry();

  constructor(configs: readonly WorkerConfig[], options: PoolOptions) {
    super();
    const restart = options.restart === false ? null : resolveRestartPolicy(options.restart === true ? {} : options.restart);
    this.#options = { closeTimeoutMs: options.closeTimeoutMs ?? 10_000, startTimeoutMs: options.startTimeoutMs ?? 30_000, restart, runtime: options.runtime ?? 'node' };
    this.#workers = configs.map((config, index) => ({ index, pid: undefined, holder: undefined, config, report: undefined, restarts: 0, exited: false, lastReportAtMs: undefined, final: undefined }));
  }

  get runtime(): WorkerRuntime {
    return this.#options.runtime;
  }

  get workers(): readonly WorkerState[] {
    return this.#workers;
  }

  get state(): LifecycleState {
    return this.#lifecycle.state;
  }

  /** Every worker that died while it should have been running, oldest first. */
  get deaths(): readonly WorkerDeath[] {
    return this.#deaths;
  }

  /** Every stall seen, oldest first; those still open have `recovered: false`. */
  get stalls(): readonly StallRecord[] {
    return this.#stalls.map((s) => ({ ...s, seconds: s.recovered ? s.seconds : this.#reportAgeSeconds(s.worker) }));
  }

  /**
   * True when a live worker has sent no report for STALL_REPORT_INTERVALS of its report
   * intervals: its last counts are then not current (it may be stopped or starved).
   */
  isStalled(index: number, nowMs = performance.now()): boolean {
    const w = this.#workers[index];
    if (!w || w.exited || w.lastReportAtMs === undefined || this.#lifecycle.state === 'destroyed') return false;
    return nowMs - w.lastReportAtMs > STALL_REPORT_INTERVALS * w.config.reportIntervalMs;
  }

  /** Milliseconds since a worker's last report; null before its first. */
  reportAgeMs(index: number, nowMs = performance.now()): number | null {
    const at = this.#workers[index]?.lastReportAtMs;
    return at === undefined ? null : nowMs - at;
  }

  #reportAgeSeconds(index: number): number {
    return tenthsOfSeconds(this.reportAgeMs(index) ?? 0);
  }

  /** The crash-loop error, once the pool has given up restarting. */
  get crashLoop(): ConnlabError | undefined {
    return this.#crashLoop;
  }

  pids(): number[] {
    return this.#workers.flatMap((w) => (w.pid === undefined || w.exited ? [] : [w.pid]));
  }

  /**
   * Starts every worker; if any fails to start, ends the others before rejecting with
   * CONNLAB_ERR_WORKER, so a failed start never leaves processes behind.
   */
  async start(): Promise<void> {
    this.#lifecycle.assertOpen('start');
    try {
      await Promise.all(this.#workers.map((w) => this.#spawn(w, false)));
    } catch (error) {
      await this.close();
      throw error;
    }
    const intervalMs = Math.min(...this.#workers.map((w) => w.config.reportIntervalMs));
    this.#stallTimer = setInterval(() => this.#checkStalls(), intervalMs);
    this.#stallTimer.unref();
  }

  /** Opens a stall for each worker that went quiet; recovery is seen when it reports. */
  #checkStalls(): void {
    const now = performance.now();
    for (const w of this.#workers) {
      if (this.#openStalls.has(w.index) || !this.isStalled(w.index, now)) continue;
      const stall: StallRecord = { worker: w.index, pid: w.pid ?? null, seconds: this.#reportAgeSeconds(w.index), recovered: false };
      this.#openStalls.set(w.index, stall);
      this.#stalls.push(stall);
      this.emit('worker-stalled', w.index, stall);
    }
  }

  /** A report (or the worker's end) closes its open stall. */
  #endStall(state: WorkerState): void {
    const stall = this.#openStalls.get(state.index);
    if (!stall) return;
    this.#openStalls.delete(state.index);
    stall.seconds = this.#reportAgeSeconds(state.index);
    stall.recovered = !state.exited;
    if (stall.recovered) this.emit('worker-recovered', state.index, stall);
  }

  #spawn(state: WorkerState, restart: boolean): Promise<void> {
    // The worker's argv carries this PID: it exits when its parent is no longer this one.
    const child = startWorkerProcess(this.#options.runtime, this.entry, process.pid);
    this.#children.set(state.index, child);
    // A send racing the worker's death fails with EPIPE here; its 'exit' says what
    // happened, so the error itself must not take the supervisor down.
    child.on('error', () => {});
    state.pid = child.pid;
    state.exited = false;
    state.final = undefined;
    state.lastReportAtMs = undefined;
    state.killedByPool = undefined;
    return new Promise<void>((resolve, reject) => {
      let started = false;
      let failure: string | undefined;
      const timer = setTimeout(() => {
        if (started) return;
        reject(new ConnlabError('CONNLAB_ERR_WORKER', `worker ${state.index} did not start within ${this.#options.startTimeoutMs} ms`));
        // A replacement that hangs counts as a death, so the crash-loop limit sees it.
        if (restart) child.kill('SIGKILL');
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
          failure = `failed to start: ${message.message} [${message.code}]`;
          reject(new ConnlabError('CONNLAB_ERR_WORKER', `worker ${state.index} ${failure}`));
        } else if (message.type === 'report') {
          this.#onReport(state, message);
        } else if (message.type === 'closed') {
          state.final = message.stats;
          state.report = { ...(state.report ?? blankReport()), stats: message.stats };
        }
        this.emit('message', state.index, message);
      });
      // 'exit' says how it ended; 'close' (after 'exit' and the channel's end, so every
      // message it wrote has been delivered) is when its books are closed. A channel held
      // open by something else must not hold the books forever: a second at most.
      let ended = false;
      let drain: NodeJS.Timeout | undefined;
      const end = (code: number | null, signal: NodeJS.Signals | null): void => {
        if (ended) return;
        ended = true;
        clearTimeout(timer);
        clearTimeout(drain);
        const reason = failure ?? this.#describeEnd(state, code, signal);
        this.#onExit(state, child, reason, started || restart);
        if (!started) reject(new ConnlabError('CONNLAB_ERR_WORKER', `worker ${state.index} exited before starting (${reason})`));
      };
      child.on('exit', (code, signal) => (drain = setTimeout(() => end(code, signal), CHANNEL_DRAIN_MS)));
      child.on('close', (code, signal) => end(code, signal));
      child.send({ type: 'start', config: state.config } satisfies ToWorker);
    });
  }

  #onReport(state: WorkerState, report: WorkerReport): void {
    this.#endStall(state); // first: the gap is measured up to this report
    state.report = report;
    state.lastReportAtMs = performance.now();
    this.emit('report', state.index, report);
  }

  /** The exit as the kernel reported it, and what the pool knows beyond that. */
  #describeEnd(state: WorkerState, code: number | null, signal: NodeJS.Signals | null): string {
    const quiet = state.lastReportAtMs === undefined ? '' : ` (${this.#reportAgeSeconds(state.index)} s after its last report)`;
    if (state.killedByPool && signal === 'SIGKILL') return `killed by the supervisor with SIGKILL: ${state.killedByPool}${quiet}`;
    return describeExit(code, signal);
  }

  /**
   * The worker's books close: its last counts are retired (what it still held is `lost`).
   * `counts`: the death matters (the worker ran, or was a replacement that failed).
   * During a run every unexpected end is a death (restarted per the policy); once the
   * pool is closing, an end is a death only when it lost connections (no final `closed`).
   */
  #onExit(state: WorkerState, child: WorkerProcess, reason: string, counts: boolean): void {
    state.exited = true;
    if (this.#children.get(state.index) === child) this.#children.delete(state.index);
    const stats = state.final ?? state.report?.stats;
    const lost = stats?.established ?? 0;
    if (stats) this.#retired.push(retire(stats));
    state.report = undefined;
    this.#endStall(state);
    for (const waiter of this.#exitWaiters) waiter(state.index);
    const open = this.#lifecycle.state === 'open';
    if (!counts || (!open && lost === 0)) return;
    const death: WorkerDeath = { index: state.index, pid: child.pid, reason, lostConnections: lost, restarted: false, atMs: performance.now() };
    this.#deaths.push(death);
    const delayMs = open ? this.#restartDelay(state, death) : undefined;
    death.restarted = delayMs !== undefined;
    this.emit('worker-exit', state.index, reason, death.restarted, death);
    if (delayMs !== undefined) this.#scheduleRestart(state, delayMs);
  }

  /** The delay before this slot's restart, or undefined: no restart (or a crash loop). */
  #restartDelay(state: WorkerState, death: WorkerDeath): number | undefined {
    const policy = this.#options.restart;
    if (!policy || this.#crashLoop) return undefined;
    const times = [...(this.#deathTimes.get(state.index) ?? []), death.atMs];
    const decision = restartDecision(policy, times, death.atMs);
    this.#deathTimes.set(state.index, decision.recent);
    if (decision.delayMs !== undefined) return decision.delayMs;
    this.#crashLoop = new ConnlabError('CONNLAB_ERR_CRASH_LOOP',
      `worker ${state.index} died ${decision.recent.length} times within ${policy.windowMs / 1000} s (last: ${death.reason}); not restarting it again`,
      { hint: 'the reason above is the worker\'s own; fix its cause (a port taken, a limit) and start again' });
    this.emit('crash-loop', this.#crashLoop);
    return undefined;
  }

  #scheduleRestart(state: WorkerState, delayMs: number): void {
    const timer = setTimeout(() => {
      this.#restartTimers.delete(timer);
      if (this.#lifecycle.state !== 'open') return;
      state.restarts += 1;
      this.#spawn(state, true).catch(() => {
        /* its exit is counted as a death of its own, with back-off */
      });
    }, delayMs);
    this.#restartTimers.add(timer);
  }

  /** Sends to one worker or to all of them. */
  send(message: ToWorker, index?: number): void {
    this.#lifecycle.assertOpen('send');
    this.#send(message, index);
  }

  #send(message: ToWorker, index?: number): void {
    for (const [i, child] of this.#children) {
      if ((index === undefined || index === i) && child.connected) child.send(message, undefined, undefined, () => {});
    }
  }

  /**
   * Waits for one message of `type` from every live worker (e.g. `pinged`). With `seq`,
   * only replies carrying that seq count: a late answer to an earlier round is not an
   * answer to this one. A worker that dies meanwhile is not waited for.
   */
  async collect<T extends FromWorker['type']>(type: T, timeoutMs: number, seq?: number): Promise<Extract<FromWorker, { type: T }>[]> {
    this.#lifecycle.assertOpen('collect');
    const pending = new Set(this.#children.keys());
    const got: Extract<FromWorker, { type: T }>[] = [];
    if (pending.size === 0) return got;
    return new Promise((resolve) => {
      const done = (): void => {
        clearTimeout(timer);
        this.off('message', onMessage);
        this.#exitWaiters.delete(onExit);
        resolve(got);
      };
      const timer = setTimeout(done, timeoutMs);
      const settle = (index: number): void => {
        pending.delete(index);
        if (pending.size === 0) done();
      };
      const onExit = (index: number): void => settle(index);
      const onMessage = (index: number, message: FromWorker): void => {
        if (message.type !== type || !pending.has(index)) return;
        if (seq !== undefined && (message as { seq?: number }).seq !== seq) return;
        got.push(message as Extract<FromWorker, { type: T }>);
        settle(index);
      };
      this.on('message', onMessage);
      this.#exitWaiters.add(onExit);
    });
  }

  /** Asks every worker for a report now and waits for them: totals() is then current. */
  async refresh(timeoutMs = 5_000): Promise<void> {
    const replies = this.collect('report', timeoutMs);
    this.#send({ type: 'report' });
    await replies;
  }

  /** The sum of the latest report of every worker, dead ones included. */
  totals(): HolderStats {
    return sumStats([...this.#retired, ...this.#workers.flatMap((w) => (w.report ? [w.report.stats] : []))]);
  }

  /**
   * One figure of totals(), summed over the same reports without building the rest: what
   * a 'report' listener reads. Every worker reports once an interval, so a listener that
   * called totals() summed every field of W reports W times an interval; at 1M (114
   * workers) that was most of the supervisor's ~6% of a core during the ramp.
   */
  sum(pick: (stats: HolderStats) => number): number {
    let total = 0;
    for (const stats of this.#retired) total += pick(stats);
    for (const w of this.#workers) if (w.report) total += pick(w.report.stats);
    return total;
  }

  /** Graceful close, then SIGKILL by PID for any worker still there after the timeout. */
  close(): Promise<void> {
    return this.#lifecycle.close(async () => {
      this.#cancelRestarts();
      // Waits for each worker's books to close (#onExit), not merely for its exit.
      const ends = this.#workers.filter((w) => this.#children.has(w.index)).map((w) => new Promise<void>((resolve) => {
        const onEnd = (index: number): void => {
          if (index !== w.index) return;
          this.#exitWaiters.delete(onEnd);
          resolve();
        };
        this.#exitWaiters.add(onEnd);
      }));
      this.#send({ type: 'close' });
      const timeoutMs = closeTimeoutFor(this.#options.closeTimeoutMs, this.totals().established);
      const timer = setTimeout(() => this.#killAll(`no final report within the ${tenthsOfSeconds(timeoutMs)} s close timeout`), timeoutMs);
      await Promise.all(ends);
      clearTimeout(timer);
    });
  }

  /** Immediate end, for when the supervisor itself must go now. */
  destroy(): void {
    this.#lifecycle.destroy(() => {
      this.#cancelRestarts();
      this.#killAll('ended at once (destroy)');
    });
  }

  #killAll(why: string): void {
    for (const [index, child] of this.#children) {
      if (child.exitCode !== null || child.signalCode !== null) continue;
      const state = this.#workers[index];
      if (state) state.killedByPool = why;
      child.kill('SIGKILL');
    }
  }

  #cancelRestarts(): void {
    for (const timer of this.#restartTimers) clearTimeout(timer);
    this.#restartTimers.clear();
    clearInterval(this.#stallTimer);
  }
}

/**
 * Sockets per second the close timeout allows for: a quarter of the slowest whole-host
 * close rate measured here (1M held per side on 2 cores, memory cold after the VM's page
 * reporting: 2M sockets closed in ~30 s, ~66,000/s), since every worker of both sides
 * closes at once and each gets only its share of the CPU.
 */
export const CLOSE_SOCKETS_PER_SECOND = 16_000;

/**
 * The close timeout for a pool holding `established` connections: the base (for a
 * worker that holds little) plus the time the kernel may need to close what it holds.
 * A fixed 10 s killed every load worker of a 1M bench on a slow VM while they were still
 * closing (each of 51 held 19,600, and the host closed 66,000 sockets/s in all); what
 * they held was then counted lost, though nothing had gone wrong.
 */
export function closeTimeoutFor(baseMs: number, established: number): number {
  return baseMs + Math.ceil((Math.max(0, established) / CLOSE_SOCKETS_PER_SECOND) * 1000);
}

/** Milliseconds as seconds to a tenth, as the death reasons show them. */
const tenthsOfSeconds = (ms: number): number => Math.round(ms / 100) / 10;

/** How long after 'exit' the books wait for the channel's end ('close'). */
const CHANNEL_DRAIN_MS = 1_000;

/** The report a `closed` completes when the worker never sent one (a very short run). */
function blankReport(): WorkerReport {
  return { type: 'report', stats: emptyStats(), memory: null, heapUsedBytes: 0, rampDone: false };
}

function describeExit(code: number | null, signal: NodeJS.Signals | null): string {
  if (signal === 'SIGKILL') return 'killed by SIGKILL (the OOM killer, or someone by PID)';
  if (signal) return `killed by ${signal}`;
  return `exit code ${code}`;
}
