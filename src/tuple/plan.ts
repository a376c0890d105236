// The four-tuple planner: which (source IP, source port, destination IP, destination
// port) each connection uses, so that no two connections share a tuple, the kernel never
// searches for a free port, and one source port serves every destination at once.
//
// Connection i goes to destination i mod D; its source pair is p = floor(i / D), with
// source IP p mod S and the (floor(p / S))-th usable source port. So the D connections
// of one source pair are adjacent, the pool is S × P × D, and worker w takes the
// contiguous slice [w·N/W, (w+1)·N/W). Tuples are generated per slice on demand, never
// for the whole run at once.
//
// Both families: a connection to an IPv6 destination takes its source from the IPv6
// list, one to an IPv4 destination from the IPv4 list, so each family has its own S and
// the pool is D × P × the smaller S. Every (source, destination) pair is a pool of its
// own, whichever the family. An IPv6 tuple says so in its port word (TUPLE_IPV6) and
// carries 32-bit words that the holder maps back (see createTupleCursor).

import { ConnlabError } from '../errors.ts';
import { shardGlobalIndex, shardShare, type ShardSpec } from '../shard/shard.ts';
import { countInRanges, formatIpv4, type Destination, type Range } from './address.ts';
import { formatIpv6, ipv6Bytes, parseIpv6, type Sources6 } from './ipv6.ts';

/**
 * Set in a tuple's destination-port word for an IPv6 connection: then the source word is
 * an offset from `sourceIps6.base` (0: the kernel's choice) and the destination word the
 * destination's index in `destinations` (the holders get each table once, holder.ts).
 */
export const TUPLE_IPV6 = 0x10000;

/** The default planned source ports: wide, above the well-known and registered-service crowd. */
export const DEFAULT_SOURCE_PORTS: Range = { first: 10000, last: 65000 };
/** The first loopback address load picks sources from (127.0.0.1 is where servers listen). */
export const FIRST_LOOPBACK_SOURCE = 0x7f000002;

export interface PlanInput {
  connections: number;
  destinations: readonly Destination[];
  /** undefined: the kernel's routing chooses the source address (srcIp 0). IPv4 destinations only. */
  sourceIps: readonly Range[] | undefined;
  /** Sources for IPv6 destinations; undefined: the kernel's choice. */
  sourceIps6?: Sources6;
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
export function sharesTupleSpace(input: Pick<PlanInput, 'sourceIps' | 'sourceIps6'>): boolean {
  return input.sourceIps !== undefined || input.sourceIps6 !== undefined;
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

/** The k-th address of merged ranges without listing them (an IPv6 /64 lends 2^32 - 1). */
interface AddressPicker { size: number; at(k: number): number }

function addressPicker(ranges: readonly Range[] | undefined): AddressPicker {
  if (ranges === undefined || ranges.length === 0) return { size: 1, at: () => 0 };
  const starts: number[] = [];
  let size = 0;
  for (const r of ranges) { starts.push(size); size += r.last - r.first + 1; }
  if (ranges.length === 1) { const first = ranges[0]?.first ?? 0; return { size, at: (k) => first + k }; }
  return {
    size,
    at(k) {
      let lo = 0;
      let hi = starts.length - 1;
      while (lo < hi) { const mid = (lo + hi + 1) >> 1; if ((starts[mid] ?? 0) <= k) lo = mid; else hi = mid - 1; }
      return (ranges[lo]?.first ?? 0) + k - (starts[lo] ?? 0);
    },
  };
}

/** Source addresses per family as the plan counts them: 1 where the kernel chooses. */
function familySources(input: Pick<PlanInput, 'destinations' | 'sourceIps' | 'sourceIps6'>): number {
  const has6 = input.destinations.some((d) => d.ip6 !== undefined);
  const has4 = input.destinations.some((d) => d.ip6 === undefined);
  const s4 = input.sourceIps === undefined ? 1 : countInRanges(input.sourceIps);
  const s6 = input.sourceIps6 === undefined ? 1 : countInRanges(input.sourceIps6.ranges);
  return has4 && has6 ? Math.min(s4, s6) : has6 ? s6 : s4;
}

function portCount(input: PlanInput): number {
  if (input.sourcePorts === 'kernel') return input.kernelPoolSize ?? 0;
  return usableSourcePorts(input.sourcePorts, input.destinations).length;
}

export function planTuples(input: PlanInput): TuplePlan {
  const sourceIps = familySources(input);
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
      {
        hint: input.destinations.some((d) => d.ip6 !== undefined)
          ? 'add IPv6 sources (--source-ips with a prefix routed to this host, docs/targets.md) or destination ports, or lower -c'
          : `add source addresses (--source-ips ${formatIpv4(FIRST_LOOPBACK_SOURCE)}-…) or destinations, or lower -c`,
      },
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
  const ips = addressPicker(input.sourceIps);
  const ips6 = addressPicker(input.sourceIps6?.ranges);
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
        const d = g % dests.length;
        const dest = dests[d] as Destination;
        const pair = Math.floor(g / dests.length);
        const src = dest.ip6 === undefined ? ips : ips6;
        out[k * 4] = src.at(pair % src.size);
        // Kernel mode: the pair index only spreads sources; the kernel picks the port.
        out[k * 4 + 1] = ports.length === 1 && ports[0] === 0 ? 0 : (ports[Math.floor(pair / src.size)] ?? 0);
        out[k * 4 + 2] = dest.ip6 === undefined ? dest.ip : d;
        out[k * 4 + 3] = dest.ip6 === undefined ? dest.port : dest.port | TUPLE_IPV6;
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


/**
 * What the holders need to turn IPv6 tuples into addresses: the 16-byte source base, then
 * 16 bytes per destination (zeros for IPv4 ones). Undefined when no destination is IPv6.
 */
export function ipv6Table(input: Pick<PlanInput, 'destinations' | 'sourceIps6'>): Uint8Array | undefined {
  if (!input.destinations.some((d) => d.ip6 !== undefined)) return undefined;
  const table = new Uint8Array(16 * (1 + input.destinations.length));
  table.set(ipv6Bytes(parseIpv6(input.sourceIps6?.base ?? '::') ?? 0n), 0);
  input.destinations.forEach((d, i) => {
    if (d.ip6 !== undefined) table.set(ipv6Bytes(parseIpv6(d.ip6) ?? 0n), 16 * (1 + i));
  });
  return table;
}

/** One tuple as text, in either family: `127.0.0.2:10000 → 127.0.0.1:9000`, `[fd00:18::1]:10000 → [::1]:9000`. */
export function formatTuple(input: Pick<PlanInput, 'destinations' | 'sourceIps6'>, t: ArrayLike<number>, at = 0): string {
  const [srcIp = 0, srcPort = 0, dstIp = 0, dstPort = 0] = [t[at], t[at + 1], t[at + 2], t[at + 3]];
  const v6 = (dstPort & TUPLE_IPV6) !== 0;
  const base = parseIpv6(input.sourceIps6?.base ?? '::') ?? 0n;
  const src = srcIp === 0 ? 'kernel' : v6 ? `[${formatIpv6(base + BigInt(srcIp))}]` : formatIpv4(srcIp);
  const dst = v6 ? `[${input.destinations[dstIp]?.ip6 ?? '?'}]` : formatIpv4(dstIp);
  return `${src}:${srcPort === 0 ? 'kernel' : srcPort} → ${dst}:${dstPort & 0xffff}`;
}
