// How many worker processes a connection count needs under the per-process descriptor
// limit: the same arithmetic doctor uses (FD_RESERVE_PER_PROCESS), plus a margin where
// the kernel, not connlab, decides which worker gets a connection.

import { FD_RESERVE_PER_PROCESS } from '../limits/model.ts';

/**
 * SO_REUSEPORT spreads accepted connections by a hash of the four-tuple, so workers fill
 * unevenly; a full worker's share would then wait in its accept queue. 25% spare keeps
 * every worker comfortably under its limit. It is more than the spread needs (53 workers
 * holding 1M held 18,447-19,249 each, a binomial spread, 4.8 sigma under the limit at
 * the most), but sizing for the spread alone measured worse. Each worker stamps its own
 * broadcast, and fewer workers likely means longer write spans per stamp: the 1M broadcast
 * p99 went from 1.00x the floor to 1.23-1.27x with a ramp no faster (docs/architecture.md).
 */
export const REUSEPORT_MARGIN = 1.25;

export function socketsPerWorker(fdSoftLimit: number): number {
  return Math.max(1, fdSoftLimit - FD_RESERVE_PER_PROCESS);
}

export function serverWorkersFor(connections: number, fdSoftLimit: number): number {
  return Math.max(1, Math.ceil((connections * REUSEPORT_MARGIN) / socketsPerWorker(fdSoftLimit)));
}

/** Client workers get exact slices from the planner, so they need no margin. */
export function clientWorkersFor(connections: number, fdSoftLimit: number): number {
  return Math.max(1, Math.ceil(connections / socketsPerWorker(fdSoftLimit)));
}
