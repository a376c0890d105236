// The bench timeline's clock: a host sample every intervalMs taken on a thread of its
// own, so the cadence holds while the supervisor's event loop is busy or starved (a
// million connections: ~114 worker processes on 2 cores, report messages, fork()s).
// The thread reads /proc synchronously (sampleHostSync: no thread-pool round trips),
// except /proc/slabinfo, which it refreshes in the background because one read can
// take seconds under load; it stamps each sample with the wall clock when it began. The
// main thread receives them whenever it gets to run: late perhaps, but with their own
// times and none skipped.

import { Worker } from 'node:worker_threads';
import type { HostSample } from './host-sample.ts';

export interface TimedHostSample {
  /** When the sample began: performance.timeOrigin + performance.now() on the sampling thread, ms. */
  atMs: number;
  /** How long this tick's reads took (slabinfo aside), ms. */
  readMs: number;
  /** How old the slab figures are: when the latest complete /proc/slabinfo read began, ms before atMs. */
  slabAgeMs: number;
  sample: HostSample;
}

export interface HostSamplerOptions {
  intervalMs: number;
  /** Where /proc lives; `/` on the live host. */
  root?: string;
  onSample: (sample: TimedHostSample) => void;
}

export interface HostSampler {
  /** Resolves with the first sample delivered (the thread is up and reading). */
  ready: Promise<void>;
  /** Stops the thread; samples it already posted are delivered first. Idempotent. */
  stop(): Promise<void>;
}

// lib/ runs the compiled .js, the source tree the .ts: the thread's file matches this one.
const THREAD = new URL(`./host-sampler-thread${import.meta.url.endsWith('.ts') ? '.ts' : '.js'}`, import.meta.url);

export function startHostSampler(options: HostSamplerOptions): HostSampler {
  const worker = new Worker(THREAD, { workerData: { intervalMs: options.intervalMs, root: options.root ?? '/' } });
  // It must never keep a finished (or crashed) supervisor alive.
  worker.unref();
  let onReady!: () => void;
  const ready = new Promise<void>((resolve) => (onReady = resolve));
  worker.on('message', (message: TimedHostSample) => {
    onReady();
    options.onSample(message);
  });
  // A sampler that fails loses the timeline's points, never the run.
  worker.on('error', () => {});
  let stopped: Promise<void> | undefined;
  worker.once('exit', () => onReady());
  return {
    ready,
    stop: () => (stopped ??= new Promise<void>((resolve) => {
      // Referenced while stopping: a caller awaiting this must keep the process alive.
      worker.ref();
      worker.once('exit', () => resolve());
      worker.postMessage('stop');
    })),
  };
}
