// Connections opened from the demo's own process, on the same holder the engine uses
// (native when built): for demos that need a few hundred clients and want to watch each
// one's fate (connected, timed out, closed by the peer, reset) without worker processes.

import { createHolder, resolveHolderKind } from '../engine/create-holder.ts';
import type { Holder, HolderStats } from '../engine/holder.ts';
import { parseIpv4 } from '../tuple/address.ts';
import type { DemoContext } from './types.ts';

const POLL_MS = 10;
const delay = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

export interface Clients {
  holder: Holder;
  stats(): HolderStats;
  /** Resolves once no connect is pending or queued, or at the deadline. */
  settled(timeoutMs: number): Promise<HolderStats>;
  /** Resolves once `predicate` holds for the stats, or at the deadline. */
  until(predicate: (stats: HolderStats) => boolean, timeoutMs: number): Promise<HolderStats>;
  destroy(): void;
}

/** Opens `count` connections from `source` (kernel-chosen ports) to host:port. */
export function openClients(context: DemoContext, host: string, port: number, count: number, connectTimeoutMs: number, source = '127.0.0.1'): Clients {
  const holder = createHolder(resolveHolderKind('auto'), { connectTimeoutMs });
  const off = context.onAbort(() => holder.destroy());
  const tuples = new Uint32Array(count * 4);
  for (let i = 0; i < count; i++) tuples.set([parseIpv4(source) ?? 0, 0, parseIpv4(host) ?? 0, port], i * 4);
  holder.connect(tuples);
  const until = async (predicate: (stats: HolderStats) => boolean, timeoutMs: number): Promise<HolderStats> => {
    const deadline = performance.now() + timeoutMs;
    let stats = holder.stats();
    while (!predicate(stats) && performance.now() < deadline) {
      await delay(POLL_MS);
      stats = holder.stats();
    }
    return stats;
  };
  return {
    holder,
    stats: () => holder.stats(),
    settled: (timeoutMs) => until((s) => s.pending === 0 && s.queued === 0, timeoutMs),
    until,
    destroy() {
      off();
      holder.destroy();
    },
  };
}
