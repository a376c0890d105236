// The four-tuple planner: which (source IP, source port, destination IP, destination
// port) each connection uses, so that no two connections share a tuple, the kernel never
// searches for a free port, and one source port serves every destination at once.
//
// Connection i goes to destination i mod D; its source pair is p = floor(i / D), with
// source IP p mod S and the (floor(p / S))-th usable source port. So the D connections
// of one source pair are adjacent, the pool is S × P × D, and worker w takes the
// contiguous slice [w·N/W, (w+1)·N/W). Tuples are generated per slice on demand, never
// for the whole run at once.

import { ConnlabError } from '../errors.ts';
import { shardGlobalIndex, shardShare, type ShardSpec } from '../shard/shard.ts';
import { countInRanges, formatIpv4, type Destination, type Range } from './address.ts';

/** The default planned source ports: wide, above the well-known and registered-service crowd. */
export const DEFAULT_SOURCE_PORTS: Range = { first: 10000, last: 65000 };
/** The first loopback address load picks sources from (127.0.0.1 is where servers listen). */
export const FIRST_LOOPBACK_SOURCE = 0x7f000002;

export interface PlanInput {
  connections: number;
  destinations: readonly Destination[];
  /** undefined: the kernel's routing chooses the source address (srcIp 0). */
  sourceIps: readonly Range[] | undefined;
  /** Planned source ports, or 'kernel' for ephemeral ports chosen at connect(). */
  sourcePorts: Range | 'kernel';
  workers: number;
  /** Kernel mode only: ports per (source, destination) pool, from ip_local_port_range. */
  kernelPoolSize?: number;
  /** This host's shard: `connections` is then the total over all shards (src/shard/shard.ts). */
  shard?: ShardSpec;
}

export interface Slice {
  worker: number;
  /** Index of the slice's first connection in the plan's sequence. */
  start: number;
  count: number;
}

export interface TuplePlan {
  strategy: 'planned' | 'kernel';
  connections: number;
  /** How many distinct tuples the inputs allow. */
  capacity: number;
  sourceIps: number;
  sourcePorts: number;
  destinations: number;
  slices: Slice[];
  /** Sharded plans: the total over all shards; `connections` is this shard's share. */
  shard?: ShardSpec & { total: number };
}

/**
 * Whether the shards of a plan share one tuple space: yes when the source addresses are
 * named (the shards may run on one host, so they stripe the global plan); no when the
 * kernel picks the source, i.e. each shard's own host address (hosts keep them apart).
 */
export function sharesTupleSpace(input: Pick<PlanInput, 'sourceIps'>): boolean {
  return input.sourceIps !== undefined;
}

/**
 * Source ports usable for planning: the range without any destination port. Filled
 * straight into a typed array: a JavaScript array of 55,001 numbers cost each load
 * worker ~1.7 MB of private memory (~140 B per connection at 100,000).
 */
export function usableSourcePorts(range: Range, destinations: readonly Destination[]): Uint16Array {
  const excluded = new Set(destinations.map((d) => d.port));
  const ports = new Uint16Array(range.last - range.first + 1);
  let n = 0;
  for (let port = range.first; port <= range.last; port++) if (!excluded.has(port)) ports[n++] = port;
  return ports.subarray(0, n);
}

function expandIps(ranges: readonly Range[] | undefined): Uint32Array {
  if (ranges === undefined) return Uint32Array.of(0);
  const out = new Uint32Array(countInRanges(ranges));
  let k = 0;
  for (const r of ranges) for (let ip = r.first; ip <= r.last; ip++) out[k++] = ip;
  return out;
}

function portCount(input: PlanInput): number {
  if (input.sourcePorts === 'kernel') return input.kernelPoolSize ?? 0;
  return usableSourcePorts(input.sourcePorts, input.destinations).length;
}

export function planTuples(input: PlanInput): TuplePlan {
  const sourceIps = input.sourceIps === undefined ? 1 : countInRanges(input.sourceIps);
  const destinations = input.destinations.length;
  const sourcePorts = portCount(input);
  const capacity = sourceIps * sourcePorts * destinations;
  if (destinations === 0) {
    throw new ConnlabError('CONNLAB_ERR_IMPOSSIBLE_TARGET', 'no destination to connect to', { hint: 'name at least one address:port' });
  }
  // Each shard on its own host with the kernel's choice of source address: the hosts'
  // addresses keep their tuples apart, so a shard plans only its share in its own space.
  const wanted = input.shard && !sharesTupleSpace(input) ? shardShare(input.connections, input.shard, destinations) : input.connections;
  if (wanted > capacity) {
    throw new ConnlabError(
      'CONNLAB_ERR_IMPOSSIBLE_TARGET',
      `${wanted.toLocaleString('en-US')} connections need more four-tuples than ${sourceIps} source IP(s) × ` +
        `${sourcePorts.toLocaleString('en-US')} source ports × ${destinations} destination(s) = ${capacity.toLocaleString('en-US')}`,
      { hint: `add source addresses (--source-ips ${formatIpv4(FIRST_LOOPBACK_SOURCE)}-…) or destinations, or lower -c` },
    );
  }
  // Sharded: slices index the shard's own sequence; the cursor maps it to global indices.
  const connections = input.shard ? shardShare(input.connections, input.shard, destinations) : input.connections;
  const workers = Math.max(1, Math.min(input.workers, connections));
  const slices: Slice[] = [];
  for (let w = 0; w < workers; w++) {
    const start = Math.floor((w * connections) / workers);
    const end = Math.floor(((w + 1) * connections) / workers);
    slices.push({ worker: w, start, count: end - start });
  }
  const shard = input.shard ? { ...input.shard, total: input.connections } : undefined;
  return { strategy: input.sourcePorts === 'kernel' ? 'kernel' : 'planned', connections, capacity, sourceIps, sourcePorts, destinations, slices, ...(shard ? { shard } : {}) };
}

/**
 * Generates tuples [srcIp, srcPort, dstIp, dstPort] for connections start..start+count-1,
 * in order. Build one per worker; each call to next() returns the next chunk.
 */
export function createTupleCursor(input: PlanInput, slice: Pick<Slice, 'start' | 'count'>) {
  const ips = expandIps(input.sourceIps);
  const ports = input.sourcePorts === 'kernel' ? Uint16Array.of(0) : usableSourcePorts(input.sourcePorts, input.destinations);
  const dests = input.destinations;
  const end = slice.start + slice.count;
  let index = slice.start;
  return {
    remaining: (): number => end - index,
    next(max: number): Uint32Array {
      const n = Math.max(0, Math.min(max, end - index));
      const out = new Uint32Array(n * 4);
      for (let k = 0; k < n; k++, index++) {
        const g = input.shard && sharesTupleSpace(input) ? shardGlobalIndex(index, input.shard, dests.length) : index;
        const dest = dests[g % dests.length] as Destination;
        const pair = Math.floor(g / dests.length);
        out[k * 4] = ips[pair % ips.length] ?? 0;
        // Kernel mode: the pair index only spreads sources; the kernel picks the port.
        out[k * 4 + 1] = ports.length === 1 && ports[0] === 0 ? 0 : (ports[Math.floor(pair / ips.length)] ?? 0);
        out[k * 4 + 2] = dest.ip;
        out[k * 4 + 3] = dest.port;
      }
      return out;
    },
  };
}

/** Loopback sources to add so planned ports cover `connections` (load's default on 127/8). */
export function loopbackSourcesFor(connections: number, destinations: readonly Destination[], ports: Range | 'kernel', kernelPoolSize: number): Range[] {
  const perSource = (ports === 'kernel' ? kernelPoolSize : usableSourcePorts(ports, destinations).length) * destinations.length;
  const count = Math.max(1, Math.ceil(connections / Math.max(1, perSource)));
  return [{ first: FIRST_LOOPBACK_SOURCE, last: FIRST_LOOPBACK_SOURCE + count - 1 }];
}

