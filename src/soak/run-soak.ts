// The soak: serve and load on loopback, N connections held while a few percent of them
// are reset and reconnected every second, sampled on a fixed cadence. What a leak looks
// like here is a line that climbs: descriptors, private memory or kernel socket memory
// growing with the number of connections recycled rather than with the number held. The
// result fits a line through each series after a warm-up and reports its slope.

import type { HolderChoice } from '../engine/create-holder.ts';
import type { WorkerRuntimeChoice } from '../engine/worker-runtime.ts';
import type { HolderStats } from '../engine/holder.ts';
import { startLoad, type LoadHandle } from '../load/load.ts';
import { countDescriptors } from '../probe/process-fds.ts';
import { socketQueues } from '../probe/kernel-tools.ts';
import { sampleHost } from '../probe/host-sample.ts';
import { startServe, type ServeHandle } from '../server/serve.ts';
import { parseIpv4 } from '../tuple/address.ts';
import { invalidArgument } from '../errors.ts';
import { linearFit } from './linear-fit.ts';

export interface SoakOptions {
  connections: number;
  /** Share of the held connections reset and reconnected each second, in percent. */
  churnPercentPerSec: number;
  /** How long to churn after the ramp. */
  durationMs: number;
  sampleIntervalMs: number;
  /** Samples in the first warmupMs after the ramp are kept but left out of the fits. */
  warmupMs: number;
  host: string;
  port: number;
  fdSoftLimit: number;
  kernelPoolSize: number;
  holder?: HolderChoice;
  /** Worker processes in C or in Node (default: C where built). */
  workerRuntime?: WorkerRuntimeChoice;
  /** Ends the soak early (Ctrl-C); the result covers what was sampled. */
  signal?: AbortSignal;
  onSample?: (sample: SoakSample) => void;
}

export interface SoakSides<T> {
  serve: T;
  load: T;
}

export interface SoakSample {
  /** Since the end of the ramp. */
  seconds: number;
  established: SoakSides<number>;
  descriptors: SoakSides<number>;
  private_bytes: SoakSides<number>;
  /**
   * own_buffer_bytes: the buffers of the soak's own sockets (ss skmem r + w + f over both
   * ends of its port); the rest is host-wide and moves with whatever else runs.
   */
  kernel: { own_buffer_bytes: number; tcp_in_use: number; tcp_mem_bytes: number; socket_slab_bytes: number };
  /** Client connections recycled so far, and reconnects that failed. */
  churned: number;
  reconnect_errors: number;
}

/** A fitted series: slope per minute, how well a line fits, and the change it implies. */
export interface SoakDrift {
  slope_per_minute: number;
  r2: number;
  mean: number;
  /** slope × fitted span, as a share of the mean: how much the line rose over the run. */
  change_percent: number;
}

export type SoakSeries = 'descriptors' | 'private_bytes' | 'own_buffer_bytes' | 'tcp_mem_bytes' | 'socket_slab_bytes';

export interface SoakResult {
  schema: 'connlab.soak/1';
  connections: number;
  churn_percent_per_sec: number;
  ramp_seconds: number;
  soak_seconds: number;
  churned: number;
  reconnect_errors: number;
  /** Held at the last sample, and the fewest held at any sample (churn keeps a few in flight). */
  established: { last: SoakSides<number>; min: SoakSides<number> };
  drift: Record<SoakSeries, SoakDrift>;
  samples: SoakSample[];
  holder: string;
  /** What the worker processes ran: `c` or `node`. */
  worker_runtime: string;
  stopped_by: 'duration' | 'signal';
}

const PAGE_BYTES = 4096;

const sum = (values: (number | undefined)[]): number => values.reduce<number>((a, b) => a + (b ?? 0), 0);

async function descriptorsOf(pids: number[]): Promise<number> {
  return sum(await Promise.all(pids.map((pid) => countDescriptors(pid))));
}

/** Kernel buffer bytes held by the established sockets at either end of `port`. */
async function ownBufferBytes(port: number): Promise<number> {
  const sockets = await socketQueues(['(', 'sport', '=', `:${port}`, 'or', 'dport', '=', `:${port}`, ')']);
  return sum(sockets.map((s) => (s.skmem.r ?? 0) + (s.skmem.w ?? 0) + (s.skmem.f ?? 0)));
}

async function takeSample(serve: ServeHandle, load: LoadHandle, port: number, seconds: number): Promise<SoakSample> {
  const [served] = await Promise.all([serve.refresh(), load.pool.refresh()]);
  const loadTotals: HolderStats = load.pool.totals();
  const [host, serveFds, loadFds, own] = await Promise.all([sampleHost(), descriptorsOf(serve.pool.pids()), descriptorsOf(load.pool.pids()), ownBufferBytes(port)]);
  return {
    seconds,
    established: { serve: served.totals.established, load: loadTotals.established },
    descriptors: { serve: serveFds, load: loadFds },
    private_bytes: { serve: served.privateBytes, load: sum(load.pool.workers.map((w) => w.report?.memory?.privateBytes)) },
    kernel: { own_buffer_bytes: own, tcp_in_use: host.tcpInUse, tcp_mem_bytes: host.tcpMemPages * PAGE_BYTES, socket_slab_bytes: sum(Object.values(host.slabBytes)) },
    churned: loadTotals.closed.churn,
    reconnect_errors: sum(Object.values(loadTotals.errors)),
  };
}

const SERIES: Record<SoakSeries, (s: SoakSample) => number> = {
  descriptors: (s) => s.descriptors.serve + s.descriptors.load,
  private_bytes: (s) => s.private_bytes.serve + s.private_bytes.load,
  own_buffer_bytes: (s) => s.kernel.own_buffer_bytes,
  tcp_mem_bytes: (s) => s.kernel.tcp_mem_bytes,
  socket_slab_bytes: (s) => s.kernel.socket_slab_bytes,
};

/** Fits each series over the samples taken after the warm-up. */
export function soakDrift(samples: readonly SoakSample[], warmupSeconds: number): Record<SoakSeries, SoakDrift> {
  const fitted = samples.filter((s) => s.seconds >= warmupSeconds);
  const span = fitted.length > 1 ? (fitted.at(-1) as SoakSample).seconds - (fitted[0] as SoakSample).seconds : 0;
  const drift = {} as Record<SoakSeries, SoakDrift>;
  for (const [name, value] of Object.entries(SERIES) as [SoakSeries, (s: SoakSample) => number][]) {
    const fit = linearFit(fitted.map((s) => [s.seconds, value(s)]));
    const mean = fitted.length ? sum(fitted.map(value)) / fitted.length : 0;
    drift[name] = {
      slope_per_minute: Math.round(fit.slope * 60 * 100) / 100,
      r2: Math.round(fit.r2 * 1000) / 1000,
      mean: Math.round(mean),
      change_percent: mean > 0 ? Math.round(((fit.slope * span) / mean) * 10_000) / 100 : 0,
    };
  }
  return drift;
}

function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(done, ms);
    function done(): void {
      clearTimeout(timer);
      signal?.removeEventListener('abort', done);
      resolve();
    }
    signal?.addEventListener('abort', done, { once: true });
  });
}

export async function runSoak(options: SoakOptions): Promise<SoakResult> {
  const ip = parseIpv4(options.host);
  if (ip === undefined) throw invalidArgument('host', options.host, 'an IPv4 address');
  const serve = await startServe({
    listen: [{ host: options.host, port: options.port }], connections: options.connections,
    holder: options.holder, workerRuntime: options.workerRuntime, fdSoftLimit: options.fdSoftLimit,
  });
  let load: LoadHandle | undefined;
  try {
    load = await startLoad({
      destinations: [{ ip, port: options.port }], connections: options.connections,
      holder: options.holder, workerRuntime: options.workerRuntime, fdSoftLimit: options.fdSoftLimit, kernelPoolSize: options.kernelPoolSize,
      churnPercentPerSec: options.churnPercentPerSec,
    });
    const rampSeconds = await load.rampDone();
    const samples: SoakSample[] = [];
    const started = performance.now();
    const elapsed = (): number => (performance.now() - started) / 1000;
    while (!options.signal?.aborted) {
      const sample = await takeSample(serve, load, options.port, Math.round(elapsed() * 10) / 10);
      samples.push(sample);
      options.onSample?.(sample);
      const left = options.durationMs / 1000 - elapsed();
      if (left <= 0) break;
      await sleep(Math.min(options.sampleIntervalMs, left * 1000), options.signal);
    }
    const last = samples.at(-1);
    return {
      schema: 'connlab.soak/1',
      connections: options.connections,
      churn_percent_per_sec: options.churnPercentPerSec,
      ramp_seconds: Math.round(rampSeconds * 100) / 100,
      soak_seconds: last?.seconds ?? 0,
      churned: last?.churned ?? 0,
      reconnect_errors: last?.reconnect_errors ?? 0,
      established: {
        last: last?.established ?? { serve: 0, load: 0 },
        min: {
          serve: Math.min(...samples.map((s) => s.established.serve)),
          load: Math.min(...samples.map((s) => s.established.load)),
        },
      },
      drift: soakDrift(samples, options.warmupMs / 1000),
      samples,
      holder: load.holder,
      worker_runtime: load.pool.runtime,
      stopped_by: options.signal?.aborted ? 'signal' : 'duration',
    };
  } finally {
    await load?.close();
    await serve.close();
  }
}
