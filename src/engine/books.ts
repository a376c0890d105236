// The books of a run: every connection that was opened is either still held or closed for
// a reason, and connections closed as `lost` are exactly those the named deaths took.
// Pure, over summed HolderStats, so every result (serve, load, bench) can say whether
// its own numbers add up, and which one does not:
//   server: accepted  = held + the sum of closed
//   client: connected = held + the sum of closed - closedPending (a connect that never
//           completed was closed, `timeout` or `local`, but never counted as connected)
//   both:   closed.lost = the sum of the deaths' lost connections

import type { HolderStats } from './holder.ts';

/** What a result carries under `books` (JSON, snake_case). */
export interface Books {
  balanced: boolean;
  /** The counter of connections opened: `accepted` (server) or `connected` (client). */
  counter: 'accepted' | 'connected';
  opened: number;
  held: number;
  /** The sum of `closed`, less closes of connects that never completed. */
  closed: number;
  /** closed.lost, and what the deaths say they lost: equal when the books balance. */
  lost: number;
  lost_by_deaths: number;
  /** Which counter is off and by how much; null when balanced. */
  off: string | null;
}

export type BooksRole = 'server' | 'client';

/** Checks the books of summed stats; `deathsLost`: the sum of the deaths' lost connections. */
export function checkBooks(stats: HolderStats, role: BooksRole, deathsLost: number): Books {
  const counter = role === 'server' ? 'accepted' : 'connected';
  const opened = stats[counter];
  const closedSum = Object.values(stats.closed).reduce((sum, n) => sum + n, 0);
  const closed = closedSum - (role === 'client' ? stats.closedPending : 0);
  const held = stats.established;
  const lost = stats.closed.lost;
  const offs: string[] = [];
  if (opened !== held + closed) {
    offs.push(`${counter} ${opened} != held ${held} + closed ${closed} (${opened - held - closed > 0 ? `${opened - held - closed} unaccounted` : `${held + closed - opened} counted twice`})`);
  }
  if (lost !== deathsLost) offs.push(`closed.lost ${lost} != ${deathsLost} lost by the named deaths`);
  return { balanced: offs.length === 0, counter, opened, held, closed, lost, lost_by_deaths: deathsLost, off: offs.length ? offs.join('; ') : null };
}

/**
 * The books of several results taken together (merged shards): the sums, balanced when
 * every part is. A part without books (an older result) leaves them unknown: null.
 */
export function mergeBooks(parts: readonly (Books | undefined)[]): Books | null {
  if (parts.length === 0 || parts.some((b) => b === undefined)) return null;
  const all = parts as Books[];
  const total = (key: 'opened' | 'held' | 'closed' | 'lost' | 'lost_by_deaths'): number => all.reduce((sum, b) => sum + b[key], 0);
  const offs = all.flatMap((b, i) => (b.off ? [`part ${i + 1}: ${b.off}`] : []));
  return {
    balanced: all.every((b) => b.balanced), counter: all[0]?.counter ?? 'connected',
    opened: total('opened'), held: total('held'), closed: total('closed'), lost: total('lost'), lost_by_deaths: total('lost_by_deaths'),
    off: offs.length ? offs.join('; ') : null,
  };
}
