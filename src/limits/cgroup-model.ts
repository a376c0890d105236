// The cgroup's share of the capacity model: what one connection costs the cgroup that
// owns the server's sockets (not what it costs the host), how many connections its
// memory limit and pids.max allow, and a note on what a CPU quota does to the ramp.
// Pure: a cgroup snapshot, a host snapshot and a shape in, limits out.
//
// What the kernel charges (measured on 6.18, cgroup v1, `connlab serve` in a child
// cgroup, see docs/containers.md): every accepted socket charges its inode
// (sock_inode_cache), dentry, file (filp) and epoll item (eventpoll_epi) to the task
// that called accept(), about 1,480 B. The TCP socket object itself (2,368 B) is built
// in softirq when the client's ACK arrives, where no task's cgroup applies; it is
// charged at accept() only when the kernel's socket accounting is on: always on cgroup
// v2, and on v1 once any memory cgroup has had memory.kmem.tcp.limit_in_bytes written.
// Then about 3,860 B. The host pays the slab pages (with padding) either way.

import type { CgroupSnapshot } from './cgroup-reader.ts';
import { FD_RESERVE_PER_PROCESS, makeLimit, PROCESS_PRIVATE_BYTES, type Limit } from './model.ts';
import { socketsPerConnection, type TrafficShape } from './shape.ts';
import type { HostSnapshot } from './snapshot.ts';

/** Object sizes (not slab pages: the cgroup is charged per object) on Linux 6.x x86_64, for when slabinfo is closed. */
export const FALLBACK_OBJECT_BYTES: Readonly<Record<string, number>> = {
  TCP: 2368, sock_inode_cache: 832, filp: 192, dentry: 192, eventpoll_epi: 128,
};

/** Caches charged to whoever calls accept() (or socket()), in task context, always. */
export const ALWAYS_CHARGED_CACHES = ['sock_inode_cache', 'filp', 'dentry', 'eventpoll_epi'] as const;

/**
 * Charged per socket beyond those objects: epoll's wait-queue entry (eppoll_entry) and
 * small accounted allocations around the file. Measured residual: 1,483 B charged against
 * 1,344 B of objects without socket accounting, 3,858 B against 3,712 B with it.
 */
export const CHARGED_EXTRA_BYTES_PER_SOCKET = 140;

/** What a C worker keeps per held connection (~41 B measured for serve, ~45 B for load) with room for its tables' growth. */
export const C_WORKER_USER_BYTES_PER_CONNECTION = 48;

/** Kernel bytes one socket charges its owner's cgroup with socket accounting on (v2, as on Kubernetes nodes): the fallback objects plus the residual. */
export const CHARGED_BYTES_PER_SOCKET_V2 = Object.values(FALLBACK_OBJECT_BYTES).reduce((a, b) => a + b, 0) + CHARGED_EXTRA_BYTES_PER_SOCKET;

/** Tasks (pids.max counts threads) one C worker process takes; a Node worker takes ~11. */
export const TASKS_PER_C_WORKER = 1;
/** Tasks the Node supervisor of serve takes (main, libuv pool, V8 platform threads). */
export const SUPERVISOR_TASKS = 11;

export interface ChargedCost {
  /** Kernel bytes charged to the owner's cgroup per socket. */
  kernelBytesPerSocket: number;
  /** The same if the TCP object is charged (socket accounting on) / not charged. */
  withTcpObject: number;
  withoutTcpObject: number;
  /** Which figure the prediction uses and why. */
  basis: string;
}

/** Object sizes by cache: from slabinfo when given, else the fallback table. */
export function chargedCost(cgroup: CgroupSnapshot, objectBytes: Readonly<Record<string, number>> = FALLBACK_OBJECT_BYTES): ChargedCost {
  const size = (name: string): number => objectBytes[name] ?? FALLBACK_OBJECT_BYTES[name] ?? 0;
  const withoutTcpObject = ALWAYS_CHARGED_CACHES.reduce((sum, name) => sum + size(name), 0) + CHARGED_EXTRA_BYTES_PER_SOCKET;
  const withTcpObject = withoutTcpObject + size('TCP');
  const accounting = cgroup.memory?.socket_accounting ?? 'unknown';
  // Unknown on v1: assume the larger charge, so the prediction errs towards fewer connections.
  return {
    kernelBytesPerSocket: withTcpObject,
    withTcpObject,
    withoutTcpObject,
    basis: accounting === 'on'
      ? 'socket accounting is on: the TCP object is charged at accept()'
      : `socket accounting unknown (v1): assumed on; if it is off only ${withoutTcpObject.toLocaleString('en-US')} B are charged`,
  };
}

const fmt = (n: number): string => Math.round(n).toLocaleString('en-US');
const mib = (n: number): string => `${fmt(n / 2 ** 20)} MiB`;

function cgroupLimit(name: 'cgroup_memory' | 'cgroup_pids', value: string, allows: number | null, detail: string, active = true): Limit {
  return makeLimit(name, value, allows, detail, active);
}

/** The memory the cgroup has left for connections: limit − (usage − reclaimable page cache) − workers not started yet. */
export function cgroupMemoryLimit(cgroup: CgroupSnapshot, host: HostSnapshot, shape: TrafficShape, objectBytes?: Readonly<Record<string, number>>): Limit | undefined {
  const memory = cgroup.memory;
  if (memory === null) return undefined;
  const where = `cgroup ${cgroup.path} (v${cgroup.version})`;
  if (memory.limit_bytes === null) {
    return cgroupLimit('cgroup_memory', `no limit on ${cgroup.path}`, null, `${where}: no memory limit on the path to the root; the host's memory binds`, false);
  }
  const cost = chargedCost(cgroup, objectBytes);
  const sides = socketsPerConnection(shape);
  const perConnection = sides * (cost.kernelBytesPerSocket + shape.userBytesPerConnection);
  const used = Math.max(0, (memory.usage_bytes ?? 0) - memory.reclaimable_bytes);
  // A running server's processes are already in usage; an empty cgroup still has to start them.
  const fixed = cgroup.members.length > 0 ? 0 : sides * shape.processes * PROCESS_PRIVATE_BYTES;
  const setAt = memory.limit_path === cgroup.path ? '' : ` (set on ${memory.limit_path})`;
  return cgroupLimit('cgroup_memory', `${mib(memory.limit_bytes)}${setAt}, ${mib(used)} used`,
    (memory.limit_bytes - used - fixed) / perConnection,
    `${where}: (${mib(memory.limit_bytes)} − ${mib(used)} used${fixed ? ` − ${mib(fixed)} for workers` : ''}) / ` +
      `${sides} × (${fmt(cost.kernelBytesPerSocket)} B kernel charged per socket + ${fmt(shape.userBytesPerConnection)} B user) = ` +
      `${fmt(perConnection)} B per connection; ${cost.basis}; the host pays ${fmt(host.socketCost.kernelBytesPerSocket)} B per socket`);
}

/** pids.max counts tasks (threads): it caps worker processes, and so the descriptors they hold. */
export function cgroupPidsLimit(cgroup: CgroupSnapshot, host: HostSnapshot, shape: TrafficShape, tasksPerWorker = TASKS_PER_C_WORKER): Limit | undefined {
  const pids = cgroup.pids;
  if (pids === null) return undefined;
  if (pids.max === null) {
    return cgroupLimit('cgroup_pids', 'no pids.max', null, 'no pids.max on the path to the root: only kernel.threads-max and pid_max bind', false);
  }
  const current = pids.current ?? 0;
  const running = Math.max(0, cgroup.members.length - 1);
  // Node's supervisor starts threads on demand (7 idle, 11 once libuv's pool runs): budget its peak.
  const supervisorNow = cgroup.members.length > 0 ? Math.max(0, current - running * tasksPerWorker) : 0;
  const supervisor = Math.max(supervisorNow, SUPERVISOR_TASKS);
  const workers = Math.floor(Math.max(0, pids.max - supervisor) / tasksPerWorker);
  const perWorker = Math.max(0, (host.fds.processSoft ?? 1024) - FD_RESERVE_PER_PROCESS);
  const setAt = pids.max_path === cgroup.path ? '' : ` (set on ${pids.max_path})`;
  return cgroupLimit('cgroup_pids', `pids.max ${fmt(pids.max)}${setAt}, ${fmt(current)} in use`,
    Math.floor(workers / socketsPerConnection(shape)) * perWorker,
    `${fmt(workers)} worker process(es) of ${tasksPerWorker} task(s) fit beside a supervisor of ${supervisor} task(s) at its peak ` +
      `(${running} running now) × ${fmt(perWorker)} sockets each under the descriptor limit`);
}

/** A CPU quota does not cap held connections; it slows the ramp (handshakes and accept() are CPU work). */
export function cpuQuotaNote(cgroup: CgroupSnapshot, host: HostSnapshot): string | null {
  const cpu = cgroup.cpu;
  if (cpu === null || cpu.cpus === null) return null;
  const share = host.cpus ? ` of the host's ${host.cpus}` : '';
  return `CPU quota ${cpu.cpus.toFixed(2)} CPU${share} (${cpu.quota_us} µs per ${cpu.period_us} µs on ${cpu.quota_path}): ` +
    'it caps no connection count, but accept() and handshakes are throttled to it, so ramps run proportionally slower and connect latency rises while throttled';
}

/** Every cgroup limit for the shape (those the cgroup does not have are left out). */
export function cgroupLimits(cgroup: CgroupSnapshot, host: HostSnapshot, shape: TrafficShape, objectBytes?: Readonly<Record<string, number>>): Limit[] {
  return [cgroupMemoryLimit(cgroup, host, shape, objectBytes), cgroupPidsLimit(cgroup, host, shape)].filter((l): l is Limit => l !== undefined);
}
