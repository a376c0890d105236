// The capacity model: for a host snapshot and a traffic shape, how many concurrent
// connections each limit allows, which binds first, and what a user sees when it does.
// Pure: the same snapshot and shape always give the same report.

import { rangeSize, type Range } from '../tuple/address.ts';
import type { HostSnapshot } from './snapshot.ts';
import { familyPools, poolCount, socketsPerConnection, type TrafficShape } from './shape.ts';

export type LimitName =
  | 'ephemeral_ports'
  | 'process_fds'
  | 'user_fds'
  | 'system_fds'
  | 'memory'
  | 'backlog'
  | 'conntrack'
  | 'tasks'
  | 'cgroup_memory'
  | 'cgroup_pids';

export interface Limit {
  name: LimitName;
  /** The setting as a person reads it: `20,000 per process (hard 20,000)`. */
  value: string;
  /** Concurrent connections this limit allows for the shape; null: it does not cap them. */
  allows: number | null;
  /** The error or signal a user sees when it is full (`EMFILE`, `OOM`, `ListenOverflows`). */
  error: string;
  /** What happens when it is full, in words. */
  effect: string;
  /** The same in a few words, for tables. */
  symptom: string;
  /** allows − target (or − the binding limit's allows when there is no target); null when allows is. */
  headroom: number | null;
  /** False when the limit exists but nothing uses it now (conntrack loaded, not tracking). */
  active: boolean;
  /** Why the number is what it is. */
  detail: string;
}

/**
 * Descriptors a worker keeps for itself: stdio, the IPC channel, epoll, eventfd and timer
 * fds, listening sockets, libuv's internals. Measured: a Node 24 process holds ~19,900
 * sockets under a 20,000 limit.
 */
export const FD_RESERVE_PER_PROCESS = 100;
/** Private memory of one idle worker process (Node 24: ~9 MB measured via smaps_rollup). */
export const PROCESS_PRIVATE_BYTES = 10 * 1024 * 1024;
/** Threads of one Node worker: main, 4 libuv pool, V8 platform workers, inspector/signal. */
export const THREADS_PER_PROCESS = 11;
/** The listen backlog Node asks for when none is given. */
export const NODE_DEFAULT_BACKLOG = 511;

const ERRORS: Record<LimitName, { error: string; symptom: string; effect: string }> = {
  ephemeral_ports: { symptom: '"cannot assign requested address"', error: 'EADDRNOTAVAIL', effect: 'connect() fails: "cannot assign requested address"' },
  process_fds: { symptom: '"too many open files" in that process', error: 'EMFILE', effect: '"too many open files": connect() or accept() fails in that process; at accept() the handshake is already done, so the client sees a reset' },
  user_fds: { symptom: '"too many open files" in new sessions', error: 'EMFILE', effect: 'new login sessions and services start with this limit, so their processes hit "too many open files" there' },
  system_fds: { symptom: '"too many open files" host-wide', error: 'ENFILE', effect: '"too many open files in system": every process on the host fails to open files or sockets' },
  memory: { symptom: 'allocations fail, then the OOM killer', error: 'OOM', effect: 'socket allocations fail (ENOMEM/ENOBUFS), then the OOM killer ends processes' },
  backlog: { symptom: 'SYNs dropped, clients time out', error: 'ListenOverflows', effect: 'handshakes beyond the accept queue are dropped; clients retry the SYN and time out (ETIMEDOUT)' },
  conntrack: { symptom: 'packets dropped, clients time out', error: 'ETIMEDOUT', effect: '"nf_conntrack: table full, dropping packet": new connections time out' },
  tasks: { symptom: 'new processes fail to start', error: 'EAGAIN', effect: 'new worker processes cannot start: "resource temporarily unavailable"' },
  cgroup_memory: { symptom: 'OOM kill inside the cgroup', error: 'OOM (cgroup)', effect: 'the cgroup\'s OOM killer ends a process inside it (memory.oom_control / memory.events oom_kill +1; a pod shows OOMKilled and restarts) while the host has memory to spare' },
  cgroup_pids: { symptom: 'fork/clone fails in the cgroup', error: 'EAGAIN', effect: 'new worker processes and threads cannot start: fork() and clone() fail with EAGAIN "resource temporarily unavailable" (pids.events max +1)' },
};

const fmt = (n: number): string => (Number.isFinite(n) ? Math.round(n).toLocaleString('en-US') : 'unlimited');

/** One row of the table, with the error, symptom and effect every limit of that name shares. */
export function makeLimit(name: LimitName, value: string, allows: number | null, detail: string, active = true): Limit {
  return limit(name, value, allows, detail, active);
}

function limit(name: LimitName, value: string, allows: number | null, detail: string, active = true): Limit {
  return { name, value, allows: allows === null ? null : Math.max(0, Math.floor(allows)), ...ERRORS[name], headroom: null, active, detail };
}

function usablePerProcess(fds: number): number {
  return Math.max(0, fds - FD_RESERVE_PER_PROCESS);
}

/** Ports of `range` that none of `excluded` covers (reserved ports, destination ports). */
export function portsIn(range: Range, excluded: readonly Range[]): number {
  const overlap = excluded.reduce(
    (sum, r) => sum + Math.max(0, Math.min(r.last, range.last) - Math.max(r.first, range.first) + 1),
    0,
  );
  return Math.max(0, rangeSize(range) - overlap);
}

function targetPortRanges(shape: TrafficShape): Range[] {
  return [...(shape.targets?.map((t) => t.ports) ?? []), ...(shape.targets6?.map((t) => t.ports) ?? [])];
}

/** How the pools multiply: one family as `× S sources × D destinations`, both as a sum. */
function poolText(shape: TrafficShape, pool: number, what: string): { value: string; detail: string } {
  const { v4, v6 } = familyPools(shape);
  if (v6.destinations === 0) {
    return { value: multipliers(v4.sources, v4.destinations), detail: `${fmt(pool)} ${what} × ${fmt(v4.sources)} source IP(s) × ${fmt(v4.destinations)} destination(s)` };
  }
  const six = `${fmt(v6.sources)} IPv6 source(s) × ${fmt(v6.destinations)} IPv6 destination(s)`;
  if (v4.destinations === 0) return { value: ` × ${fmt(v6.sources)} IPv6 sources × ${fmt(v6.destinations)} destinations`, detail: `${fmt(pool)} ${what} × ${six}` };
  return {
    value: ` × (${fmt(v4.sources)} × ${fmt(v4.destinations)} IPv4 + ${fmt(v6.sources)} × ${fmt(v6.destinations)} IPv6 pairs)`,
    detail: `${fmt(pool)} ${what} × (${fmt(v4.sources)} source IP(s) × ${fmt(v4.destinations)} destination(s) + ${six})`,
  };
}

function multipliers(sources: number, destinations: number): string {
  return `${sources > 1 ? ` × ${fmt(sources)} sources` : ''}${destinations > 1 ? ` × ${fmt(destinations)} destinations` : ''}`;
}

export function ephemeralPortsLimit(host: HostSnapshot, shape: TrafficShape): Limit {
  if (shape.role === 'server') {
    return limit('ephemeral_ports', 'not used by a server', null,
      'a listening port accepts every (source IP, source port) pair: up to 2^32 × 2^16 connections per port');
  }
  const pairs = poolCount(shape);
  if (shape.sourcePorts === 'kernel') {
    const range = host.ports.range;
    if (range === undefined) return limit('ephemeral_ports', 'unknown', null, 'ip_local_port_range could not be read');
    const pool = portsIn(range, host.ports.reserved);
    const reserved = rangeSize(range) - pool;
    const text = poolText(shape, pool, 'kernel-chosen ports');
    return limit('ephemeral_ports', `${range.first}-${range.last} (${fmt(pool)} ports${reserved ? `, ${fmt(reserved)} reserved` : ''})${text.value}`,
      pool * pairs, `${text.detail}: the pool is per (source IP, destination IP, destination port)`);
  }
  const pool = portsIn(shape.sourcePorts, targetPortRanges(shape));
  const text = poolText(shape, pool, 'planned source ports');
  return limit('ephemeral_ports', `planned ${shape.sourcePorts.first}-${shape.sourcePorts.last} (${fmt(pool)} ports)${text.value}`,
    pool * pairs, `${text.detail}: one source port serves every destination`);
}

export function processFdsLimit(host: HostSnapshot, shape: TrafficShape): Limit {
  const { processSoft: soft, processHard: hard } = host.fds;
  if (soft === undefined) return limit('process_fds', 'unknown', null, '/proc/self/limits could not be read');
  return limit('process_fds', `${fmt(soft)} per process (hard ${fmt(hard ?? soft)})`,
    shape.processes * usablePerProcess(soft),
    `${fmt(shape.processes)} process(es) per side × (${fmt(soft)} − ${FD_RESERVE_PER_PROCESS} reserved) sockets`);
}

export function userFdsLimit(host: HostSnapshot, shape: TrafficShape): Limit {
  const user = host.fds.user;
  const nofile = user?.soft ?? user?.hard;
  if (user === undefined || nofile === undefined) {
    return limit('user_fds', 'not set in limits.conf', null,
      'no nofile entry applies to this user: sessions inherit the process limit above', false);
  }
  return limit('user_fds', `nofile ${fmt(nofile)} (${user.sources.join(', ')})`,
    shape.processes * usablePerProcess(nofile),
    'pam_limits applies nofile to each process of a new session, not to the user as a whole');
}

export function systemFdsLimit(host: HostSnapshot, shape: TrafficShape): Limit {
  const { fileMax, inUse = 0 } = host.fds;
  if (fileMax === undefined) return limit('system_fds', 'unknown', null, 'fs.file-max could not be read');
  const sockets = socketsPerConnection(shape);
  return limit('system_fds', `file-max ${fmt(fileMax)} (${fmt(inUse)} in use)`,
    (fileMax - inUse) / sockets,
    `(${fmt(fileMax)} − ${fmt(inUse)} open) / ${sockets} socket(s) per connection`);
}

export function memoryLimit(host: HostSnapshot, shape: TrafficShape): Limit {
  const available = host.memory.availableBytes;
  if (available === undefined) return limit('memory', 'unknown', null, 'MemAvailable could not be read');
  const sides = socketsPerConnection(shape);
  const perConnection = sides * (host.socketCost.kernelBytesPerSocket + shape.userBytesPerConnection);
  const fixed = sides * shape.processes * PROCESS_PRIVATE_BYTES;
  return limit('memory', `${fmt(available / 2 ** 20)} MiB available`,
    (available - fixed) / perConnection,
    `${sides} × (${fmt(host.socketCost.kernelBytesPerSocket)} B kernel per socket from ${host.socketCost.source} + ` +
      `${fmt(shape.userBytesPerConnection)} B user) = ${fmt(perConnection)} B per connection, after ` +
      `${fmt(sides * shape.processes)} process(es) × ${PROCESS_PRIVATE_BYTES / 2 ** 20} MiB; idle sockets hold no buffer pages, ` +
      'busy ones add tcp_rmem/tcp_wmem pages up to tcp_mem');
}

export function backlogLimit(host: HostSnapshot): Limit {
  const { somaxconn, tcpMaxSynBacklog, syncookies } = host.backlog;
  const queue = Math.min(somaxconn ?? NODE_DEFAULT_BACKLOG, NODE_DEFAULT_BACKLOG);
  return limit('backlog', `somaxconn ${fmt(somaxconn ?? NaN)}, tcp_max_syn_backlog ${fmt(tcpMaxSynBacklog ?? NaN)}, syncookies ${syncookies ?? '?'}`,
    null,
    `does not cap held connections: it caps handshakes waiting for accept() (${fmt(queue)} per listener with Node's default backlog, at most somaxconn); it bites when the ramp outruns accept()`);
}

export function conntrackLimit(host: HostSnapshot): Limit | undefined {
  const table = host.conntrack;
  if (table === undefined) return undefined;
  const tracking = table.count > 0;
  return limit('conntrack', `nf_conntrack_max ${fmt(table.max)} (${fmt(table.count)} tracked)`,
    table.max - table.count,
    tracking
      ? 'one entry per connection, whichever end is here; full means new connections are dropped'
      : 'loaded, but tracking nothing now: it binds only if a firewall rule turns tracking on for this traffic',
    tracking);
}

export function tasksLimit(host: HostSnapshot, shape: TrafficShape): Limit {
  const { threadsMax, pidMax, threadsNow = 0 } = host.tasks;
  const ceiling = Math.min(threadsMax ?? Infinity, pidMax ?? Infinity);
  if (!Number.isFinite(ceiling)) return limit('tasks', 'unknown', null, 'threads-max and pid_max could not be read');
  const processes = Math.floor((ceiling - threadsNow) / THREADS_PER_PROCESS);
  const soft = host.fds.processSoft ?? 1024;
  return limit('tasks', `threads-max ${fmt(threadsMax ?? NaN)}, pid_max ${fmt(pidMax ?? NaN)}`,
    Math.floor(processes / socketsPerConnection(shape)) * usablePerProcess(soft),
    `room for ${fmt(processes)} more worker processes of ~${THREADS_PER_PROCESS} threads, each holding up to ${fmt(usablePerProcess(soft))} sockets`);
}

/**
 * Every limit for the shape. `extra` adds limits from outside the host snapshot (the
 * cgroup's), evaluated for the same shape so spreading re-evaluates them too.
 */
export function evaluateLimits(host: HostSnapshot, shape: TrafficShape, extra: (shape: TrafficShape) => Limit[] = () => []): Limit[] {
  const limits = [
    ephemeralPortsLimit(host, shape),
    processFdsLimit(host, shape),
    userFdsLimit(host, shape),
    systemFdsLimit(host, shape),
    memoryLimit(host, shape),
    backlogLimit(host),
    conntrackLimit(host),
    tasksLimit(host, shape),
    ...extra(shape),
  ].filter((l): l is Limit => l !== undefined);
  const binding = findBinding(limits);
  const reference = shape.connections ?? binding?.allows ?? null;
  for (const l of limits) l.headroom = l.allows === null || reference === null ? null : l.allows - reference;
  return limits;
}

/** The active limit that allows the fewest connections. */
export function findBinding(limits: readonly Limit[]): Limit | undefined {
  let binding: Limit | undefined;
  for (const l of limits) {
    if (!l.active || l.allows === null) continue;
    if (binding === undefined || l.allows < (binding.allows ?? Infinity)) binding = l;
  }
  return binding;
}

/** Source IP count needed so the port pool covers `connections`. */
export function sourceIpsNeeded(host: HostSnapshot, shape: TrafficShape, connections: number): number {
  const perSource = ephemeralPortsLimit(host, { ...shape, sourceIps: undefined, sourceIps6: undefined }).allows;
  return perSource ? Math.ceil(connections / perSource) : Infinity;
}

