// A child cgroup (v1 memory and pids hierarchies) made under this process's own, with a
// memory limit and/or pids.max, that runs a command inside it and is removed afterwards.
// The proof tests and `demo cgroup` use it to put `connlab serve` in a small container.
// Everything it starts is ended by PID (the members of its own cgroup), never by name.

import { spawn, type ChildProcess, type SpawnOptions } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { ConnlabError } from '../errors.ts';
import { parseProcCgroup } from '../limits/cgroup-parsers.ts';

export interface SandboxOptions {
  /** The directory name, unique per run (e.g. `cgroups-proof-1234`). */
  name: string;
  memoryLimitBytes?: number;
  /**
   * Write memory.kmem.tcp.limit_in_bytes too (to the memory limit): on v1 this turns the
   * kernel's socket accounting on, so the TCP object is charged at accept() as on v2.
   */
  socketAccounting?: boolean;
  pidsMax?: number;
  /** Where the v1 hierarchies are mounted. */
  cgroupRoot?: string;
}

export interface CgroupSandbox {
  /** The cgroup's path in the memory hierarchy (what `doctor --cgroup` takes). */
  readonly path: string;
  readonly memoryDir: string | null;
  readonly pidsDir: string | null;
  /** Starts `command args` inside the cgroup (it joins before it execs). */
  spawn(command: string, args: readonly string[], options?: SpawnOptions): ChildProcess;
  /** PIDs in the cgroup now. */
  members(): number[];
  /** SIGKILLs every member by PID, waits for the cgroup to empty and removes it. Idempotent. */
  remove(): Promise<void>;
}

function ownPath(controller: string): string {
  const line = parseProcCgroup(readFileSync('/proc/self/cgroup', 'utf8')).find((l) => l.controllers.includes(controller));
  return line?.path ?? '/';
}

function write(dir: string, file: string, value: string): void {
  try {
    writeFileSync(join(dir, file), value);
  } catch (cause) {
    throw new ConnlabError('CONNLAB_ERR_SYSCTL_WRITE', `cannot write ${value} to ${join(dir, file)}`, { cause, hint: 'cgroup v1 memory/pids controllers and root are needed' });
  }
}

function readMembers(dir: string | null): number[] {
  if (dir === null) return [];
  try {
    return readFileSync(join(dir, 'cgroup.procs'), 'utf8').split('\n').filter(Boolean).map(Number);
  } catch {
    return [];
  }
}

/** True when this host has writable cgroup v1 memory and pids hierarchies (as root). */
export function canSandbox(cgroupRoot = '/sys/fs/cgroup'): boolean {
  return process.getuid?.() === 0 && existsSync(join(cgroupRoot, 'memory', 'cgroup.procs')) && existsSync(join(cgroupRoot, 'pids', 'cgroup.procs'));
}

function makeDir(hierarchy: string, name: string): string {
  const dir = join(hierarchy, ownPath(hierarchy.split('/').pop() ?? ''), name);
  try {
    mkdirSync(dir);
  } catch (cause) {
    throw new ConnlabError('CONNLAB_ERR_SYSCTL_WRITE', `cannot create the cgroup ${dir}`, { cause, hint: 'run as root on a host with cgroup v1 memory and pids controllers' });
  }
  return dir;
}

/** SIGKILLs the members by PID until the directories can be removed (bounded: ~5 s). */
async function killAndRemove(dirs: readonly string[]): Promise<void> {
  for (let attempt = 0; attempt < 100; attempt++) {
    for (const pid of new Set(dirs.flatMap(readMembers))) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch { /* already gone */ }
    }
    const left = dirs.filter((dir) => {
      try {
        rmdirSync(dir);
        return false;
      } catch {
        return existsSync(dir);
      }
    });
    if (left.length === 0) return;
    await sleep(50);
  }
  throw new ConnlabError('CONNLAB_ERR_SYSCTL_WRITE', `could not remove the cgroup(s) ${dirs.join(', ')}: members remain`);
}

export function createCgroupSandbox(options: SandboxOptions): CgroupSandbox {
  const root = options.cgroupRoot ?? '/sys/fs/cgroup';
  const memoryDir = makeDir(join(root, 'memory'), options.name);
  let pidsDir: string | null = null;
  let removed = false;
  const dirs = (): string[] => [memoryDir, ...(pidsDir ? [pidsDir] : [])];
  const remove = async (): Promise<void> => {
    if (removed) return;
    removed = true;
    await killAndRemove(dirs());
  };
  try {
    if (options.memoryLimitBytes !== undefined) {
      write(memoryDir, 'memory.limit_in_bytes', String(options.memoryLimitBytes));
      if (options.socketAccounting) write(memoryDir, 'memory.kmem.tcp.limit_in_bytes', String(options.memoryLimitBytes));
    }
    if (options.pidsMax !== undefined) {
      pidsDir = makeDir(join(root, 'pids'), options.name);
      write(pidsDir, 'pids.max', String(options.pidsMax));
    }
  } catch (error) {
    void remove().catch(() => {});
    throw error;
  }
  const memoryPath = memoryDir.slice(join(root, 'memory').length) || '/';
  return {
    path: memoryPath,
    memoryDir,
    get pidsDir() {
      return pidsDir;
    },
    spawn(command, args, spawnOptions = {}) {
      // The shell joins the cgroups, then execs: the command and all it forks are inside.
      const join_ = dirs().map((d) => `echo $$ > '${join(d, 'cgroup.procs')}'`).join(' && ');
      return spawn('/bin/sh', ['-c', `${join_} && exec "$@"`, 'sh', command, ...args], spawnOptions);
    },
    members: () => [...new Set(dirs().flatMap(readMembers))],
    remove,
  };
}
