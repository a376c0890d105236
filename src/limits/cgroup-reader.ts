// Reads the cgroup a server runs in (v1 or v2) into one plain, JSON-safe snapshot: the
// memory limit that binds on the path to the root (the smallest one), usage and what
// the kernel charged there, the OOM and failure counters, pids.max and the CPU quota.
// Every file goes through a HostReader, so tests point the root at fixture trees.

import { posix } from 'node:path';
import type { HostReader } from './host-reader.ts';
import {
  parseCfsQuota, parseCgroupLimit, parseCgroupMounts, parseCgroupNumber, parseCpuMax, parseFlatKeyed,
  parseProcCgroup, type CgroupMount, type ProcCgroupLine,
} from './cgroup-parsers.ts';

/** Whose cgroup: this process's, another process's, or a cgroup named by path. */
export type CgroupTarget = { kind: 'self' } | { kind: 'pid'; pid: number } | { kind: 'path'; path: string };

/**
 * Whether the kernel charges the TCP socket object itself to the cgroup at accept():
 * `on` when it surely does (v2; v1 with a kmem.tcp limit written somewhere), `unknown`
 * on v1 when no cgroup shows one (it may still be on: a removed cgroup keeps it on).
 */
export type SocketAccounting = 'on' | 'unknown';

export interface CgroupMemory {
  /** The smallest limit on the path to the root; null: none. */
  limit_bytes: number | null;
  /** The cgroup path where that limit is set. */
  limit_path: string | null;
  /** v2 memory.high (throttling starts there); null: none or v1. */
  high_bytes: number | null;
  usage_bytes: number | null;
  /** Page cache the kernel can drop before it reclaims anything else (inactive_file). */
  reclaimable_bytes: number;
  /** Kernel memory charged here (v1 memory.kmem.usage_in_bytes, v2 memory.stat kernel). */
  kernel_bytes: number | null;
  slab_bytes: number | null;
  /** Socket buffer pages: v2 memory.stat sock, v1 memory.kmem.tcp.usage_in_bytes. */
  sock_bytes: number | null;
  /** v1 memory.kmem.tcp.limit_in_bytes; null: none or v2. */
  tcp_limit_bytes: number | null;
  /** v1 memory.failcnt: times usage hit the limit. */
  failcnt: number | null;
  /** OOM kills inside the cgroup (v1 memory.oom_control, v2 memory.events oom_kill). */
  oom_kills: number | null;
  /** v2 memory.events `max`: times usage reached memory.max. */
  max_events: number | null;
  socket_accounting: SocketAccounting;
  socket_accounting_reason: string;
}

export interface CgroupPids {
  /** The pids directory (a hierarchy of its own on v1). */
  dir: string;
  max: number | null;
  max_path: string | null;
  current: number | null;
}

export interface CgroupCpu {
  quota_us: number | null;
  period_us: number;
  /** quota / period: the CPUs' worth of time the cgroup may use; null: no quota. */
  cpus: number | null;
  quota_path: string | null;
}

export interface CgroupSnapshot {
  version: 1 | 2;
  /** The cgroup's path in the memory hierarchy (v1) or the unified one (v2). */
  path: string;
  /** The directory read, under the reader's root. */
  dir: string;
  /** PIDs in cgroup.procs (the first 1,000). */
  members: number[];
  memory: CgroupMemory | null;
  pids: CgroupPids | null;
  cpu: CgroupCpu | null;
}

interface Hierarchy { mount: CgroupMount; path: string }

const MAX_MEMBERS = 1000;
/** Bound on the v1 walk that looks for a kmem.tcp limit anywhere: big hosts have thousands of cgroups. */
const MAX_WALK = 4096;

const dirOf = (h: Hierarchy, path = h.path): string => posix.join(h.mount.mountPoint, path);

/** `/a/b/c` → `/a/b/c`, `/a/b`, `/a`, `/`. */
export function cgroupAncestry(path: string): string[] {
  const out: string[] = [];
  let current = posix.normalize(`/${path}`);
  for (;;) {
    out.push(current);
    if (current === '/') return out;
    current = posix.dirname(current);
  }
}

function readText(reader: HostReader, dir: string, file: string): string | undefined {
  return reader.readText(posix.join(dir, file));
}

function readNumber(reader: HostReader, dir: string, file: string): number | null {
  return parseCgroupNumber(readText(reader, dir, file) ?? '') ?? null;
}

/** The smallest limit in `file` from the cgroup to the root, and where it is set. */
function smallestOnPath(reader: HostReader, h: Hierarchy, file: string): { value: number | null; path: string | null } {
  let best: { value: number | null; path: string | null } = { value: null, path: null };
  for (const path of cgroupAncestry(h.path)) {
    const value = parseCgroupLimit(readText(reader, dirOf(h, path), file) ?? '');
    if (value === null || value === undefined) continue;
    if (best.value === null || value < best.value) best = { value, path };
  }
  return best;
}

function mountsOf(reader: HostReader): CgroupMount[] {
  return parseCgroupMounts(reader.readText('/proc/self/mounts') ?? reader.readText('/proc/mounts') ?? '');
}

function v1Mount(mounts: readonly CgroupMount[], controller: string): CgroupMount | undefined {
  return mounts.find((m) => m.version === 1 && m.controllers.includes(controller));
}

/** The path a hierarchy mount names: an absolute directory under the mount point loses that prefix. */
function relativeTo(mount: CgroupMount, path: string): string | undefined {
  const point = mount.mountPoint.endsWith('/') ? mount.mountPoint : `${mount.mountPoint}/`;
  if (path === mount.mountPoint) return '/';
  return path.startsWith(point) ? `/${path.slice(point.length)}` : undefined;
}

function procCgroupOf(reader: HostReader, pid: number | 'self'): ProcCgroupLine[] {
  return parseProcCgroup(reader.readText(`/proc/${pid}/cgroup`) ?? '');
}

function pathFor(lines: readonly ProcCgroupLine[], version: 1 | 2, controller: string): string | undefined {
  return lines.find((l) => (version === 2 ? l.id === 0 : l.controllers.includes(controller)))?.path;
}

function membersOf(reader: HostReader, dir: string): number[] {
  const text = readText(reader, dir, 'cgroup.procs') ?? '';
  return text.split('\n').filter((l) => /^\d+$/.test(l)).slice(0, MAX_MEMBERS).map(Number);
}

/** Where each controller's cgroup is: for a path, the other v1 hierarchies come from a member's /proc/PID/cgroup. */
function locate(reader: HostReader, target: CgroupTarget, mounts: readonly CgroupMount[]): { version: 1 | 2; find: (c: string) => Hierarchy | undefined } | undefined {
  const memory1 = v1Mount(mounts, 'memory');
  const unified = mounts.find((m) => m.version === 2);
  const version: 1 | 2 | undefined = memory1 ? 1 : unified ? 2 : undefined;
  if (version === undefined) return undefined;
  const mountFor = (c: string): CgroupMount | undefined => (version === 1 ? v1Mount(mounts, c) : unified);
  if (target.kind !== 'path') {
    const lines = procCgroupOf(reader, target.kind === 'pid' ? target.pid : 'self');
    return { version, find: (c) => at(mountFor(c), pathFor(lines, version, c)) };
  }
  const primary = mountFor('memory') ?? unified;
  const given = primary ? relativeTo(primary, target.path) ?? posix.normalize(`/${target.path}`) : undefined;
  const member = primary && given !== undefined ? membersOf(reader, posix.join(primary.mountPoint, given))[0] : undefined;
  const lines = member === undefined ? [] : procCgroupOf(reader, member);
  return {
    version,
    find: (c) => {
      const mount = mountFor(c);
      if (mount === primary) return at(mount, given);
      return at(mount, pathFor(lines, version, c));
    },
  };
}

function at(mount: CgroupMount | undefined, path: string | undefined): Hierarchy | undefined {
  return mount && path !== undefined ? { mount, path } : undefined;
}

/** Reads the cgroup of `target`; undefined when no cgroup filesystem is mounted (or readable). */
export function readCgroupSnapshot(reader: HostReader, target: CgroupTarget): CgroupSnapshot | undefined {
  const mounts = mountsOf(reader);
  const where = locate(reader, target, mounts);
  const memory = where?.find('memory');
  const main = memory ?? where?.find('pids');
  if (where === undefined || main === undefined) return undefined;
  const version = where.version;
  const pids = where.find('pids');
  const cpu = where.find('cpu');
  const dir = dirOf(main);
  return {
    version,
    path: main.path,
    dir,
    members: membersOf(reader, dir),
    memory: memory && readText(reader, dirOf(memory), version === 1 ? 'memory.usage_in_bytes' : 'memory.current') !== undefined
      ? (version === 1 ? readMemoryV1(reader, memory) : readMemoryV2(reader, memory))
      : null,
    pids: pids ? readPids(reader, pids) : null,
    cpu: cpu ? readCpu(reader, cpu, version) : null,
  };
}

function readMemoryV1(reader: HostReader, h: Hierarchy): CgroupMemory {
  const dir = dirOf(h);
  const stat = parseFlatKeyed(readText(reader, dir, 'memory.stat') ?? '');
  const oom = parseFlatKeyed(readText(reader, dir, 'memory.oom_control') ?? '');
  const limit = smallestOnPath(reader, h, 'memory.limit_in_bytes');
  const tcpLimit = parseCgroupLimit(readText(reader, dir, 'memory.kmem.tcp.limit_in_bytes') ?? '') ?? null;
  return {
    limit_bytes: limit.value,
    limit_path: limit.path,
    high_bytes: null,
    usage_bytes: readNumber(reader, dir, 'memory.usage_in_bytes'),
    reclaimable_bytes: stat.get('total_inactive_file') ?? stat.get('inactive_file') ?? 0,
    kernel_bytes: readNumber(reader, dir, 'memory.kmem.usage_in_bytes'),
    slab_bytes: null,
    sock_bytes: readNumber(reader, dir, 'memory.kmem.tcp.usage_in_bytes'),
    tcp_limit_bytes: tcpLimit,
    failcnt: readNumber(reader, dir, 'memory.failcnt'),
    oom_kills: oom.get('oom_kill') ?? null,
    max_events: null,
    ...socketAccountingV1(reader, h, tcpLimit),
  };
}

/**
 * On v1 the kernel charges the accepted TCP socket object only while a static key is on,
 * and it turns on when any memory cgroup gets a kmem.tcp limit written (it stays on until
 * that cgroup is freed, which a removed cgroup may outlive as a zombie).
 */
function socketAccountingV1(reader: HostReader, h: Hierarchy, ownTcpLimit: number | null): Pick<CgroupMemory, 'socket_accounting' | 'socket_accounting_reason'> {
  if (ownTcpLimit !== null) return { socket_accounting: 'on', socket_accounting_reason: 'this cgroup has a memory.kmem.tcp.limit_in_bytes' };
  const queue = ['/'];
  for (let seen = 0; queue.length > 0 && seen < MAX_WALK; seen++) {
    const path = queue.shift() ?? '/';
    const dir = dirOf(h, path);
    const text = readText(reader, dir, 'memory.kmem.tcp.limit_in_bytes');
    if (path !== '/' && text !== undefined && typeof parseCgroupLimit(text) === 'number') {
      return { socket_accounting: 'on', socket_accounting_reason: `${path} has a memory.kmem.tcp.limit_in_bytes, which turns socket accounting on host-wide` };
    }
    for (const name of reader.list(dir)) if (!name.includes('.')) queue.push(posix.join(path, name));
  }
  return { socket_accounting: 'unknown', socket_accounting_reason: 'cgroup v1 with no kmem.tcp limit in sight: the TCP socket object is charged only if some memory cgroup ever set one (a removed cgroup can keep it on)' };
}

function readMemoryV2(reader: HostReader, h: Hierarchy): CgroupMemory {
  const dir = dirOf(h);
  const stat = parseFlatKeyed(readText(reader, dir, 'memory.stat') ?? '');
  const events = parseFlatKeyed(readText(reader, dir, 'memory.events') ?? '');
  const limit = smallestOnPath(reader, h, 'memory.max');
  return {
    limit_bytes: limit.value,
    limit_path: limit.path,
    high_bytes: smallestOnPath(reader, h, 'memory.high').value,
    usage_bytes: readNumber(reader, dir, 'memory.current'),
    reclaimable_bytes: stat.get('inactive_file') ?? 0,
    kernel_bytes: stat.get('kernel') ?? null,
    slab_bytes: stat.get('slab') ?? null,
    sock_bytes: stat.get('sock') ?? null,
    tcp_limit_bytes: null,
    failcnt: null,
    oom_kills: events.get('oom_kill') ?? null,
    max_events: events.get('max') ?? null,
    socket_accounting: 'on',
    socket_accounting_reason: 'cgroup v2 charges sockets to the owner\'s cgroup (the accepted socket object at accept())',
  };
}

/** pids.max and pids.current of the cgroup at `path` in the pids hierarchy mounted at `mountPoint`. */
export function readPidsAt(reader: HostReader, mountPoint: string, path: string): CgroupPids {
  return readPids(reader, { mount: { mountPoint, version: 1, controllers: ['pids'] }, path });
}

function readPids(reader: HostReader, h: Hierarchy): CgroupPids {
  const max = smallestOnPath(reader, h, 'pids.max');
  return { dir: dirOf(h), max: max.value, max_path: max.path, current: readNumber(reader, dirOf(h), 'pids.current') };
}

function readCpu(reader: HostReader, h: Hierarchy, version: 1 | 2): CgroupCpu | null {
  let best: CgroupCpu | null = null;
  for (const path of cgroupAncestry(h.path)) {
    const dir = dirOf(h, path);
    const q = version === 2
      ? parseCpuMax(readText(reader, dir, 'cpu.max') ?? '')
      : parseCfsQuota(readText(reader, dir, 'cpu.cfs_quota_us') ?? '', readText(reader, dir, 'cpu.cfs_period_us') ?? '');
    if (q === undefined) continue;
    const cpus = q.quotaUs === null ? null : q.quotaUs / q.periodUs;
    if (best === null || (cpus !== null && (best.cpus === null || cpus < best.cpus))) {
      best = { quota_us: q.quotaUs, period_us: q.periodUs, cpus, quota_path: cpus === null ? null : path };
    }
  }
  return best;
}
