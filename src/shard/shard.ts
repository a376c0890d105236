// Shards: how N connections (and a total connect rate) split over many load hosts when
// each host knows only its own index. No coordinator: every shard computes its share and
// its tuples from (index, count, N) alone, so Kubernetes' JOB_COMPLETION_INDEX suffices.
//
// Why this split. k6's execution segments solve the same problem for VUs: a segment
// sequence (0,1/3,2/3,1) is brought to a common denominator (the LCD, here 3) and every
// segment owns fixed "striped offsets" inside each LCD-long cycle of the global sequence
// (biggest segments first, spread evenly). A segment's value for a total N is then
// floor(N / lcd) × |offsets| + |offsets below N mod lcd|: shares add up to exactly N,
// never overlap (an index has one owner), and grow by at most one as N grows by one, so
// they never shrink. With equal shards I/S the cycle is S long and shard I owns offset I:
// plain round robin.
//
// We stripe the same way, but over BLOCKS of D connections (D = destinations) instead of
// single connections: the planner gives connection g destination g mod D and source pair
// floor(g / D), so a block is "one source pair, every destination". Striping single
// connections would give shard I only destinations ≡ I (mod gcd(S, D)): three shards
// against three ports would each hammer one port. Striping blocks keeps every shard on
// every destination and gives each shard whole source pairs, so two shards never plan
// the same four-tuple even on one host. Block b belongs to shard b mod S; the last block
// may be partial; all three properties above still hold (tested as properties).
//
// That holds when the shards share one tuple space: named source addresses, possibly one
// host. Without --source-ips toward a remote server, each shard's source is its own
// host's address, the hosts keep the tuples apart, and a shard plans its share in its own
// space (src/tuple/plan.ts, sharesTupleSpace): a pod with one address then fits
// 55,001 ports × destinations, not that divided by the shard count.

import { ConnlabError, invalidArgument } from '../errors.ts';

export interface ShardSpec {
  /** 0-based, as JOB_COMPLETION_INDEX counts; `--shard` is written 1-based. */
  index: number;
  count: number;
}

/** `--shard I/N`, 1-based: `2/3` is the second of three. */
export function parseShard(text: string, option = '--shard'): ShardSpec {
  const match = /^(\d+)\/(\d+)$/.exec(text.trim());
  const index = Number(match?.[1]);
  const count = Number(match?.[2]);
  if (!match || count < 1 || index < 1 || index > count) throw invalidArgument(option, text, 'I/N with 1 ≤ I ≤ N, like 2/3');
  return { index: index - 1, count };
}

/** A 0-based index (JOB_COMPLETION_INDEX) and a shard count, checked. */
export function shardFromIndex(indexText: string, count: number, option = 'JOB_COMPLETION_INDEX'): ShardSpec {
  const index = /^\d+$/.test(indexText.trim()) ? Number(indexText) : Number.NaN;
  if (!Number.isSafeInteger(index) || index >= count) throw invalidArgument(option, indexText, `an index from 0 to ${count - 1}`);
  return { index, count };
}

export function formatShard(shard: ShardSpec): string {
  return `${shard.index + 1}/${shard.count}`;
}

/** How many of `total` items shard owns when blocks of `blockSize` are dealt round robin. */
export function shardShare(total: number, shard: ShardSpec, blockSize = 1): number {
  const blocks = Math.floor(total / blockSize);
  const rest = total - blocks * blockSize;
  const fullBlocks = Math.floor(blocks / shard.count) + (shard.index < blocks % shard.count ? 1 : 0);
  return fullBlocks * blockSize + (blocks % shard.count === shard.index ? rest : 0);
}

/** The global plan index of the shard's local item `local` (0-based, in the shard's order). */
export function shardGlobalIndex(local: number, shard: ShardSpec, blockSize = 1): number {
  const block = Math.floor(local / blockSize);
  return (block * shard.count + shard.index) * blockSize + (local - block * blockSize);
}

/**
 * The shard's part of a total connect rate, split like the connections (blocks of one).
 * A shard with no rate would mean "unlimited", so a total below the shard count is refused.
 */
export function shardRate(totalPerSec: number, shard: ShardSpec): number {
  if (totalPerSec < shard.count) {
    throw new ConnlabError('CONNLAB_ERR_INVALID_ARGUMENT', `--rate ${totalPerSec} is the total over ${shard.count} shards: each needs at least 1/s`, {
      hint: `raise --rate to at least ${shard.count}`,
    });
  }
  return shardShare(totalPerSec, shard, 1);
}

/** Shards started seconds apart ramp together from one wall-clock time, a bounded wait ahead. */
export const MAX_START_AHEAD_MS = 10 * 60_000;

/** `--start-at`: RFC 3339 (`2026-11-30T14:00:00Z`) or epoch seconds (`1795960800`, `.5` allowed). */
export function parseStartAt(text: string, option = '--start-at'): number {
  const trimmed = text.trim();
  const epochMs = /^\d+(\.\d+)?$/.test(trimmed) ? Number(trimmed) * 1000 : Number.NaN;
  const rfc3339 = /^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$/.test(trimmed) ? Date.parse(trimmed) : Number.NaN;
  const ms = Number.isFinite(epochMs) ? epochMs : rfc3339;
  if (!Number.isFinite(ms)) throw invalidArgument(option, text, 'an RFC 3339 time with a zone (2026-11-30T14:00:00Z) or epoch seconds');
  return ms;
}

/** Milliseconds to wait until startAtMs; 0 when it has passed; refused past the bound. */
export function startDelayMs(startAtMs: number, nowMs: number, maxAheadMs = MAX_START_AHEAD_MS): number {
  const delay = startAtMs - nowMs;
  if (delay > maxAheadMs) {
    throw new ConnlabError('CONNLAB_ERR_INVALID_ARGUMENT', `--start-at is ${Math.round(delay / 1000)}s ahead; at most ${maxAheadMs / 1000}s is allowed`, {
      hint: 'pick a start a few seconds after the last shard will have started',
    });
  }
  return Math.max(0, delay);
}
