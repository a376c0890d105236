// How many worker processes a connection count needs under the per-process descriptor
// limit: the same arithmetic doctor uses (FD_RESERVE_PER_PROCESS), plus a margin where
// the kernel, not connlab, decides which worker gets a connection.

import { FD_RESERVE_PER_PROCESS } from '../limits/model.ts';

/**
 * SO_REUSEPORT spreads accepted connections by a hash of the four-tuple, so workers fill
 * unevenly; a full worker's share would then wait in its accept queue. 25% spare keeps
 * every worker comfortably under its limit. It is more than the spread needs: 53 workers
 * holding 1M held 18,447-19,249 each, a binomial spread, the fullest 4.8 sigma under the
 * limit. Sized for the spread alone (53 workers for 1M instead of 63), two 1M bench:floor
 * runs were no faster in the ramp and within the broadcast's run-to-run spread, so the
 * simpler rule stays (docs/architecture.md).
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
