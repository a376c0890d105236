// How a pod is sized from doctor's per-connection model, and how many pods a run needs.
// A pod's memory limit is its cgroup's: every socket there charges its kernel objects to
// it (measured: docs/containers.md), plus what the workers keep per connection, plus the
// processes themselves; then a stated margin. Descriptors: each worker holds its share.

import { CGROUP_MEMORY_MARGIN } from '../limits/cgroup-advice.ts';
import { C_WORKER_USER_BYTES_PER_CONNECTION, CHARGED_BYTES_PER_SOCKET_V2 } from '../limits/cgroup-model.ts';
import { FD_RESERVE_PER_PROCESS } from '../limits/model.ts';

/** A C worker process's own memory (serve --help: ~1 MB each). */
export const WORKER_PRIVATE_BYTES = 2 ** 20;
/** The Node supervisor with its workers idle: ~51-59 MB measured in a cgroup here. */
export const SUPERVISOR_BYTES = 64 * 2 ** 20;
/** Kernel + user bytes one connection charges its pod (one socket per pod side). */
export const POD_BYTES_PER_CONNECTION = CHARGED_BYTES_PER_SOCKET_V2 + C_WORKER_USER_BYTES_PER_CONNECTION;
export const POD_MEMORY_MARGIN = CGROUP_MEMORY_MARGIN;

export interface PodSize {
  connections: number;
  processes: number;
  memoryRequestBytes: number;
  memoryLimitBytes: number;
  /** RLIMIT_NOFILE each worker needs for its share of the pod's connections. */
  nofilePerWorker: number;
}

const mibCeil = (n: number): number => Math.ceil(n / 2 ** 20) * 2 ** 20;

/** The model's bytes for `connections` held by `processes` workers in one pod, without the margin. */
export function podBytes(connections: number, processes: number): number {
  return connections * POD_BYTES_PER_CONNECTION + processes * WORKER_PRIVATE_BYTES + SUPERVISOR_BYTES;
}

/** Requests are the model's mean; the limit adds the margin, so the pod is not OOM-killed at its mean. */
export function podSize(connections: number, processes: number): PodSize {
  const bytes = podBytes(connections, processes);
  return {
    connections, processes,
    memoryRequestBytes: mibCeil(bytes), memoryLimitBytes: mibCeil(bytes * POD_MEMORY_MARGIN),
    nofilePerWorker: Math.ceil(connections / Math.max(1, processes)) + FD_RESERVE_PER_PROCESS,
  };
}

/** Connections one pod with `memoryBytes` as its limit holds by the model (the margin kept free). */
export function connectionsPerPodMemory(memoryBytes: number, processes: number): number {
  return Math.max(0, Math.floor((memoryBytes / POD_MEMORY_MARGIN - processes * WORKER_PRIVATE_BYTES - SUPERVISOR_BYTES) / POD_BYTES_PER_CONNECTION));
}

/** The comment a manifest carries: where its numbers come from. */
export function sizingComment(role: 'serve' | 'load', size: PodSize, fdLimit: number, extra: string[] = []): string[] {
  const kib = (n: number): string => n.toLocaleString('en-US');
  return [
    `${role}: ${kib(size.connections)} connections per pod, ${size.processes} worker(s).`,
    `memory request = ${kib(size.connections)} x (${kib(CHARGED_BYTES_PER_SOCKET_V2)} B kernel charged to the pod's cgroup per socket`,
    `  [inode, dentry, file, epoll item and the TCP object: doctor's cgroup model, measured in docs/containers.md]`,
    `  + ${C_WORKER_USER_BYTES_PER_CONNECTION} B user per connection [C worker]) + ${size.processes} x ${WORKER_PRIVATE_BYTES / 2 ** 20} MiB per worker + ${SUPERVISOR_BYTES / 2 ** 20} MiB supervisor`,
    `  = ${size.memoryRequestBytes / 2 ** 20}Mi; limit = request x ${POD_MEMORY_MARGIN} margin = ${size.memoryLimitBytes / 2 ** 20}Mi (allocator slack, GC, bursts).`,
    `descriptors: each worker holds <= ${kib(size.nofilePerWorker - FD_RESERVE_PER_PROCESS)} sockets + ${FD_RESERVE_PER_PROCESS} reserved = RLIMIT_NOFILE ${kib(size.nofilePerWorker)} needed; the runtime gives ${kib(fdLimit)}.`,
    ...extra,
  ];
}
