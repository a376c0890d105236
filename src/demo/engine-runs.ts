// The engine as demos use it: connlab serve and connlab load with every worker process
// registered for the abort path (a signal ends them by PID before settings are
// restored), and the two readings of the host that size them.

import { startLoad, type LoadHandle, type LoadOptions, type LoadResult } from '../load/load.ts';
import type { HostSnapshot } from '../limits/snapshot.ts';
import { startServe, type ServeHandle, type ServeOptions } from '../server/serve.ts';
import { rangeSize } from '../tuple/address.ts';
import type { DemoContext } from './types.ts';

/** The default ip_local_port_range, for when it cannot be read. */
const DEFAULT_RANGE = { first: 32768, last: 60999 };

export interface EngineFacts {
  fdSoftLimit: number;
  /** Ports in ip_local_port_range less the reserved ones. */
  kernelPoolSize: number;
}

export function engineFacts(host: HostSnapshot): EngineFacts {
  const range = host.ports.range ?? DEFAULT_RANGE;
  const reserved = host.ports.reserved.reduce(
    (sum, r) => sum + Math.max(0, Math.min(r.last, range.last) - Math.max(r.first, range.first) + 1),
    0,
  );
  return { fdSoftLimit: host.fds.processSoft ?? 1024, kernelPoolSize: rangeSize(range) - reserved };
}

/** Runs `fn` with a serve that is closed afterwards, whatever happens. */
export async function withServe<T>(context: DemoContext, options: ServeOptions, fn: (serve: ServeHandle) => Promise<T>): Promise<T> {
  const serve = await startServe(options);
  const off = context.onAbort(() => serve.destroy());
  try {
    return await fn(serve);
  } finally {
    off();
    await serve.close();
  }
}

/** Runs `fn` with a started load; closes it afterwards (fn may close it first for the result). */
export async function withLoad<T>(context: DemoContext, options: LoadOptions, fn: (load: LoadHandle) => Promise<T>): Promise<T> {
  const load = await startLoad({ protocol: 'connlab', ...options }); // demos load connlab serve
  const off = context.onAbort(() => load.destroy());
  try {
    return await fn(load);
  } finally {
    off();
    await load.close();
  }
}

/** Ramps a load to the end of its plan and closes it: the result. */
export function rampAndClose(context: DemoContext, options: LoadOptions): Promise<LoadResult> {
  return withLoad(context, options, async (load) => {
    await load.rampDone();
    return load.close();
  });
}
