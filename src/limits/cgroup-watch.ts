// A running command's view of its own cgroup: the limits and usage to print beside the
// host's, and whether the cgroup's counters moved since the start (an OOM kill, a fork
// refused by pids.max), so a death or a failed start is named as the cgroup's.

import { cgroupFailure, readCgroupEvents, type CgroupEvents, type CgroupFailure } from './cgroup-events.ts';
import { readCgroupSnapshot, type CgroupSnapshot, type CgroupTarget } from './cgroup-reader.ts';
import { createHostReader, type HostReader } from './host-reader.ts';

/** The cgroup beside the host in serve's and bench's results (snake_case, JSON-safe). */
export interface CgroupRunSummary {
  path: string;
  version: 1 | 2;
  memory_limit_bytes: number | null;
  memory_usage_bytes: number | null;
  oom_kills: number | null;
  pids_max: number | null;
  pids_current: number | null;
  /** What the cgroup's counters say went wrong since the start; null: nothing. */
  failure: CgroupFailure | null;
}

export interface CgroupWatch {
  readonly snapshot: CgroupSnapshot;
  /** True when the cgroup has a memory limit or pids.max on its path: worth printing. */
  readonly limited: boolean;
  /** The cgroup's own failure since the watch began (reads the counters now). */
  failure(): CgroupFailure | null;
  summary(): CgroupRunSummary;
}

export function watchCgroup(target: CgroupTarget = { kind: 'self' }, reader: HostReader = createHostReader('/')): CgroupWatch | undefined {
  const first = readCgroupSnapshot(reader, target);
  if (first === undefined) return undefined;
  const before: CgroupEvents = readCgroupEvents(reader, first);
  const failure = (): CgroupFailure | null => cgroupFailure(before, readCgroupEvents(reader, first), first.path, first.pids?.dir ?? first.path);
  return {
    snapshot: first,
    limited: first.memory?.limit_bytes != null || first.pids?.max != null,
    failure,
    summary() {
      const now = readCgroupSnapshot(reader, target) ?? first;
      return {
        path: now.path, version: now.version,
        memory_limit_bytes: now.memory?.limit_bytes ?? null, memory_usage_bytes: now.memory?.usage_bytes ?? null,
        oom_kills: now.memory?.oom_kills ?? null,
        pids_max: now.pids?.max ?? null, pids_current: now.pids?.current ?? null,
        failure: failure(),
      };
    },
  };
}

const mib = (n: number): string => `${Math.round(n / 2 ** 20).toLocaleString('en-US')} MiB`;

/** One line for people: the cgroup's limits and usage beside the host's available memory. */
export function describeCgroup(s: CgroupRunSummary, hostAvailableBytes?: number): string {
  const memory = s.memory_limit_bytes === null ? 'no memory limit' : `memory limit ${mib(s.memory_limit_bytes)}, ${mib(s.memory_usage_bytes ?? 0)} used`;
  const host = hostAvailableBytes === undefined ? '' : ` (host: ${mib(hostAvailableBytes)} available)`;
  const pids = s.pids_max === null ? '' : `; pids.max ${s.pids_max.toLocaleString('en-US')}, ${(s.pids_current ?? 0).toLocaleString('en-US')} in use`;
  return `in cgroup ${s.path} (v${s.version}): ${memory}${host}${pids}`;
}
