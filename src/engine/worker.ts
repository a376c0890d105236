// The worker process: one holder, one ticker. The supervisor forks this file with an IPC
// channel, sends `start`, and from then on the worker reports cumulative counters and
// the latency since its last report, as encoded histograms, every reportIntervalMs. A client worker also ramps its slice
// of the tuple plan: each tick it tops the in-flight window up to maxPending, paced by
// the rate if one is set. No worker outlives its supervisor (parent-watch.ts): the
// kernel kills it with its parent, and a closed channel or a changed parent PID ends it
// at once, leaving its sockets to the kernel.

// Not process.memoryUsage(): it opens /proc/self/stat, which fails with EMFILE exactly
// when a worker is full, the moment its report matters most.
import { getHeapStatistics } from 'node:v8';
import { isConnlabError } from '../errors.ts';
import { readProcessMemory } from '../probe/process-memory.ts';
import { createTupleCursor, ipv6Table } from '../tuple/plan.ts';
import { createHolder } from './create-holder.ts';
import { LatencyEncoder } from './latency.ts';
import type { Holder } from './holder.ts';
import { isToWorker, type ClientWorkerConfig, type FromWorker, type ToWorker, type WorkerConfig } from './messages.ts';
import { expectedParentPid, watchParent } from './parent-watch.ts';

/** The parent is gone: exit now. The kernel closes every socket faster than we could. */
const orphaned = (): never => process.exit(1);

// First thing, before any socket exists. CONNLAB_WORKER_PDEATHSIG=0 leaves the kernel's
// death signal out, so tests can prove the fallback that runs without the addon.
watchParent(expectedParentPid(), orphaned, { useDeathSignal: process.env.CONNLAB_WORKER_PDEATHSIG !== '0' });

const RAMP_TICK_MS = 5;
const CHURN_TICK_MS = 100;
const PING_POLL_MS = 10;

/** Sends to the supervisor if it is still there; a gone parent is not an error here. */
function send(message: FromWorker): void {
  if (process.connected) process.send?.(message, undefined, undefined, () => {});
}

/**
 * Sends the last message and only then closes the channel: disconnect() right after a
 * send cancels a write still queued in libuv, and the supervisor never saw the final
 * `closed` (issue 15: counted as lost, with no death to name). The write's callback
 * means it is in the pipe, which outlives this process.
 */
function sendLast(message: FromWorker): void {
  if (!process.connected) return; // the supervisor is gone: 'disconnect' already ends us
  process.send?.(message, undefined, undefined, () => {
    if (process.connected) process.disconnect?.();
  });
}

class Worker {
  #holder: Holder;
  #config: WorkerConfig;
  #cursor: ReturnType<typeof createTupleCursor> | undefined;
  #tokens = 0;
  #lastTick = performance.now();
  #rampTimer: NodeJS.Timeout | undefined;
  #churnTimer: NodeJS.Timeout | undefined;
  #reportTimer: NodeJS.Timeout;
  #closing = false;
  readonly #latency = new LatencyEncoder();

  constructor(config: WorkerConfig) {
    this.#config = config;
    this.#holder = createHolder(config.holder, config.role === 'client' ? { connectTimeoutMs: config.connectTimeoutMs, protocol: config.protocol, addresses6: ipv6Table(config.plan) } : { ...config.limits, serverTls: config.tls });
    this.#reportTimer = setInterval(() => void this.report(), config.reportIntervalMs);
  }

  async start(): Promise<void> {
    const config = this.#config;
    if (config.role === 'server') {
      for (const address of config.listen) await this.#holder.listen(address.host, address.port, config.backlog);
    } else {
      this.#cursor = createTupleCursor(config.plan, config.slice);
      this.#rampTimer = setInterval(() => this.#ramp(config), RAMP_TICK_MS);
    }
    send({ type: 'started', pid: process.pid, holder: this.#holder.kind });
  }

  #ramp(config: ClientWorkerConfig): void {
    const cursor = this.#cursor;
    if (!cursor) return;
    const now = performance.now();
    if (config.ratePerSec !== null) {
      // Token bucket, at most one second of burst.
      this.#tokens = Math.min(config.ratePerSec, this.#tokens + ((now - this.#lastTick) / 1000) * config.ratePerSec);
    }
    this.#lastTick = now;
    const stats = this.#holder.stats();
    if (cursor.remaining() === 0) {
      // Keep ticking until the last handshake settles, then say so at once.
      if (stats.pending === 0 && stats.queued === 0) {
        clearInterval(this.#rampTimer);
        this.#rampTimer = undefined;
        send({ type: 'ramped' });
        this.#startChurn(config.churnPerSec ?? 0);
      }
      return;
    }
    let budget = Math.min(cursor.remaining(), config.maxPending - stats.pending - stats.queued);
    if (config.ratePerSec !== null) budget = Math.min(budget, Math.floor(this.#tokens));
    if (budget <= 0) return;
    this.#tokens -= budget;
    this.#holder.connect(cursor.next(budget));
  }

  /** Resets and reconnects churnPerSec connections a second, in 100 ms steps. */
  #startChurn(churnPerSec: number): void {
    if (churnPerSec <= 0) return;
    let due = 0;
    let last = performance.now();
    this.#churnTimer = setInterval(() => {
      const now = performance.now();
      due += ((now - last) / 1000) * churnPerSec;
      last = now;
      const count = Math.floor(due);
      if (count === 0) return;
      due -= count; // what could not be churned (nothing held) is not owed later
      this.#holder.churn(count);
    }, CHURN_TICK_MS);
  }

  #rampDone(): boolean {
    if (this.#config.role === 'server') return true;
    const stats = this.#holder.stats();
    return (this.#cursor?.remaining() ?? 0) === 0 && stats.pending === 0 && stats.queued === 0;
  }

  async report(): Promise<void> {
    if (this.#closing) return;
    const memory = (await readProcessMemory('self')) ?? null;
    if (this.#closing) return;
    const latency = this.#latency.encodeDelta(this.#holder.drainSamples());
    send({ type: 'report', stats: this.#holder.stats(), latency, memory, heapUsedBytes: getHeapStatistics().used_heap_size, rampDone: this.#rampDone() });
  }

  /** Pings every connection and answers when all have answered, or at the timeout. */
  async #ping(seq: number, timeoutMs: number): Promise<void> {
    // The window starts when the round is asked for, not when pingAll() returns: the
    // supervisor waits timeoutMs + 5 s from its send, and pingAll() blocks until every
    // PING is written, which on a saturated host takes longer than those 5 s. A worker
    // timing from after its writes answered after the supervisor had stopped listening
    // and counted for nothing: how the first million reported 0 verified (README).
    const asked = performance.now();
    this.#holder.pingAll(seq);
    // tcp: the kernel answered during pingAll() itself; nothing more can arrive. Over TLS,
    // a connection still in its handshake is verified when the handshake is done: wait.
    if (this.#config.role === 'client' && this.#config.protocol?.kind === 'tcp' && !this.#config.protocol.tls) timeoutMs = 0;
    const deadline = asked + timeoutMs;
    let stats = this.#holder.stats();
    while (stats.verified < stats.established && performance.now() < deadline && !this.#closing) {
      await new Promise((resolve) => setTimeout(resolve, PING_POLL_MS));
      stats = this.#holder.stats();
    }
    send({ type: 'pinged', seq, verified: stats.verified, established: stats.established, silent: stats.silent });
  }

  handle(message: ToWorker): void {
    if (message.type === 'ping') {
      void this.#ping(message.seq, message.timeoutMs);
    } else if (message.type === 'broadcast') {
      send({ type: 'broadcasted', seq: message.seq, written: this.#holder.broadcast(message.seq) });
    } else if (message.type === 'report') {
      void this.report();
    } else if (message.type === 'close') {
      void this.close();
    }
  }

  async close(): Promise<void> {
    if (this.#closing) return;
    await this.report();
    this.#closing = true;
    clearInterval(this.#reportTimer);
    clearInterval(this.#rampTimer);
    clearInterval(this.#churnTimer);
    await this.#holder.closeAll();
    const stats = this.#holder.stats();
    this.#holder.destroy();
    process.exitCode = 0;
    sendLast({ type: 'closed', stats });
  }
}

function fail(error: unknown): void {
  const code = isConnlabError(error) ? error.code : 'CONNLAB_ERR_WORKER';
  const message = error instanceof Error ? error.message : String(error);
  const errno = (error as { cause?: { code?: string } }).cause?.code;
  process.exitCode = 1;
  sendLast({ type: 'failed', code, message: errno ? `${message} (${errno})` : message });
}

let worker: Worker | undefined;

process.on('message', (message: unknown) => {
  if (!isToWorker(message)) return fail(new Error(`unexpected message ${JSON.stringify(message)}`));
  if (message.type === 'start') {
    if (worker) return fail(new Error('start sent twice'));
    try {
      worker = new Worker(message.config);
      worker.start().catch(fail);
    } catch (error) {
      fail(error);
    }
    return;
  }
  worker?.handle(message);
});

// A write to a supervisor that just went away fails with EPIPE on the channel; the
// 'disconnect' handler below is what acts on its going, so the error itself is no news.
process.on('error', (error: NodeJS.ErrnoException) => {
  if (error.code !== 'EPIPE' && !error.code?.startsWith('ERR_IPC_')) throw error;
});

// The channel closed. Either this worker closed it after its own close() or fail() (the
// 'closed' or 'failed' message is already written: the event comes after the channel's
// end) and exitCode says how it went, or the supervisor is gone and nobody is left to
// report to: a graceful closeAll() of 20,000 sockets would only keep them open longer.
process.on('disconnect', () => process.exit());
// Ctrl-C in a terminal and a stop signal to the whole group (systemd, kill -- -PGID)
// reach every worker too; the supervisor decides, and closes them with their books
// (a worker dying of SIGTERM first would be counted as a death and restarted).
process.on('SIGINT', () => {});
process.on('SIGTERM', () => {});
