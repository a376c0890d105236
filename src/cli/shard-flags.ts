// The CLI side of sharding: `--shard I/N`, or `--shards N` with the index from
// Kubernetes' JOB_COMPLETION_INDEX (the environment is read here, never in the library),
// `--start-at`, and the dry-run lines that show what this shard will do.

import { ConnlabError } from '../errors.ts';
import { formatShard, parseShard, parseStartAt, shardFromIndex, shardRate, shardShare, startDelayMs, type ShardSpec } from '../shard/shard.ts';
import { createTupleCursor, formatTuple, sharesTupleSpace, type PlanInput, type TuplePlan } from '../tuple/plan.ts';
import { formatCount, parseCount } from '../units.ts';

export const shardOptions = {
  shard: { type: 'string' },
  shards: { type: 'string' },
  'start-at': { type: 'string' },
} as const;

export const shardHelp = `  --shard I/N                this host is shard I of N (1-based): it opens its share of
                             -c and --rate (both totals), never a four-tuple of another
  --shards N                 N shards, this one's index from JOB_COMPLETION_INDEX (0-based,
                             set by a Kubernetes Indexed Job)
  --start-at TIME            start the ramp at TIME (RFC 3339 or epoch seconds, at most
                             10 minutes ahead), so shards started apart ramp together`;

interface ShardValues {
  shard?: string | undefined;
  shards?: string | undefined;
  'start-at'?: string | undefined;
  rate?: string | undefined;
}

export function shardFromFlags(values: ShardValues, env: Record<string, string | undefined>): ShardSpec | undefined {
  if (values.shard !== undefined && values.shards !== undefined) {
    throw new ConnlabError('CONNLAB_ERR_USAGE', '--shard and --shards are two ways to say the same thing', { hint: 'pass one of them' });
  }
  const shard = values.shard !== undefined ? parseShard(values.shard) : values.shards !== undefined ? shardFromEnv(values.shards, env) : undefined;
  if (shard && values.rate !== undefined) shardRate(parseCount(values.rate, '--rate', { min: 1 }), shard);
  return shard;
}

function shardFromEnv(shards: string, env: Record<string, string | undefined>): ShardSpec {
  const count = parseCount(shards, '--shards', { min: 1 });
  const index = env.JOB_COMPLETION_INDEX;
  if (index === undefined) {
    throw new ConnlabError('CONNLAB_ERR_USAGE', '--shards needs JOB_COMPLETION_INDEX in the environment', { hint: 'run it in an Indexed Job, or pass --shard I/N' });
  }
  return shardFromIndex(index, count);
}

/** Resolves after the --start-at wait (nothing has started yet, so Ctrl-C may just end it). */
export async function waitForStartAt(text: string | undefined, now = Date.now()): Promise<number> {
  if (text === undefined) return 0;
  const delayMs = startDelayMs(parseStartAt(text), now);
  await new Promise((resolve) => setTimeout(resolve, delayMs));
  return delayMs;
}

function tupleAt(input: PlanInput, local: number): string {
  return formatTuple(input, createTupleCursor(input, { start: local, count: 1 }).next(1));
}

/** Dry-run lines: the share, the rate, the sources and the first and last tuple. */
export function renderShardPlan(plan: TuplePlan, input: PlanInput, totalRatePerSec: number | null): string {
  const shard = plan.shard;
  if (!shard) return '';
  const d = plan.destinations;
  const lines = [
    `Shard ${formatShard(shard)}: ${formatCount(plan.connections)} of ${formatCount(shard.total)} connections` +
      (totalRatePerSec ? `, ${formatCount(shardRate(totalRatePerSec, shard))} of ${formatCount(totalRatePerSec)} connects/s` : ''),
    sharesTupleSpace(input)
      ? `  owns source pairs ${shard.index}, ${shard.index + shard.count}, ${shard.index + 2 * shard.count}, … (each: one source IP and port × ${formatCount(d)} destination(s))`
      : '  the source address is this host\'s own, so it plans its share in its own tuple space (other shards: other hosts)',
  ];
  if (plan.connections > 0) {
    lines.push(`  sources: ${describeSources(plan, input)}`);
    lines.push(`  first tuple ${tupleAt(input, 0)}; last ${tupleAt(input, plan.connections - 1)}`);
  }
  const shares = Array.from({ length: Math.min(shard.count, 8) }, (_, i) => formatCount(shardShare(shard.total, { index: i, count: shard.count }, d)));
  lines.push(`  all shares: ${shares.join(' + ')}${shard.count > 8 ? ' + …' : ''} = ${formatCount(shard.total)}`);
  return `${lines.join('\n')}\n`;
}

const gcd = (a: number, b: number): number => (b === 0 ? a : gcd(b, a % b));

/**
 * Which source IPs the shard uses: pair p has IP p mod S_ip, and the shard's pairs step
 * by the shard count, so it cycles through S_ip / gcd(shards, S_ip) of them.
 */
function describeSources(plan: TuplePlan, input: PlanInput): string {
  const shard = plan.shard as ShardSpec;
  if (!sharesTupleSpace(input)) return 'the kernel\'s choice of source address (this host\'s own)';
  const pairs = Math.ceil(plan.connections / plan.destinations);
  const distinct = Math.min(pairs, plan.sourceIps / gcd(shard.count, plan.sourceIps));
  const shown = Math.min(distinct, 4);
  const tuples = createTupleCursor(input, { start: 0, count: plan.connections }).next(shown * plan.destinations);
  const ips = Array.from({ length: shown }, (_, k) => formatTuple(input, tuples, k * plan.destinations * 4).replace(/:[^:]*→.*$/, ''));
  return `${formatCount(distinct)} of ${formatCount(plan.sourceIps)} source IP(s): ${ips.join(', ')}${distinct > shown ? ', …' : ''}`;
}
