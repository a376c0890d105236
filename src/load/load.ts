// connlab load as a library: plans the four-tuples, spreads them over client workers,
// ramps, verifies with a ping round, and closes. The workers' latency histograms are
// added here; counters are summed from the workers' latest snapshots.

import { resolveHolderKind, type HolderChoice } from '../engine/create-holder.ts';
import { ConnlabError } from '../errors.ts';
import type { HolderStats, ProtocolCodes, ProtocolKind, TlsStats } from '../engine/holder.ts';
import { LatencyMerger, type LatencySummaryMs } from '../engine/latency.ts';
import { Lifecycle } from '../engine/lifecycle.ts';
import type { ClientWorkerConfig } from '../engine/messages.ts';
import { RateMeter, STATS_RATE_INTERVAL_MS } from '../engine/rate-meter.ts';
import { clientWorkersFor } from '../engine/sizing.ts';
import { checkBooks, type Books } from '../engine/books.ts';
import { deathRecords, WorkerPool, type DeathRecord, type StallRecord } from '../engine/worker-pool.ts';
import { shardRate, shardShare, type ShardSpec } from '../shard/shard.ts';
import { resolveWorkerRuntime, type WorkerRuntimeChoice } from '../engine/worker-process.ts';
import { formatDestination, type ResolvedName } from '../target/resolve-targets.ts';
import { isLoopback, isLoopbackDestination, type Destination, type Range } from '../tuple/address.ts';
import { parseSources6, type Sources6 } from '../tuple/ipv6.ts';
import { DEFAULT_SOURCE_PORTS, loopbackSourcesFor, planTuples, type PlanInput, type TuplePlan } from '../tuple/plan.ts';
import { readTupleOccupancy, type TupleOccupancy } from '../probe/socket-table.ts';
import { classifyCloses, classifyErrors, type Classification, type ClassifyContext } from './classify.ts';
import { protocolOptions, type ProtocolSettings } from './protocol-options.ts';
import { RampTracker } from './ramp-tracker.ts';

export interface LoadOptions {
  destinations: Destination[];
  connections: number;
  /** undefined: 127.0.0.2 onward when every destination is loopback, else the kernel's choice. */
  sourceIps?: Range[];
  /** Sources for IPv6 destinations (src/tuple/ipv6.ts); undefined: the kernel's choice. */
  sourceIps6?: Sources6;
  /** What names resolved to (for the result; the destinations already hold the addresses). */
  resolved?: ResolvedName[];
  sourcePorts?: Range | 'kernel';
  /** Connects per second over all workers; null or undefined: as fast as the window allows. */
  ratePerSec?: number | null;
  workers?: number | 'auto';
  holder?: HolderChoice;
  /** Worker processes in C (no V8) or in Node; auto: C when built and the holder is native. */
  workerRuntime?: WorkerRuntimeChoice;
  /** The per-process open-file soft limit workers inherit. */
  fdSoftLimit: number;
  /** Ports in ip_local_port_range (minus reserved): the kernel's pool per destination. */
  kernelPoolSize: number;
  connectTimeoutMs?: number;
  /** Connects in flight per worker at most. */
  maxPendingPerWorker?: number;
  reportIntervalMs?: number;
  /** After the ramp, the share of connections reset and reconnected each second, in percent. */
  churnPercentPerSec?: number;
  /**
   * What each connection speaks (default `tcp`: connect and hold, never a byte). Only
   * `connlab` sends connlab's frames: pass it against connlab serve.
   */
  protocol?: ProtocolKind | ProtocolSettings;
  /** This host's shard: `connections` and `ratePerSec` are then totals over all shards. */
  shard?: ShardSpec;
  /** How long close() waits for a worker's final report before killing it (default 10 s). */
  closeTimeoutMs?: number;
}

export interface RampSummary {
  seconds: number;
  per_second: number;
  connect_ms: LatencySummaryMs;
}

/** The contract keys of design.md (`connections`, `ramp`, `errors`), plus load's own. */
export interface LoadResult {
  schema: 'connlab.load/1';
  /**
   * `established`: held at the end of the hold (just before load closed them); `peak`:
   * the most held at once; `verified`: those that passed the last liveness round (what
   * that proves depends on `protocol`); `silent`: at that round, held connections that
   * had never received a byte.
   */
  connections: { target: number; established: number; verified: number; peak: number; silent: number };
  protocol: ProtocolKind;
  ramp: RampSummary;
  ping: { rtt_ms: LatencySummaryMs };
  broadcast: { received: number; latency_ms: LatencySummaryMs };
  errors: Record<string, number>;
  explained: (Classification & { count: number })[];
  /** By reason; `lost`: held by a worker that died (named in `deaths`). */
  closed: HolderStats['closed'];
  /** Workers that died during the run (load does not restart them). */
  deaths: DeathRecord[];
  /** connected = held + the sum of closed (less connects that never completed), and closed.lost = what `deaths` lost. */
  books_balanced: boolean;
  /** null only in a merge with a part from before books were kept. */
  books: Books | null;
  /** Times a worker sent no report for several intervals (stopped, hung, starved): its counts were stale meanwhile. */
  stalls: StallRecord[];
  /** Of closed.peer and closed.reset: before any byte from the server or any verified round. */
  closed_early: number;
  /** HTTP statuses, WebSocket close codes, CONNACK return codes seen. */
  codes: ProtocolCodes;
  /** First bytes (hex) of a few reads that broke the protocol. */
  protocol_bytes: string[];
  /** With --tls: handshakes completed and failures by OpenSSL's reason (their closes: closed.tls); else null. */
  tls: TlsStats | null;
  processes: { load: number };
  plan: LoadPlanJson;
  /** Every destination connected to (each its own four-tuple pool), and what names resolved to. */
  targets?: { destinations: string[]; resolved: ResolvedName[] };
  memory: { load_private_bytes: number; load_user_bytes_per_connection: number | null };
  holder: string;
  /** `c` or `node`: what the worker processes ran. */
  worker_runtime: string;
  /** Each latency histogram in µs, HdrHistogram compressed base64: what `connlab merge` adds up. */
  histograms: LatencyHistograms;
}

/**
 * The tuple plan in a load result, snake_case. `sourceIps` and `sourcePorts` are the names
 * 0.1 wrote; they are kept for one release so scripts can move (deprecated).
 */
export interface LoadPlanJson {
  strategy: TuplePlan['strategy'];
  /** This shard's connections (all of them when not sharded). */
  connections: number;
  /** How many distinct four-tuples the sources, ports and destinations allow. */
  capacity: number;
  /** Source addresses the plan uses. */
  source_ips: number;
  /** Source ports per source address. */
  source_port_count: number;
  destinations: number;
  /** The planned source port range (`10000-65000`), or `kernel`. */
  source_ports: string;
  shard?: TuplePlan['shard'];
  /** @deprecated since 0.2: use `source_ips`; removed in 0.3. */
  sourceIps: number;
  /** @deprecated since 0.2: use `source_port_count`; removed in 0.3. */
  sourcePorts: number;
}

/** The plan as `load --json` reports it (see `LoadPlanJson`). */
export function loadPlanJson(plan: Omit<TuplePlan, 'slices'>, sourcePorts: string): LoadPlanJson {
  return {
    strategy: plan.strategy,
    connections: plan.connections,
    capacity: plan.capacity,
    source_ips: plan.sourceIps,
    source_port_count: plan.sourcePorts,
    destinations: plan.destinations,
    source_ports: sourcePorts,
    ...(plan.shard ? { shard: plan.shard } : {}),
    sourceIps: plan.sourceIps,
    sourcePorts: plan.sourcePorts,
  };
}

export interface LatencyHistograms {
  connect_us: string;
  rtt_us: string;
  broadcast_us: string;
}

export interface LoadProgress {
  established: number;
  pending: number;
  failed: number;
  connectsPerSecond: number;
  target: number;
}

/**
 * Kernel-chosen ports toward loopback: how full load lets each (source IP, destination)
 * pool get when it picks the sources itself. connect() searches the pool for a free port
 * and the search grows with the fill: 100,000 connections to one port from 4 sources
 * (pools 89% full) ramped at 1,890/s with 86% of the CPU in __inet_check_established and
 * __inet_hash_connect; from 8 sources (44%) at 31,111/s, from 16 (22%) at 34,479/s
 * (bench/engine.ts, same host, same hour).
 */
export const KERNEL_POOL_FILL = 0.25;

/** Works out the plan input from the options: default sources and ports included. */
export function resolvePlanInput(options: LoadOptions, workers: number): PlanInput {
  const sourcePorts = options.sourcePorts ?? DEFAULT_SOURCE_PORTS;
  // Only IPv4 loopback has many addresses (127/8): IPv6 destinations take --source-ips
  // IPv6 items or the kernel's choice.
  const v4 = options.destinations.filter((d) => d.ip6 === undefined);
  const allLoopback = v4.length > 0 && v4.every((d) => isLoopback(d.ip));
  const poolPerSource = sourcePorts === 'kernel' ? Math.max(1, Math.floor(options.kernelPoolSize * KERNEL_POOL_FILL)) : options.kernelPoolSize;
  const sourceIps = options.sourceIps ??
    (allLoopback ? loopbackSourcesFor(options.connections, options.destinations, sourcePorts, poolPerSource) : undefined);
  // Toward ::1 alone, bind ::1 itself rather than [::]: a wildcard bind of a planned port
  // collides with any listener on that port on any address, IPv4 included (EADDRINUSE).
  const v6 = options.destinations.filter((d) => d.ip6 !== undefined);
  const sourceIps6 = options.sourceIps6 ?? (v6.length > 0 && v6.every(isLoopbackDestination) && sourcePorts !== 'kernel' ? parseSources6(['::1'], '--source-ips') : undefined);
  return {
    connections: options.connections, destinations: options.destinations, sourceIps, sourcePorts, workers, kernelPoolSize: options.kernelPoolSize,
    ...(sourceIps6 ? { sourceIps6 } : {}), ...(options.shard ? { shard: options.shard } : {}),
  };
}

export function planLoad(options: LoadOptions): { input: PlanInput; plan: TuplePlan } {
  // The holders rebuild a recycled connection's tuple from its IPv4 socket addresses.
  if ((options.churnPercentPerSec ?? 0) > 0 && options.destinations.some((d) => d.ip6 !== undefined)) {
    throw new ConnlabError('CONNLAB_ERR_USAGE', '--churn recycles IPv4 connections only, and a target here is IPv6', { hint: 'drop --churn, or use --ip-family 4 / IPv4 targets' });
  }
  const workers = options.workers === undefined || options.workers === 'auto'
    ? clientWorkersFor(options.shard ? shardShare(options.connections, options.shard, options.destinations.length) : options.connections, options.fdSoftLimit)
    : options.workers;
  const input = resolvePlanInput(options, workers);
  return { input, plan: planTuples(input) };
}

export class LoadHandle {
  readonly pool: WorkerPool;
  readonly plan: TuplePlan;
  readonly holder: string;
  readonly #target: number;
  #startedAt: number | undefined;
  readonly #latency = new LatencyMerger();
  readonly #rate = new RateMeter({ minIntervalMs: STATS_RATE_INTERVAL_MS });
  readonly #ramp: RampTracker;
  readonly #lifecycle = new Lifecycle<LoadResult>('load');
  #verified = 0;
  #silent = 0;
  #peak = 0;
  #tuples: Promise<TupleOccupancy | undefined> | undefined;
  #closing = false;
  readonly #destinations: readonly Destination[];
  #pingSeq = 0;
  #rampSettled: Promise<number> | undefined;
  readonly #protocol: ProtocolKind;
  #sourcePorts: string;
  readonly #tls: boolean;
  #targets: NonNullable<LoadResult['targets']> = { destinations: [], resolved: [] };

  constructor(pool: WorkerPool, plan: TuplePlan, holder: string, sourcePorts: string, protocol: ProtocolKind = 'tcp', tls = false,
    destinations: readonly Destination[] = []) {
    this.#protocol = protocol;
    this.#tls = tls;
    this.pool = pool;
    this.plan = plan;
    this.holder = holder;
    this.#target = plan.connections;
    this.#sourcePorts = sourcePorts;
    // The occupancy reader reads /proc/net/tcp, IPv4's table: IPv6 destinations are not in it.
    this.#destinations = destinations.filter((d) => d.ip6 === undefined);
    // The ramp starts when the first worker starts connecting, not when processes spawn.
    pool.on('message', (_index, message) => {
      if (message.type === 'started') this.#startedAt ??= performance.now();
    });
    pool.on('report', (_index, report) => {
      this.#latency.add(report);
      // The rate and the peak advance when a report arrives, never when progress() is read.
      this.#rate.update(this.pool.sum((s) => s.connected));
      this.#peak = Math.max(this.#peak, this.pool.sum((s) => s.established));
      // What holds the tuples is read when EADDRNOTAVAIL first shows: by the end of a long
      // run the TIME_WAIT of an earlier one has expired and this run's own would mislead.
      if (!this.#closing) this.#probeTuples(this.pool.sum((s) => s.errors.EADDRNOTAVAIL ?? 0));
    });
    this.#ramp = new RampTracker(pool.workers.length);
    pool.on('message', (index, message) => {
      if (message.type === 'ramped') this.#ramp.ramped(index);
    });
    pool.on('worker-exit', (index) => this.#ramp.exited(index));
  }

  /** What the result says under `targets` (the destination list is capped at 1,000 entries). */
  describeTargets(destinations: string[], resolved: ResolvedName[]): void {
    this.#targets = { destinations: destinations.slice(0, 1000), resolved };
  }

  /** A read without side effects. */
  progress(): LoadProgress {
    const totals = this.pool.totals();
    const failed = Object.values(totals.errors).reduce((a, b) => a + b, 0);
    return { established: totals.established, pending: totals.pending + totals.queued, failed, connectsPerSecond: this.#rate.perSecond, target: this.#target };
  }

  /**
   * Resolves when every worker has tried every tuple of its slice (or died): seconds since
   * start. Worker reports trail the ramp by up to an interval, so it first asks for fresh
   * ones: progress() read after it is current, not the count from before the last connects.
   */
  rampDone(): Promise<number> {
    this.#rampSettled ??= this.#ramp.finished.then(async (end) => {
      if (this.pool.state === 'open') await this.pool.refresh().catch(() => undefined);
      return (end - (this.#startedAt ?? 0)) / 1000;
    });
    return this.#rampSettled;
  }

  /** A liveness round: every connection pings; resolves with how many answered. */
  async ping(timeoutMs = 10_000): Promise<{ verified: number; established: number }> {
    this.#lifecycle.assertOpen('ping');
    const seq = ++this.#pingSeq;
    const replies = this.pool.collect('pinged', timeoutMs + 5000, seq);
    this.pool.send({ type: 'ping', seq, timeoutMs });
    const answered = await replies;
    this.#verified = answered.reduce((sum, r) => sum + r.verified, 0);
    this.#silent = answered.reduce((sum, r) => sum + (r.silent ?? 0), 0);
    return { verified: this.#verified, established: answered.reduce((sum, r) => sum + r.established, 0) };
  }

  /** Reads the socket table once, when EADDRNOTAVAIL first shows (classify.ts says why). */
  #probeTuples(addressesNotAvailable: number): void {
    if (addressesNotAvailable > 0 && !this.#tuples && this.#destinations.length > 0) {
      this.#tuples = readTupleOccupancy(this.#destinations).catch(() => undefined);
    }
  }

  /** Ends every worker (gracefully, then by PID) and returns the result. Idempotent. */
  close(context?: ClassifyContext): Promise<LoadResult> {
    return this.#lifecycle.close(async () => {
      const rampEnd = await Promise.race([this.#ramp.finished, Promise.resolve(performance.now())]);
      // After destroy() nobody is left to ask: the last reports are the result.
      if (this.pool.state === 'open') await this.pool.refresh();
      const beforeClose = this.pool.totals();
      // The table must be read before the connections close: closing puts them in TIME_WAIT.
      this.#closing = true;
      if (this.pool.state === 'open') this.#probeTuples(beforeClose.errors.EADDRNOTAVAIL ?? 0); // after destroy() they are gone already
      const tuples = (await this.#tuples) ?? context?.tuples;
      // A run shorter than a report interval can miss the summed peak: at least the largest
      // peak of any one worker (read now: a worker's report goes when it exits).
      for (const w of this.pool.workers) this.#peak = Math.max(this.#peak, w.report?.stats.peakEstablished ?? 0);
      const privateBytes = this.pool.workers.reduce((sum, w) => sum + (w.report?.memory?.privateBytes ?? 0), 0);
      await this.pool.close();
      const totals = this.pool.totals();
      const withTuples = tuples ? { listenOverflowsRose: false, ...context, tuples } : context;
      return this.#result(beforeClose, totals, (rampEnd - (this.#startedAt ?? rampEnd)) / 1000, privateBytes, withTuples);
    });
  }

  /** Ends every worker by PID at once. Idempotent. */
  destroy(): void {
    this.#lifecycle.destroy(() => this.pool.destroy());
  }

  #result(held: HolderStats, totals: HolderStats, seconds: number, privateBytes: number, context?: ClassifyContext): LoadResult {
    const { slices: _slices, ...plan } = this.plan;
    const books = checkBooks(totals, 'client', this.pool.deaths.reduce((sum, d) => sum + d.lostConnections, 0));
    return {
      schema: 'connlab.load/1',
      connections: {
        target: this.#target, established: held.established, verified: this.#verified,
        peak: Math.max(this.#peak, held.established),
        silent: this.#silent,
      },
      protocol: this.#protocol,
      ramp: { seconds: round(seconds, 3), per_second: seconds > 0 ? Math.round(totals.connected / seconds) : 0, connect_ms: this.#latency.connectUs.summaryMs() },
      ping: { rtt_ms: this.#latency.rttUs.summaryMs() },
      broadcast: { received: totals.broadcastsReceived, latency_ms: this.#latency.broadcastUs.summaryMs() },
      errors: totals.errors,
      explained: [...classifyErrors(totals.errors, context), ...classifyCloses(totals, this.#protocol, this.#silent, this.#tls)],
      closed: totals.closed,
      deaths: deathRecords(this.pool.deaths),
      books_balanced: books.balanced,
      books,
      stalls: [...this.pool.stalls],
      closed_early: totals.closedEarly,
      codes: totals.codes,
      protocol_bytes: totals.protocolBytes,
      tls: this.#tls ? totals.tls : null,
      processes: { load: this.pool.workers.length },
      plan: loadPlanJson(plan, this.#sourcePorts),
      targets: this.#targets,
      memory: {
        load_private_bytes: privateBytes,
        load_user_bytes_per_connection: held.established > 0 ? Math.round(privateBytes / held.established) : null,
      },
      holder: this.holder,
      histograms: { connect_us: this.#latency.connectUs.encode(), rtt_us: this.#latency.rttUs.encode(), broadcast_us: this.#latency.broadcastUs.encode() },
      worker_runtime: this.pool.runtime,
    };
  }
}

const round = (value: number, digits: number): number => Math.round(value * 10 ** digits) / 10 ** digits;

export async function startLoad(options: LoadOptions): Promise<LoadHandle> {
  const { input, plan } = planLoad(options);
  const kind = resolveHolderKind(options.holder ?? 'auto');
  const workers = plan.slices.length;
  const rate = options.ratePerSec && options.shard ? shardRate(options.ratePerSec, options.shard) : options.ratePerSec;
  const ratePerWorker = rate ? rate / workers : null;
  const settings: ProtocolSettings = typeof options.protocol === 'object' ? options.protocol : { kind: options.protocol ?? 'tcp' };
  if (kind === 'node' && settings.tls) {
    throw new ConnlabError('CONNLAB_ERR_PROTOCOL_UNSUPPORTED', 'the plain-Node holder does not speak TLS', {
      hint: 'TLS runs in the native holder (native/tls.c): build it (npm run build:native) and use --holder native',
    });
  }
  if (kind === 'node' && settings.kind !== 'tcp' && settings.kind !== 'connlab') {
    throw new ConnlabError('CONNLAB_ERR_PROTOCOL_UNSUPPORTED', `the plain-Node holder speaks connlab and tcp, not ${settings.kind}`, {
      hint: 'build the native holder (npm run build:native) and use --holder native',
    });
  }
  const first = options.destinations[0];
  const protocol = protocolOptions(settings, first ? formatDestination(first) : 'localhost');
  const runtime = resolveWorkerRuntime(options.workerRuntime ?? 'auto', kind, protocol?.tls !== undefined);
  const configs: ClientWorkerConfig[] = plan.slices.map((slice) => ({
    role: 'client',
    holder: kind,
    plan: input,
    slice,
    ratePerSec: ratePerWorker,
    maxPending: options.maxPendingPerWorker ?? 1024,
    connectTimeoutMs: options.connectTimeoutMs ?? 10_000,
    reportIntervalMs: options.reportIntervalMs ?? 1000,
    churnPerSec: (slice.count * (options.churnPercentPerSec ?? 0)) / 100,
    protocol,
  }));
  const pool = new WorkerPool(configs, { restart: false, runtime, closeTimeoutMs: options.closeTimeoutMs });
  const sourcePorts = input.sourcePorts === 'kernel' ? 'kernel' : `${input.sourcePorts.first}-${input.sourcePorts.last}`;
  const handle = new LoadHandle(pool, plan, kind, sourcePorts, settings.kind, settings.tls !== undefined, options.destinations);
  handle.describeTargets(options.destinations.map(formatDestination), options.resolved ?? []);
  await pool.start();
  return handle;
}
