// How many worker processes a connection count needs under the per-process descriptor
// limit: the same arithmetic doctor uses (FD_RESERVE_PER_PROCESS), plus a margin where
// the kernel, not connlab, decides which worker gets a connection.

import { FD_RESERVE_PER_PROCESS } from '../limits/model.ts';

/**
 * SO_REUSEPORT hands each connection to a worker by a hash of its four-tuple, so a
 * worker's share of N connections over W workers is binomial (N, 1/W), and a full worker's
 * share would wait in its accept queue. Servers get the fewest workers whose mean share
 * plus this many standard deviations fits under the limit: a worker overflows with odds
 * of about one in a billion. A flat 25% spare gave 63 workers for 1M where 53 are enough
 * (the spread measured over 53 workers holding 1M: docs/architecture.md).
 */
export const REUSEPORT_SIGMAS = 6;

export function socketsPerWorker(fdSoftLimit: number): number {
  return Math.max(1, fdSoftLimit - FD_RESERVE_PER_PROCESS);
}

export function serverWorkersFor(connections: number, fdSoftLimit: number): number {
  const limit = socketsPerWorker(fdSoftLimit);
  for (let workers = clientWorkersFor(connections, fdSoftLimit); ; workers++) {
    const share = connections / workers;
    if (share + REUSEPORT_SIGMAS * Math.sqrt(share * (1 - 1 / workers)) <= limit) return workers;
  }
}

/** Client workers get exact slices from the planner, so they need no margin. */
export function clientWorkersFor(connections: number, fdSoftLimit: number): number {
  return Math.max(1, Math.ceil(connections / socketsPerWorker(fdSoftLimit)));
}
