// The shape of traffic a capacity question is about. The same fields back the flags of
// doctor, load and bench (`--role`, `--source-ips`, `--targets`, `--source-ports`,
// `--processes`, `--connections`), so one prediction means the same thing everywhere.

import { ConnlabError } from '../errors.ts';
import { countDestinations, countInRanges, rangeSize, type Range, type TargetSpec } from '../tuple/address.ts';
import type { Sources6 } from '../tuple/ipv6.ts';

export type Role = 'server' | 'client' | 'both';
export const ROLES: readonly Role[] = ['server', 'client', 'both'];

export interface TrafficShape {
  /** `both`: the two ends on this host, as in a loopback bench (two sockets per connection). */
  role: Role;
  /** Source addresses; undefined means one chosen by routing (all of 127/8 for `both`). */
  sourceIps: Range[] | undefined;
  /** Destinations; undefined means one. */
  targets: TargetSpec[] | undefined;
  /** IPv6 destinations (`--targets [fd00::1]:9000`), beside the IPv4 ones. */
  targets6?: { address: string; ports: Range }[];
  /** IPv6 source addresses (`--source-ips fd00:18::/64`): for the IPv6 destinations. */
  sourceIps6?: Sources6;
  /** An explicit source port range (planned four-tuples) or kernel-chosen ports. */
  sourcePorts: Range | 'kernel';
  /** Processes on each side. */
  processes: number;
  /** The target; undefined asks "how many can this host hold?". */
  connections: number | undefined;
  /** User-space bytes one connection costs on one side (connlab's engine by default). */
  userBytesPerConnection: number;
}

/**
 * Private bytes per connection per side that connlab's engine is budgeted for; the
 * measured figures are in README "Benchmarks". Used for the memory prediction.
 */
export const DEFAULT_USER_BYTES_PER_CONNECTION = 1000;

export function defaultShape(overrides: Partial<TrafficShape> = {}): TrafficShape {
  return {
    role: 'client',
    sourceIps: undefined,
    targets: undefined,
    sourcePorts: 'kernel',
    processes: 1,
    connections: undefined,
    userBytesPerConnection: DEFAULT_USER_BYTES_PER_CONNECTION,
    ...overrides,
  };
}

export function socketsPerConnection(shape: TrafficShape): number {
  return shape.role === 'both' ? 2 : 1;
}

/**
 * With both ends on this host and no --source-ips, connlab plans sources across
 * 127.0.0.0/8 itself (every address there reaches lo), as bench does: 127.0.0.1 serves,
 * the rest of the block, less the network and broadcast addresses, can connect.
 */
export const LOOPBACK_SOURCE_IPS = 2 ** 24 - 3;

export function sourceIpCount(shape: TrafficShape): number {
  if (shape.sourceIps !== undefined) return countInRanges(shape.sourceIps);
  return shape.role === 'both' ? LOOPBACK_SOURCE_IPS : 1;
}

export function destinationCount(shape: TrafficShape): number {
  const { v4, v6 } = familyPools(shape);
  return v4.destinations + v6.destinations;
}

/** Sources and destinations per family: a source only pairs with destinations of its family. */
export interface FamilyPools {
  v4: { sources: number; destinations: number };
  v6: { sources: number; destinations: number };
}

/**
 * Each (source address, destination address, destination port) is a port pool of its own,
 * in either family; IPv4 sources pair with IPv4 destinations and IPv6 with IPv6. Without
 * IPv6 sources an IPv6 destination is reached from one address (the routing's choice, ::1
 * on loopback: IPv6 has no 127/8).
 */
export function familyPools(shape: TrafficShape): FamilyPools {
  const v6Destinations = (shape.targets6 ?? []).reduce((sum, t) => sum + rangeSize(t.ports), 0);
  const v4Destinations = shape.targets !== undefined ? countDestinations(shape.targets) : v6Destinations > 0 ? 0 : 1;
  return {
    v4: { sources: sourceIpCount(shape), destinations: v4Destinations },
    v6: { sources: shape.sourceIps6 ? countInRanges(shape.sourceIps6.ranges) : 1, destinations: v6Destinations },
  };
}

/** The (source, destination) pairs the shape names: each one a port pool. */
export function poolCount(shape: TrafficShape): number {
  const { v4, v6 } = familyPools(shape);
  return v4.sources * v4.destinations + v6.sources * v6.destinations;
}

/** Rejects shapes that cannot exist, naming the flag to change. */
export function validateShape(shape: TrafficShape): TrafficShape {
  if (!Number.isSafeInteger(shape.processes) || shape.processes < 1) {
    throw new ConnlabError('CONNLAB_ERR_INVALID_ARGUMENT', `--processes must be at least 1, got ${shape.processes}`, {
      hint: 'pass --processes 1 or more (processes on each side)',
    });
  }
  if (shape.connections !== undefined && shape.connections < 1) {
    throw new ConnlabError('CONNLAB_ERR_IMPOSSIBLE_TARGET', '--connections must be at least 1', {
      hint: 'pass a target like --connections 100k, or leave it out to ask what the host can hold',
    });
  }
  if (shape.role === 'server' && (shape.sourceIps !== undefined || shape.sourceIps6 !== undefined)) {
    throw new ConnlabError('CONNLAB_ERR_USAGE', '--source-ips describes the client side and --role server has none', {
      hint: 'use --role client or --role both to plan source addresses',
    });
  }
  if (shape.sourcePorts !== 'kernel' && shape.sourcePorts.first < 1024 && shape.role !== 'server') {
    throw new ConnlabError('CONNLAB_ERR_IMPOSSIBLE_TARGET', `--source-ports ${shape.sourcePorts.first}-${shape.sourcePorts.last} includes privileged ports below 1024`, {
      hint: 'start the source port range at 1024 or above, e.g. --source-ports 10000-65000',
    });
  }
  if (shape.sourcePorts !== 'kernel' && rangeSize(shape.sourcePorts) < 1) {
    throw new ConnlabError('CONNLAB_ERR_IMPOSSIBLE_TARGET', '--source-ports is empty', { hint: 'give a range like 10000-65000' });
  }
  return shape;
}
