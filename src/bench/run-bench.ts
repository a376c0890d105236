// The million-connection experiment on one host: serve and load on loopback, ramp, hold,
// verify, broadcast, tear down, with a timeline sampled once a second throughout (on a
// thread of its own: host-sampler.ts, so a busy supervisor leaves no gaps). A stop
// (Ctrl-C, SIGTERM, close()) at any phase skips to the teardown and still returns the
// result so far, with the time actually held and the last memory measured; every worker
// is ended by the pools, gracefully and then by PID. A serve worker that crash-loops
// ends the run with CONNLAB_ERR_CRASH_LOOP after the same teardown.

import { hostname } from 'node:os';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import type { LoadResult } from '../load/load.ts';
import { startLoad, type LoadHandle } from '../load/load.ts';
import type { HostSnapshot } from '../limits/snapshot.ts';
import { cpuBusyShare, sampleHostSync, type HostSample } from '../probe/host-sample.ts';
import { startHostSampler } from '../probe/host-sampler.ts';
import { counterDelta } from '../probe/netstat.ts';
import { startServe, type ServeHandle } from '../server/serve.ts';
import { Lifecycle } from '../engine/lifecycle.ts';
import { checkBooks } from '../engine/books.ts';
import { LatencyWindow } from '../engine/latency.ts';
import { deathRecords, type WorkerPool } from '../engine/worker-pool.ts';
import type { WorkerRuntimeChoice } from '../engine/worker-process.ts';
import { makeThrowawayCert, measureHandshakes, poolCpuSeconds, type BenchTlsSection, type ThrowawayCert } from './bench-tls.ts';
import { ConnlabError } from '../errors.ts';
import { benchLimits, planBench, type BenchPlan } from './plan-bench.ts';
import { BENCH_SCHEMA, type BenchPhase, type BenchResult, type TimelinePoint } from './result.ts';

export interface BenchOptions {
  connections: number;
  holdMs: number;
  host: HostSnapshot;
  /** Ports in ip_local_port_range less reserved ones. */
  kernelPoolSize: number;
  /** A free port on 127.0.0.1 for serve. */
  port: number;
  command: string;
  /** Worker processes in C or Node for both sides; auto: C when built. */
  workerRuntime?: WorkerRuntimeChoice;
  /** Both ends speak TLS (serve with a throwaway certificate, load trusting it): bench-tls.ts. */
  tls?: boolean;
  sampleIntervalMs?: number;
  onProgress?: (progress: BenchProgress) => void;
  /** Called as each phase begins. */
  onPhase?: (phase: BenchPhase) => void;
  /** Called with each worker pool as it starts, so metrics and the dashboard can watch it. */
  onPool?: (pool: WorkerPool, role: 'server' | 'load') => void;
  /** Called with each timeline point as it is taken (the live dashboard draws them); t counts from startedAtMs. */
  onSample?: (point: TimelinePoint, startedAtMs: number) => void;
}

export interface BenchProgress {
  phase: BenchPhase;
  established: number;
  target: number;
  connectsPerSecond: number;
  seconds: number;
}

export type StopReason = 'SIGINT' | 'SIGTERM' | 'stopped';

/** A running bench of either kind (this one, or `--target`'s): one lifecycle for both. */
export interface BenchRunHandle {
  done: Promise<BenchResult>;
  /** Ends the run early, recording `reason` as the outcome; the result is still produced. */
  stop(reason: StopReason): void;
  /** Ends the run early (outcome `stopped` unless a stop came first): `done`. Idempotent. */
  close(): Promise<BenchResult>;
  /** Ends every worker by PID now. Idempotent. */
  destroy(): void;
}

export interface BenchRun extends BenchRunHandle {
  plan: BenchPlan;
}

/** The handle over a run: close() is stop('stopped') then `done`, once; destroy() once. */
export function benchRunHandle(run: { stop(reason: StopReason): void; destroy(): void }, done: Promise<BenchResult>): BenchRunHandle {
  const lifecycle = new Lifecycle<BenchResult>('bench');
  return {
    done,
    stop: (reason) => run.stop(reason),
    close: () => lifecycle.close(() => {
      run.stop('stopped');
      return done;
    }),
    destroy: () => lifecycle.destroy(() => run.destroy()),
  };
}

/**
 * How long a ping round or a broadcast may take: every connection costs four syscalls
 * and two loopback traversals, all on this host's CPUs. A million took 38 s to verify on
 * 2 cores (the last worker's round), so the window grows with the count.
 */
export function roundTimeoutMs(connections: number): number {
  return Math.max(30_000, Math.ceil(connections * 0.12));
}

function poolMemory(pool: WorkerPool | undefined): { privateBytes: number; heapBytes: number } {
  let privateBytes = 0;
  let heapBytes = 0;
  for (const w of pool?.workers ?? []) {
    privateBytes += w.report?.memory?.privateBytes ?? 0;
    heapBytes += w.report?.heapUsedBytes ?? 0;
  }
  return { privateBytes, heapBytes };
}

/** The fewest and most connections one live worker of `pool` held at its last report. */
function heldSpread(pool: WorkerPool): { min: number; max: number } | undefined {
  const held = pool.workers.filter((w) => !w.exited && w.report).map((w) => w.report?.stats.established ?? 0);
  return held.length > 0 && held.some((n) => n > 0) ? { min: Math.min(...held), max: Math.max(...held) } : undefined;
}

class Bench {
  readonly plan: BenchPlan;
  readonly #options: BenchOptions;
  readonly #timeline: TimelinePoint[] = [];
  readonly #startedAt = new Date();
  readonly #t0 = performance.now();
  /** The wall clock (performance.timeOrigin-based, ms) at #t0: sampler threads stamp in it. */
  readonly #t0Ms = performance.timeOrigin + this.#t0;
  #phase: BenchPhase = 'start';
  /** When each phase began (same clock as #t0Ms): a sample belongs to the phase of its time. */
  readonly #phaseLog: { atMs: number; phase: BenchPhase }[] = [{ atMs: -Infinity, phase: 'start' }];
  /** The supervisor's event-loop delay since the previous timeline point. */
  readonly #loopDelay = monitorEventLoopDelay({ resolution: 20 });
  /** Load's latencies since the previous timeline point. */
  readonly #latency = new LatencyWindow();
  #serve: ServeHandle | undefined;
  #load: LoadHandle | undefined;
  #baseline: HostSample | undefined;
  #last: HostSample | undefined;
  #stopReason: StopReason | undefined;
  #failure: ConnlabError | undefined;
  #holdStartMs: number | undefined;
  #tls: BenchTlsSection | undefined;
  #holdEndMs: number | undefined;
  /** SO_REUSEPORT's spread over the serve workers after the liveness round. */
  #serverHeld: { min: number; max: number } | undefined;
  #onStop: () => void = () => {};
  readonly #stopped = new Promise<void>((resolve) => (this.#onStop = resolve));

  constructor(options: BenchOptions) {
    this.#options = options;
    this.plan = planBench(options.host, options.connections);
  }

  stop(reason: StopReason): void {
    this.#stopReason ??= reason;
    this.#onStop();
  }

  destroy(): void {
    this.#load?.destroy();
    this.#serve?.destroy();
  }

  #seconds(): number {
    return (performance.now() - this.#t0) / 1000;
  }

  /** Sleeps, waking early on a stop; the timer never outlives the wait. */
  async #sleep(ms: number): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    await this.#until(new Promise((resolve) => (timer = setTimeout(resolve, ms))));
    clearTimeout(timer);
  }

  /** Waits for `work`, or returns undefined at once if the run is stopped first. */
  async #until<T>(work: Promise<T>): Promise<T | undefined> {
    return Promise.race([work, this.#stopped.then(() => undefined)]);
  }

  #phaseAt(atMs: number): BenchPhase {
    let phase: BenchPhase = 'start';
    for (const entry of this.#phaseLog) if (entry.atMs <= atMs) phase = entry.phase;
    return phase;
  }

  /** Adds a timeline point for a host sample taken at `atMs` (the sampler's clock). */
  #record(atMs: number, now: HostSample, readMs: number, slabAgeMs = 0): void {
    const before = this.#last ?? now;
    this.#last = now;
    const base = this.#baseline ?? now;
    const server = poolMemory(this.#serve?.pool);
    const load = poolMemory(this.#load?.pool);
    const loopDelayMs = this.#loopDelay.max / 1e6;
    this.#loopDelay.reset();
    const latency = this.#latency.take();
    this.#timeline.push({
      t: Math.round(atMs - this.#t0Ms) / 1000,
      phase: this.#phaseAt(atMs),
      kernel_sockets: now.tcpInUse,
      server_connections: this.#serve?.pool.sum((s) => s.established) ?? 0,
      load_connections: this.#load?.pool.sum((s) => s.established) ?? 0,
      slab_bytes: now.slabBytes,
      meminfo_slab_bytes: now.meminfoSlabBytes,
      mem_available_bytes: now.memAvailableBytes,
      server_private_bytes: server.privateBytes,
      load_private_bytes: load.privateBytes,
      server_heap_bytes: server.heapBytes,
      load_heap_bytes: load.heapBytes,
      cpu_busy: Math.round(cpuBusyShare(before.cpu, now.cpu) * 1000) / 1000,
      netstat: counterDelta(base.netstat, now.netstat),
      sample_read_ms: Math.round(readMs * 10) / 10,
      slab_age_ms: Math.round(slabAgeMs),
      loop_delay_ms: Math.round(loopDelayMs),
      ...(Object.keys(latency).length > 0 ? { latency_ms: latency } : {}),
    });
    this.#options.onSample?.(this.#timeline.at(-1) as TimelinePoint, this.#startedAt.getTime());
    const progress = this.#load?.progress();
    this.#options.onProgress?.({
      phase: this.#phase,
      established: progress?.established ?? 0,
      target: this.#options.connections,
      connectsPerSecond: progress?.connectsPerSecond ?? 0,
      seconds: this.#seconds(),
    });
  }

  /** A sample taken here and now, on the main thread (a phase boundary). */
  #sampleNow(): void {
    const start = performance.now();
    const now = sampleHostSync();
    this.#record(performance.timeOrigin + start, now, performance.now() - start);
  }

  /**
   * Closes the current phase with a sample of current counts, then enters the next, so
   * a phase shorter than the sampling interval (a 0.5 s ramp) still shows in the timeline.
   */
  async #enter(phase: BenchPhase): Promise<void> {
    await Promise.all([this.#serve?.pool.refresh(), this.#load?.pool.refresh()].filter(Boolean));
    this.#sampleNow();
    this.#phase = phase;
    this.#phaseLog.push({ atMs: performance.timeOrigin + performance.now(), phase });
    this.#options.onPhase?.(phase);
  }

  async run(): Promise<BenchResult> {
    if (!this.plan.fits) {
      const b = this.plan.binding;
      throw new ConnlabError('CONNLAB_ERR_IMPOSSIBLE_TARGET',
        `this host cannot hold ${this.#options.connections.toLocaleString('en-US')} connections with both ends here: ${b?.name} allows ${b?.allows.toLocaleString('en-US')} (${b?.error})`,
        { hint: this.plan.report.advice[0]?.line ?? 'run connlab doctor --role both --connections N for the advice' });
    }
    this.#baseline = sampleHostSync();
    this.#last = this.#baseline;
    this.#loopDelay.enable();
    const sampler = startHostSampler({
      intervalMs: this.#options.sampleIntervalMs ?? 1000,
      onSample: ({ atMs, readMs, slabAgeMs, sample }) => this.#record(atMs, sample, readMs, slabAgeMs),
    });
    // Up before the workers start: a thread started among 100 forking processes took 3 s
    // to load and left the start of the timeline empty.
    await Promise.race([sampler.ready, new Promise((resolve) => setTimeout(resolve, 5_000).unref())]);
    try {
      const result = await this.#phases();
      if (this.#failure) throw this.#failure;
      return result;
    } finally {
      await sampler.stop();
      this.#loopDelay.disable();
    }
  }

  /** serve gave up restarting a worker: end the run, then fail with its error. */
  #fail(error: ConnlabError): void {
    this.#failure ??= error;
    this.#stopReason ??= 'stopped';
    this.#onStop();
  }

  async #phases(): Promise<BenchResult> {
    const o = this.#options;
    let held: HostSample | undefined;
    let verified = 0;
    let written = 0;
    let loadResult: LoadResult | undefined;
    let privateAtHold = { server: 0, load: 0 };
    let outcome: BenchResult['outcome'] = 'completed';
    let cert: ThrowawayCert | undefined;
    try {
      cert = o.tls ? makeThrowawayCert() : undefined;
      this.#serve = await startServe({
        listen: [{ host: '127.0.0.1', port: o.port }], connections: o.connections, workers: this.plan.serverWorkers,
        fdSoftLimit: o.host.fds.processSoft ?? 1024, workerRuntime: o.workerRuntime, ...(cert ? { tls: { certFile: cert.certFile, keyFile: cert.keyFile } } : {}),
      });
      this.#serve.on('failed', (error) => this.#fail(error));
      o.onPool?.(this.#serve.pool, 'server');
      await this.#enter('ramp');
      const serverCpuAtRamp = poolCpuSeconds(this.#serve.pool);
      this.#load = await startLoad({
        destinations: [{ ip: 0x7f000001, port: o.port }], connections: o.connections, workers: this.plan.loadWorkers,
        fdSoftLimit: o.host.fds.processSoft ?? 1024, kernelPoolSize: o.kernelPoolSize, workerRuntime: o.workerRuntime,
        protocol: cert ? { kind: 'connlab', tls: { caFile: cert.certFile } } : 'connlab',
      });
      this.#load.pool.on('report', (_index, report) => this.#latency.add(report));
      o.onPool?.(this.#load.pool, 'load');
      const rampSeconds = await this.#until(this.#load.rampDone());
      if (cert && rampSeconds !== undefined) await this.#measureHandshakes(serverCpuAtRamp, rampSeconds);
      if (!this.#stopReason) {
        await this.#enter('hold');
        this.#holdStartMs = performance.now();
        await this.#sleep(o.holdMs);
        this.#holdEndMs = performance.now();
      }
      if (!this.#stopReason) {
        await this.#enter('verify');
        verified = (await this.#load.ping(roundTimeoutMs(o.connections))).verified;
        await Promise.all([this.#serve.pool.refresh(), this.#load.pool.refresh()]);
        this.#serverHeld = heldSpread(this.#serve.pool);
        held = sampleHostSync();
        privateAtHold = { server: poolMemory(this.#serve.pool).privateBytes, load: poolMemory(this.#load.pool).privateBytes };
      }
      if (!this.#stopReason) {
        await this.#enter('broadcast');
        written = (await this.#serve.broadcast()).written;
        const load = this.#load;
        const deadline = performance.now() + roundTimeoutMs(o.connections);
        while (!this.#stopReason && performance.now() < deadline) {
          await load.pool.refresh();
          if (load.pool.sum((s) => s.broadcastsReceived) >= written) break;
          await this.#sleep(200);
        }
      }
    } catch (error) {
      outcome = 'failed';
      throw error;
    } finally {
      this.#holdEndMs ??= performance.now();
      await this.#enter('teardown').catch(() => {});
      // Stopped before the verify round measured it: the teardown's sample, taken
      // before anything closed, is the last memory measured.
      if (!held) {
        held = this.#last;
        privateAtHold = { server: poolMemory(this.#serve?.pool).privateBytes, load: poolMemory(this.#load?.pool).privateBytes };
      }
      loadResult = await this.#load?.close().catch(() => undefined);
      await this.#serve?.close().catch(() => undefined);
      cert?.remove();
    }
    if (this.#failure) outcome = 'failed';
    else if (this.#stopReason) outcome = this.#stopReason;
    return this.#result(outcome, held, verified, privateAtHold, loadResult);
  }

  /** At the end of a TLS ramp (every handshake done or failed): what the handshakes cost. */
  async #measureHandshakes(serverCpuAtRamp: number, rampSeconds: number): Promise<void> {
    if (!this.#serve || !this.#load) return;
    this.#tls = await measureHandshakes({
      serve: this.#serve.pool, load: this.#load.pool, serverCpuAtRamp, rampSeconds,
      timeoutMs: roundTimeoutMs(this.#options.connections), sleep: (ms) => this.#sleep(ms), stopped: () => this.#stopReason !== undefined,
    });
  }

  /** Seconds the connections were held: from the hold's start to its end or the stop. */
  /** Each side's books, and whether both balance (a side that never started has none). */
  #books(load: LoadResult | undefined): Pick<BenchResult, 'books' | 'books_balanced'> {
    const pool = this.#serve?.pool;
    const server = pool ? checkBooks(pool.totals(), 'server', pool.deaths.reduce((sum, d) => sum + d.lostConnections, 0)) : null;
    const loadBooks = load?.books ?? null;
    return { books: { server, load: loadBooks }, books_balanced: (server?.balanced ?? true) && (loadBooks?.balanced ?? true) };
  }

  #heldSeconds(): number {
    if (this.#holdStartMs === undefined) return 0;
    return Math.round(((this.#holdEndMs ?? performance.now()) - this.#holdStartMs) / 10) / 100;
  }

  #result(outcome: BenchResult['outcome'], held: HostSample | undefined, verified: number, privateAt: { server: number; load: number }, load: LoadResult | undefined): BenchResult {
    const o = this.#options;
    const base = this.#baseline;
    const established = load?.connections.established ?? 0;
    const byCache: Record<string, number> = {};
    let kernelBytes = 0;
    if (held && base && established > 0) {
      for (const [name, bytes] of Object.entries(held.slabBytes)) {
        const delta = bytes - (base.slabBytes[name] ?? 0);
        byCache[name] = Math.round(delta / established);
        kernelBytes += delta;
      }
    }
    const perConnection = (bytes: number): number => (established > 0 ? Math.round(bytes / established) : 0);
    const serveErrors = this.#serve?.pool.totals().errors ?? {};
    const errors: Record<string, number> = { ...(load?.errors ?? {}) };
    for (const [errno, n] of Object.entries(serveErrors)) errors[errno] = (errors[errno] ?? 0) + n;
    return {
      schema: BENCH_SCHEMA,
      connections: { target: o.connections, established, verified },
      ramp: load?.ramp ?? { seconds: 0, per_second: 0, connect_ms: { p50: 0, p99: 0, max: 0, count: 0 } },
      memory: {
        kernel_bytes_per_connection: perConnection(kernelBytes),
        server_user_bytes_per_connection: perConnection(privateAt.server),
        load_user_bytes_per_connection: perConnection(privateAt.load),
        kernel_by_cache: byCache,
        kernel_expected_bytes_per_connection: 2 * o.host.socketCost.kernelBytesPerSocket,
        server_private_bytes: privateAt.server,
        load_private_bytes: privateAt.load,
      },
      broadcast: {
        p50_ms: load?.broadcast.latency_ms.p50 ?? 0,
        p99_ms: load?.broadcast.latency_ms.p99 ?? 0,
        max_ms: load?.broadcast.latency_ms.max ?? 0,
        delivered: load?.broadcast.received ?? 0,
      },
      limits: benchLimits(this.plan),
      errors,
      processes: {
        server: this.#serve?.pool.workers.length ?? 0,
        load: this.#load?.pool.workers.length ?? 0,
        ...(this.#serverHeld ? { server_held: this.#serverHeld } : {}),
      },
      worker_runtime: this.#serve?.pool.runtime ?? this.#load?.pool.runtime ?? null,
      outcome,
      hold_seconds: this.#heldSeconds(),
      hold_requested_seconds: o.holdMs / 1000,
      deaths: { server: deathRecords(this.#serve?.pool.deaths ?? []), load: deathRecords(this.#load?.pool.deaths ?? []) },
      ...this.#books(load),
      machine: {
        hostname: hostname(),
        kernel: o.host.kernelRelease ?? 'unknown',
        cpus: o.host.cpus ?? 0,
        memory_bytes: o.host.memory.totalBytes ?? 0,
        node: process.version,
        fd_limit: o.host.fds.processSoft ?? 0,
      },
      started_at: this.#startedAt.toISOString(),
      command: o.command,
      // Main-thread phase samples and the sampler thread's interleave: in time order.
      timeline: this.#timeline.sort((a, b) => a.t - b.t),
      ...(load ? { histograms: load.histograms } : {}),
      ...(this.#tls ? { tls: this.#tls } : {}),
    };
  }
}

export function startBench(options: BenchOptions): BenchRun {
  const bench = new Bench(options);
  return { plan: bench.plan, ...benchRunHandle(bench, bench.run()) };
}
