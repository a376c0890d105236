// The user's server as the kernel sees it: its processes (a PID and every descendant, or
// the members of a cgroup), their private memory from smaps_rollup, their CPU time, and
// their descriptor limit. Everything is read through a /proc root (and a cgroup root) so
// tests point both at fixture trees; a process that exits between two reads is simply
// not counted, never an error. /proc/PID/fd is never listed: at tens of thousands of
// sockets the listing itself creates a dentry and an inode per descriptor.

import { readFile, readdir } from 'node:fs/promises';
import { isAbsolute, join } from 'node:path';
import { parseProcLimits } from '../../limits/parsers.ts';
import { parseSmapsRollup } from '../../probe/process-memory.ts';

/** Which processes are "the server": a PID and its descendants, or every member of a cgroup (v2). */
export type ServerSource = { pid: number } | { cgroup: string };

/** USER_HZ: the unit of utime/stime in /proc/PID/stat; 100 on every Linux architecture Node runs on. */
export const CLOCK_TICKS_PER_SECOND = 100;

export interface ProcStat {
  pid: number;
  ppid: number;
  state: string;
  /** utime + stime, in seconds. */
  cpuSeconds: number;
}

export interface ServerSample {
  /** Every process of the server alive at this sample. */
  pids: number[];
  /**
   * The processes that hold connections: those whose parent is also the server's (a
   * master forks workers: nginx, connlab serve, gunicorn), or all of them when none is.
   */
  holders: number[];
  /** The server's root (the PID, or the cgroup still has members). */
  alive: boolean;
  privateBytes: number;
  /** Private_Dirty: what the fit uses (see ProcessMemory.privateDirtyBytes). */
  privateDirtyBytes: number;
  pssBytes: number;
  cpuSeconds: number;
  /** The smallest soft RLIMIT_NOFILE of the holders; undefined when unreadable. */
  fdSoftLimit: number | undefined;
  fdHardLimit: number | undefined;
  /** cgroup v2 accounting, only for a cgroup source: memory.current and memory.stat's anon and sock. */
  cgroup?: { memoryCurrentBytes: number; anonBytes: number; sockBytes: number };
}

async function read(path: string): Promise<string | undefined> {
  try {
    return await readFile(path, 'utf8');
  } catch {
    return undefined;
  }
}

/** `/proc/PID/stat`: the command may hold spaces and parentheses, so fields start after the last `)`. */
export function parseProcStat(text: string): ProcStat | undefined {
  const close = text.lastIndexOf(')');
  const pid = Number.parseInt(text, 10);
  if (close < 0 || !Number.isInteger(pid)) return undefined;
  const fields = text.slice(close + 2).trim().split(/\s+/);
  const utime = Number(fields[11] ?? 0);
  const stime = Number(fields[12] ?? 0);
  return { pid, ppid: Number(fields[1] ?? 0), state: fields[0] ?? '?', cpuSeconds: (utime + stime) / CLOCK_TICKS_PER_SECOND };
}

/** cgroup v2 `memory.stat` (`anon 1234`) → bytes by key. */
export function parseMemoryStat(text: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const line of text.split('\n')) {
    const [key, value] = line.trim().split(/\s+/);
    if (key && value !== undefined && /^\d+$/.test(value)) out.set(key, Number(value));
  }
  return out;
}

/** The cgroup directory: an absolute path, or one relative to the cgroup v2 mount (`system.slice/nginx.service`). */
export function cgroupDir(path: string, cgroupRoot = '/sys/fs/cgroup'): string {
  return isAbsolute(path) && path.startsWith(cgroupRoot) ? path : join(cgroupRoot, path);
}

async function statOf(pid: number, procRoot: string): Promise<ProcStat | undefined> {
  const text = await read(join(procRoot, String(pid), 'stat'));
  const stat = text === undefined ? undefined : parseProcStat(text);
  return stat && stat.state !== 'Z' ? stat : undefined;
}

/** Every process's stat under the root: the way to descendants that works without CONFIG_PROC_CHILDREN. */
async function allStats(procRoot: string): Promise<ProcStat[]> {
  const names = (await readdir(procRoot).catch(() => [] as string[])).filter((n) => /^\d+$/.test(n));
  const stats = await Promise.all(names.map((n) => statOf(Number(n), procRoot)));
  return stats.filter((s): s is ProcStat => s !== undefined);
}

/** The root PID and every living descendant, by parent links over all of /proc. */
export function descendantsOf(root: number, stats: readonly ProcStat[]): ProcStat[] {
  const byParent = new Map<number, ProcStat[]>();
  for (const s of stats) byParent.set(s.ppid, [...(byParent.get(s.ppid) ?? []), s]);
  const self = stats.find((s) => s.pid === root);
  if (!self) return [];
  const out: ProcStat[] = [];
  const queue = [self];
  while (queue.length > 0) {
    const next = queue.shift() as ProcStat;
    out.push(next);
    queue.push(...(byParent.get(next.pid) ?? []));
  }
  return out;
}

/** Processes whose parent is in the set hold connections; a lone process holds them itself. */
export function holdersOf(stats: readonly ProcStat[]): ProcStat[] {
  const pids = new Set(stats.map((s) => s.pid));
  const children = stats.filter((s) => pids.has(s.ppid));
  return children.length > 0 ? children : [...stats];
}

export interface SampleRoots {
  procRoot?: string;
  cgroupRoot?: string;
}

async function cgroupMembers(dir: string, procRoot: string): Promise<ProcStat[]> {
  const text = (await read(join(dir, 'cgroup.procs'))) ?? '';
  const pids = text.split('\n').map((l) => Number(l.trim())).filter((n) => Number.isInteger(n) && n > 0);
  const stats = await Promise.all(pids.map((pid) => statOf(pid, procRoot)));
  return stats.filter((s): s is ProcStat => s !== undefined);
}

async function cgroupAccounting(dir: string): Promise<ServerSample['cgroup']> {
  const [current, stat] = await Promise.all([read(join(dir, 'memory.current')), read(join(dir, 'memory.stat'))]);
  const fields = parseMemoryStat(stat ?? '');
  return { memoryCurrentBytes: Number(current?.trim() ?? 0) || 0, anonBytes: fields.get('anon') ?? 0, sockBytes: fields.get('sock') ?? 0 };
}

async function fdLimits(pids: readonly number[], procRoot: string): Promise<{ soft: number | undefined; hard: number | undefined }> {
  let soft: number | undefined;
  let hard: number | undefined;
  for (const pid of pids) {
    const row = parseProcLimits((await read(join(procRoot, String(pid), 'limits'))) ?? '').get('Max open files');
    if (!row) continue;
    soft = Math.min(soft ?? Infinity, row.soft);
    hard = Math.min(hard ?? Infinity, row.hard);
  }
  return { soft, hard };
}

/** One sample of the server: who it is now, its memory, CPU and descriptor limit. */
export async function sampleServer(source: ServerSource, roots: SampleRoots = {}): Promise<ServerSample> {
  const procRoot = roots.procRoot ?? '/proc';
  const dir = 'cgroup' in source ? cgroupDir(source.cgroup, roots.cgroupRoot) : undefined;
  const root = 'pid' in source ? source.pid : undefined;
  const stats = dir !== undefined ? await cgroupMembers(dir, procRoot) : descendantsOf(root ?? 0, await allStats(procRoot));
  const holders = holdersOf(stats);
  const memories = await Promise.all(stats.map(async (s) => parseSmapsRollup((await read(join(procRoot, String(s.pid), 'smaps_rollup'))) ?? '')));
  const limits = await fdLimits(holders.map((h) => h.pid), procRoot);
  const sample: ServerSample = {
    pids: stats.map((s) => s.pid),
    holders: holders.map((h) => h.pid),
    alive: root !== undefined ? stats.some((s) => s.pid === root) : stats.length > 0,
    privateBytes: memories.reduce((sum, m) => sum + m.privateBytes, 0),
    privateDirtyBytes: memories.reduce((sum, m) => sum + m.privateDirtyBytes, 0),
    pssBytes: memories.reduce((sum, m) => sum + m.pssBytes, 0),
    cpuSeconds: stats.reduce((sum, s) => sum + s.cpuSeconds, 0),
    fdSoftLimit: limits.soft,
    fdHardLimit: limits.hard,
  };
  if (dir !== undefined) sample.cgroup = await cgroupAccounting(dir);
  return sample;
}
