// What went wrong inside a cgroup between two readings: an OOM kill (v1 memory.oom_control,
// v2 memory.events), the memory limit hit (v1 memory.failcnt, v2 memory.events max), a
// fork refused by pids.max (pids.events max). bench and serve read it when the server
// fails, so the failure is named as the cgroup's and not as a generic death.

import { posix } from 'node:path';
import { parseCgroupNumber, parseFlatKeyed } from './cgroup-parsers.ts';
import type { CgroupSnapshot } from './cgroup-reader.ts';
import type { HostReader } from './host-reader.ts';

export interface CgroupEvents {
  oom_kills: number;
  /** Times usage hit the memory limit (v1 failcnt, v2 memory.events max). */
  memory_limit_hits: number;
  /** Forks refused by pids.max (pids.events max). */
  pids_refused: number;
  usage_bytes: number | null;
  limit_bytes: number | null;
}

export interface CgroupFailure {
  limit: 'cgroup_memory' | 'cgroup_pids';
  /** `OOM kill` or `EAGAIN`: the name a report shows. */
  error: string;
  /** One line for people: what the counters say happened. */
  line: string;
}

const read = (reader: HostReader, dir: string, file: string): string => reader.readText(posix.join(dir, file)) ?? '';

/** The cgroup's failure counters now. */
export function readCgroupEvents(reader: HostReader, cgroup: CgroupSnapshot): CgroupEvents {
  const v1 = cgroup.version === 1;
  const events = parseFlatKeyed(read(reader, cgroup.dir, v1 ? 'memory.oom_control' : 'memory.events'));
  const pidsDir = cgroup.pids?.dir ?? cgroup.dir;
  return {
    oom_kills: events.get('oom_kill') ?? 0,
    memory_limit_hits: v1 ? parseCgroupNumber(read(reader, cgroup.dir, 'memory.failcnt')) ?? 0 : events.get('max') ?? 0,
    pids_refused: parseFlatKeyed(read(reader, pidsDir, 'pids.events')).get('max') ?? 0,
    usage_bytes: parseCgroupNumber(read(reader, cgroup.dir, v1 ? 'memory.usage_in_bytes' : 'memory.current')) ?? null,
    limit_bytes: cgroup.memory?.limit_bytes ?? null,
  };
}

/** The cgroup's own failure between two readings, or null when its counters did not move. */
export function cgroupFailure(before: CgroupEvents, after: CgroupEvents, path: string, pidsPath = path): CgroupFailure | null {
  const kills = after.oom_kills - before.oom_kills;
  if (kills > 0) {
    return { limit: 'cgroup_memory', error: 'OOM kill', line: `the cgroup's OOM killer ended ${kills} process(es) in ${path} (oom_kill ${before.oom_kills} → ${after.oom_kills}): its memory limit is full` };
  }
  const refused = after.pids_refused - before.pids_refused;
  if (refused > 0) {
    return { limit: 'cgroup_pids', error: 'EAGAIN', line: `pids.max refused ${refused} fork(s) in ${pidsPath} (pids.events max ${before.pids_refused} → ${after.pids_refused})` };
  }
  const hits = after.memory_limit_hits - before.memory_limit_hits;
  if (hits > 0) {
    return { limit: 'cgroup_memory', error: 'ENOMEM', line: `${path} hit its memory limit ${hits} time(s) (allocations failed or were reclaimed at the limit)` };
  }
  return null;
}
