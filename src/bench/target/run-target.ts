// `bench --target`: the experiment against a user's own server on loopback. load ramps
// in K steps to N; each step is its own load run (own source addresses, so no two steps
// share a four-tuple) that stays open to the end, is verified by a liveness round over
// every step so far, held, and then sampled: the server's processes (private memory,
// CPU), the socket slab caches and sockstat. A step that does not hold and verify all
// it asked for, or a server that is gone, ends the ramp; the closes and errors are then
// classified the way load classifies them. A stop (Ctrl-C, close()) skips to the
// teardown and still returns the result so far.

import { hostname } from 'node:os';
import { ConnlabError, invalidArgument } from '../../errors.ts';
import type { HolderChoice } from '../../engine/create-holder.ts';
import type { HostSnapshot } from '../../limits/snapshot.ts';
import { startLoad, type LoadHandle, type LoadResult } from '../../load/load.ts';
import type { ProtocolSettings } from '../../load/protocol-options.ts';
import { cpuBusyShare, sampleHost, type HostSample } from '../../probe/host-sample.ts';
import { counterDelta } from '../../probe/netstat.ts';
import { formatIpv4, isLoopback, type Destination, type Range } from '../../tuple/address.ts';
import { DEFAULT_SOURCE_PORTS, usableSourcePorts } from '../../tuple/plan.ts';
import { benchRunHandle, roundTimeoutMs, type BenchRunHandle, type StopReason } from '../run-bench.ts';
import type { BenchPhase, BenchResult, TimelinePoint } from '../result.ts';
import type { SampleRoots, ServerSample, ServerSource } from './server-processes.ts';
import { localProbe, remoteProbe, type RemoteServer, type TargetProbe } from './probe.ts';
import { extrapolate } from './extrapolate.ts';
import { buildTargetResult } from './target-summary.ts';
import { describeFailure, fitSteps, mergeExplained, stepTargets, type TargetBaseline, type TargetStep } from './target-result.ts';

export interface TargetBenchOptions {
  /** Where the server listens: loopback (127.0.0.0/8) with `server`; any address with `remote`. */
  destinations: Destination[];
  /** The server's processes on this host; or `remote`, for a server seen through its metrics. */
  server?: ServerSource;
  remote?: RemoteServer;
  connections: number;
  steps: number;
  /** How long each step is held after its liveness round, before it is sampled. */
  stepHoldMs: number;
  protocol: ProtocolSettings;
  host: HostSnapshot;
  kernelPoolSize: number;
  fdSoftLimit: number;
  ratePerSec?: number | null;
  holder?: HolderChoice;
  connectTimeoutMs?: number;
  command: string;
  sampleIntervalMs?: number;
  roots?: SampleRoots;
  /** Called with each step's load as it starts: a caller can watch its counters live. */
  onLoad?: (handle: LoadHandle) => void;
  /** Called with each step once it is sampled (ok or not). */
  onStep?: (step: TargetStep) => void;
  onPhase?: (phase: BenchPhase, step: number) => void;
}

export type TargetBenchRun = BenchRunHandle;

/** At most this many steps: each gets its own /16 of loopback sources, 127.1.0.0 onward. */
export const MAX_STEPS = 100;

/** Rejects what cannot run, naming the option, before anything starts. */
export function checkTargetOptions(o: Pick<TargetBenchOptions, 'destinations' | 'connections' | 'steps' | 'remote'> & { host?: Pick<HostSnapshot, 'ports'> }): void {
  const outside = o.destinations.find((d) => !isLoopback(d.ip));
  if (outside && !o.remote) throw invalidArgument('--target', `${formatIpv4(outside.ip)}:${outside.port}`, 'a loopback address (127.0.0.0/8): bench --target only measures servers on this host');
  if (o.destinations.length === 0) throw invalidArgument('--target', '', 'at least one address:port');
  if (!Number.isInteger(o.steps) || o.steps < 2 || o.steps > MAX_STEPS) throw invalidArgument('--steps', String(o.steps), `2 to ${MAX_STEPS} steps (a fit needs at least two)`);
  if (o.connections < o.steps) throw invalidArgument('--connections', String(o.connections), `at least one connection per step (--steps ${o.steps})`);
  if (o.remote) checkRemoteSteps(o.connections, o.steps, o.destinations, o.host?.ports.range);
}

/** Step `index`'s own loopback sources: 127.(index+1).0.1 onward, enough planned ports for `count`. */
export function stepSources(index: number, count: number, destinations: readonly Destination[]): Range[] {
  const perSource = usableSourcePorts(DEFAULT_SOURCE_PORTS, destinations).length * destinations.length;
  const first = 0x7f000001 + (index + 1) * 0x10000;
  return [{ first, last: first + Math.max(1, Math.ceil(count / perSource)) - 1 }];
}

const size = (r: Range): number => Math.max(0, r.last - r.first + 1);

/** Linux's default ip_local_port_range, when this host's is unknown. */
const LINUX_EPHEMERAL: Range = { first: 32768, last: 60999 };

/**
 * Planned source ports toward a remote server: the larger block of 10000-65000 outside
 * the kernel's ephemeral range. The metrics scrapes (and every other client here) take
 * ephemeral ports from the same address: a planned port inside that range can be taken
 * between two steps, and the step's bind fails with EADDRINUSE (seen: step 3 of 4).
 */
export function remotePortBlock(ephemeral: Range | undefined): Range {
  const e = ephemeral ?? LINUX_EPHEMERAL;
  const below = { first: DEFAULT_SOURCE_PORTS.first, last: Math.min(DEFAULT_SOURCE_PORTS.last, e.first - 1) };
  const above = { first: Math.max(DEFAULT_SOURCE_PORTS.first, e.last + 1), last: DEFAULT_SOURCE_PORTS.last };
  return size(below) >= size(above) ? below : above;
}

/** Step `index`'s own planned source ports toward a remote server: a disjoint slice of remotePortBlock each. */
export function remoteStepPorts(index: number, steps: number, ephemeral?: Range): Range {
  const block = remotePortBlock(ephemeral);
  const width = Math.floor(size(block) / steps);
  const first = block.first + index * width;
  return { first, last: first + width - 1 };
}

/** Toward another host the source address is the kernel's one: each step's ports must cover its connections. */
function checkRemoteSteps(connections: number, steps: number, destinations: readonly Destination[], ephemeral: Range | undefined): void {
  const width = size(remoteStepPorts(0, steps, ephemeral));
  const needed = Math.max(...stepTargets(connections, steps).map((t, i, all) => t - (all[i - 1] ?? 0)));
  if (needed > width * destinations.length) {
    throw invalidArgument('--connections', String(connections), `at most ${width * destinations.length} per step toward ${destinations.length} remote destination(s) from one source address (${steps} steps × ${width} ports outside the ephemeral range): more steps or more target ports`);
  }
}

const privateOf = (handles: readonly LoadHandle[]): number =>
  handles.reduce((sum, h) => sum + h.pool.workers.reduce((s, w) => s + (w.report?.memory?.privateBytes ?? 0), 0), 0);
const heldBy = (handles: readonly LoadHandle[]): number => handles.reduce((sum, h) => sum + h.pool.totals().established, 0);
const slabTotal = (sample: HostSample): number => Object.values(sample.slabBytes).reduce((a, b) => a + b, 0);

class TargetBench {
  readonly #o: TargetBenchOptions;
  readonly #handles: LoadHandle[] = [];
  readonly #steps: TargetStep[] = [];
  readonly #timeline: TimelinePoint[] = [];
  readonly #t0 = performance.now();
  readonly #startedAt = new Date();
  #phase: BenchPhase = 'start';
  #baseHost: HostSample | undefined;
  #lastHost: HostSample | undefined;
  #lastServer: ServerSample | undefined;
  #sampling: Promise<void> = Promise.resolve();
  #stopReason: StopReason | undefined;
  #onStop: () => void = () => {};
  readonly #stopped = new Promise<void>((resolve) => (this.#onStop = resolve));

  readonly #probe: TargetProbe;

  constructor(options: TargetBenchOptions) {
    checkTargetOptions(options);
    this.#o = options;
    if (options.remote) this.#probe = remoteProbe(options.remote);
    else if (options.server) this.#probe = localProbe(options.server, options.roots);
    else throw new ConnlabError('CONNLAB_ERR_USAGE', 'bench --target needs the server: its PID or cgroup on this host, or its metrics endpoints', { hint: 'pass --server-pid, --server-cgroup or --server-metrics URL' });
  }

  stop(reason: StopReason): void {
    this.#stopReason ??= reason;
    this.#onStop();
  }

  destroy(): void {
    for (const h of this.#handles) h.destroy();
  }

  #seconds(): number {
    return Math.round(performance.now() - this.#t0) / 1000;
  }

  async #until<T>(work: Promise<T>): Promise<T | undefined> {
    return Promise.race([work, this.#stopped.then(() => undefined)]);
  }

  async #sleep(ms: number): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    await this.#until(new Promise((resolve) => (timer = setTimeout(resolve, ms))));
    clearTimeout(timer);
  }

  /** One timeline point: the host, the server's processes and what load holds. */
  async #tick(): Promise<void> {
    const { host, server } = await this.#probe.sample();
    const before = this.#lastHost ?? host;
    this.#lastHost = host;
    this.#lastServer = server;
    const held = heldBy(this.#handles);
    this.#timeline.push({
      t: this.#seconds(), phase: this.#phase, kernel_sockets: host.tcpInUse,
      // The server's own count is not ours to read: what load holds is what it holds.
      server_connections: held, load_connections: held,
      slab_bytes: host.slabBytes, meminfo_slab_bytes: host.meminfoSlabBytes, mem_available_bytes: host.memAvailableBytes,
      server_private_bytes: server.privateBytes, load_private_bytes: privateOf(this.#handles),
      server_heap_bytes: 0, load_heap_bytes: 0,
      cpu_busy: Math.round(cpuBusyShare(before.cpu, host.cpu) * 1000) / 1000,
      netstat: counterDelta((this.#baseHost ?? host).netstat, host.netstat),
    });
  }

  #enter(phase: BenchPhase, step: number): void {
    this.#phase = phase;
    this.#o.onPhase?.(phase, step);
  }

  async run(): Promise<BenchResult> {
    const { host: baseHost, server: first } = await this.#probe.sample();
    this.#checkFirst(first);
    this.#baseHost = baseHost;
    await this.#tick();
    const ticker = setInterval(() => {
      this.#sampling = this.#sampling.then(() => this.#tick()).catch(() => {});
    }, this.#o.sampleIntervalMs ?? 1000);
    try {
      return await this.#phases(first);
    } finally {
      clearInterval(ticker);
      await this.#sampling;
    }
  }

  /** The server must be there before the first connection (and, remote, answer its metrics). */
  #checkFirst(first: ServerSample): void {
    const s = this.#o.server;
    const remote = this.#probe.remote();
    if (remote && remote.endpoints.every((e) => e.error !== null)) {
      throw new ConnlabError('CONNLAB_ERR_INVALID_ARGUMENT', `--server-metrics: no endpoint answered (${remote.endpoints.map((e) => `${e.url}: ${e.error}`).join('; ')})`, {
        hint: 'check the URLs from this host: curl -s URL | head',
      });
    }
    if (first.alive || !s) return;
    const what = 'pid' in s ? `--server-pid ${s.pid}: no such process` : `--server-cgroup ${s.cgroup}: no process in it`;
    throw new ConnlabError('CONNLAB_ERR_INVALID_ARGUMENT', what, { hint: 'start the server first and pass its PID (pgrep -o nginx) or its cgroup (systemctl show -p ControlGroup UNIT)' });
  }

  async #phases(first: ServerSample): Promise<BenchResult> {
    const baseline: TargetBaseline = {
      server_private_bytes: first.privateBytes, server_private_dirty_bytes: first.privateDirtyBytes, server_pss_bytes: first.pssBytes,
      kernel_sockets: this.#baseHost?.tcpInUse ?? 0, slab_bytes: this.#baseHost ? slabTotal(this.#baseHost) : 0,
    };
    let failed: { step: TargetStep; alive: boolean } | undefined;
    let results: LoadResult[] = [];
    try {
      const targets = stepTargets(this.#o.connections, this.#o.steps);
      for (let i = 0; i < targets.length && !this.#stopReason && !failed; i++) {
        const { step, alive } = await this.#step(i, targets[i] ?? 0, targets[i - 1] ?? 0);
        if (this.#stopReason && !step.ok) break;
        this.#steps.push(step);
        this.#o.onStep?.(step);
        if (!step.ok) failed = { step, alive };
      }
    } finally {
      this.#enter('teardown', this.#steps.length);
      await this.#sampling;
      const now = (await this.#probe.sample().catch(() => undefined))?.host ?? this.#baseHost ?? await sampleHost();
      const overflows = counterDelta(this.#baseHost?.netstat ?? now.netstat, now.netstat)['TcpExt.ListenOverflows'] ?? 0;
      results = await Promise.all(this.#handles.map((h) => h.close({ listenOverflowsRose: overflows > 0 }).catch(() => undefined)))
        .then((all) => all.filter((r): r is LoadResult => r !== undefined));
    }
    const explained = mergeExplained(results.map((r) => r.explained));
    const failure = failed ? describeFailure(failed.step, failed.alive, explained) : null;
    const outcome: BenchResult['outcome'] = failure ? 'failed' : this.#stopReason ?? 'completed';
    return this.#result(outcome, baseline, failure, results);
  }

  /** Ramps one step's new connections, verifies everything held so far, holds, samples. */
  async #step(index: number, target: number, before: number): Promise<{ step: TargetStep; alive: boolean }> {
    const o = this.#o;
    const cpuBefore = (this.#lastServer ?? (await this.#probe.sample()).server).cpuSeconds;
    this.#enter('ramp', index + 1);
    const handle = await startLoad({
      destinations: o.destinations, connections: target - before,
      ...(o.remote ? { sourcePorts: remoteStepPorts(index, o.steps, o.host.ports.range) } : { sourceIps: stepSources(index, target - before, o.destinations) }),
      fdSoftLimit: o.fdSoftLimit, kernelPoolSize: o.kernelPoolSize, protocol: o.protocol,
      ratePerSec: o.ratePerSec, holder: o.holder, connectTimeoutMs: o.connectTimeoutMs,
    });
    this.#handles.push(handle);
    o.onLoad?.(handle);
    await this.#until(handle.rampDone());
    let verified = 0;
    if (!this.#stopReason) {
      this.#enter('verify', index + 1);
      const rounds = await this.#until(Promise.all(this.#handles.map((h) => h.ping(roundTimeoutMs(target)).catch(() => ({ verified: 0 })))));
      verified = rounds?.reduce((sum, r) => sum + r.verified, 0) ?? 0;
    }
    if (!this.#stopReason) {
      this.#enter('hold', index + 1);
      await this.#sleep(o.stepHoldMs);
    }
    await Promise.all(this.#handles.map((h) => h.pool.refresh().catch(() => {})));
    const sample = await this.#probe.sample();
    const { host, server } = sample;
    this.#probe.recordStep(sample);
    const established = heldBy(this.#handles);
    const step: TargetStep = {
      step: index + 1, target, established, verified, t: this.#seconds(),
      server_private_bytes: server.privateBytes, server_private_dirty_bytes: server.privateDirtyBytes,
      server_pss_bytes: server.pssBytes, server_processes: server.pids.length,
      server_cpu_seconds: Math.round(Math.max(0, server.cpuSeconds - cpuBefore) * 100) / 100,
      kernel_sockets: host.tcpInUse, slab_bytes: slabTotal(host),
      cgroup_memory_bytes: server.cgroup?.memoryCurrentBytes ?? null,
      ok: server.alive && established >= target && verified >= established,
    };
    if (server.alive) this.#lastServer = server;
    return { step, alive: server.alive };
  }

  #result(outcome: BenchResult['outcome'], baseline: TargetBaseline, failure: ReturnType<typeof describeFailure> | null, loads: LoadResult[]): BenchResult {
    const o = this.#o;
    const { fit, kernel } = fitSteps(baseline, this.#steps);
    const server = this.#lastServer;
    const extrapolation = extrapolate(this.#probe.snapshot(o.host), {
      userBytesPerConnection: fit.bytes_per_connection, processes: Math.max(1, server?.holders.length ?? 1),
      fdSoftLimit: server?.fdSoftLimit, fdHardLimit: server?.fdHardLimit,
    }, o.remote ? 'on that host' : 'here');
    return buildTargetResult({
      options: o, remote: this.#probe.remote(), outcome, baseline, steps: this.#steps, fit, kernelFit: kernel, failure, extrapolation, loads,
      server, loadPrivateBytes: privateOf(this.#handles), timeline: this.#timeline,
      machine: {
        hostname: hostname(), kernel: o.host.kernelRelease ?? 'unknown', cpus: o.host.cpus ?? 0,
        memory_bytes: o.host.memory.totalBytes ?? 0, node: process.version, fd_limit: o.host.fds.processSoft ?? 0,
      },
      startedAt: this.#startedAt.toISOString(),
      deaths: loads.flatMap((r) => r.deaths),
    });
  }
}

export function startTargetBench(options: TargetBenchOptions): TargetBenchRun {
  const bench = new TargetBench(options);
  return benchRunHandle(bench, bench.run());
}
