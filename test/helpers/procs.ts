// Processes as the kernel sees them, for tests that must prove none is left behind:
// children read from /proc (never by name), liveness that counts a zombie as gone (it
// holds no sockets and only waits for init to reap it), and connlab run as a real child
// process with its stderr read line by line.

import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { readdirSync, readFileSync } from 'node:fs';
import { setTimeout as delay } from 'node:timers/promises';
import type { LoadResult } from '../../src/load/load.ts';

export const BIN = new URL('../../bin/connlab.js', import.meta.url).pathname;

/** The PIDs `pid` forked, from every thread's children list. */
export function childrenOf(pid: number): number[] {
  try {
    return readdirSync(`/proc/${pid}/task`).flatMap((tid) => {
      try {
        return readFileSync(`/proc/${pid}/task/${tid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number);
      } catch {
        return [];
      }
    });
  } catch {
    return [];
  }
}

/** True while the process exists and is not a zombie. */
export function isAlive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return false;
  }
}

/** A connlab worker forked by `supervisor`: its argv carries the supervisor's PID. */
export function isWorkerOf(pid: number, supervisor: number): boolean {
  try {
    const argv = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
    return argv.some((a) => /engine\/worker\.(js|ts)$/.test(a)) && argv.includes(String(supervisor));
  } catch {
    return false;
  }
}

/** Polls until none of `pids` is alive; returns those still alive after `timeoutMs`. */
export async function survivorsAfter(pids: readonly number[], timeoutMs: number): Promise<number[]> {
  const deadline = performance.now() + timeoutMs;
  let alive = pids.filter(isAlive);
  while (alive.length > 0 && performance.now() < deadline) {
    await delay(10);
    alive = alive.filter(isAlive);
  }
  return alive;
}

/** Waits until `pid` has `count` children (workers started); returns their PIDs. */
export async function waitForChildren(pid: number, count: number, timeoutMs = 20_000): Promise<number[]> {
  const deadline = performance.now() + timeoutMs;
  let children = childrenOf(pid);
  while (children.length < count) {
    if (performance.now() > deadline) throw new Error(`${pid} has ${children.length} of ${count} children after ${timeoutMs} ms`);
    await delay(10);
    children = childrenOf(pid);
  }
  return children;
}

export interface Cli {
  child: ChildProcess;
  pid: number;
  /** Resolves with the first stderr line matching `pattern`. */
  line(pattern: RegExp, timeoutMs?: number): Promise<string>;
  stdout(): string;
  stderr(): string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** SIGKILLs it (if still running) and every child it left, by PID. */
  cleanup(): Promise<void>;
}

/**
 * Runs `connlab ...args` as a child process; `detached`: in a process group of its own
 * (its PID is the group's), as systemd or a shell job would start it.
 */
export function runCli(args: string[], env: NodeJS.ProcessEnv = {}, { detached = false } = {}): Cli {
  const child = spawn(process.execPath, [BIN, ...args], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...env }, detached });
  let out = '';
  let err = '';
  const waiters = new Set<() => void>();
  child.stdout?.on('data', (chunk: Buffer) => (out += chunk.toString()));
  child.stderr?.on('data', (chunk: Buffer) => {
    err += chunk.toString();
    for (const waiter of waiters) waiter();
  });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.on('exit', (code, signal) => resolve({ code, signal })));
  const seen = new Set<number>();
  const track = setInterval(() => {
    for (const pid of childrenOf(child.pid ?? 0)) seen.add(pid);
  }, 20);
  void exited.then(() => clearInterval(track));
  return {
    child,
    pid: child.pid ?? 0,
    exited,
    stdout: () => out,
    stderr: () => err,
    line: (pattern, timeoutMs = 30_000) => new Promise((resolve, reject) => {
      const check = (): void => {
        const match = err.split('\n').find((l) => pattern.test(l));
        if (match === undefined) return;
        cleanupWait();
        resolve(match);
      };
      const timer = setTimeout(() => {
        cleanupWait();
        reject(new Error(`no stderr line matching ${pattern} in ${timeoutMs} ms; stderr so far:\n${err}`));
      }, timeoutMs);
      const cleanupWait = (): void => {
        clearTimeout(timer);
        waiters.delete(check);
      };
      waiters.add(check);
      check();
    }),
    async cleanup() {
      clearInterval(track);
      for (const pid of [...seen, ...childrenOf(child.pid ?? 0)]) {
        // Only a live worker of this very supervisor: a recorded PID may have been reused.
        if (isAlive(pid) && isWorkerOf(pid, child.pid ?? 0)) process.kill(pid, 'SIGKILL');
      }
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      await exited;
    },
  };
}

/** What `connlab load … --json` gave: its exit status, the parsed result ({} when it printed none) and stderr. */
export interface LoadRun {
  status: number | null;
  result: LoadResult & { reached: boolean };
  stderr: string;
}

/** Runs `connlab load 127.0.0.1:PORT --json ARGS…` as a child process to its end. */
export async function loadJson(port: number, args: string[]): Promise<LoadRun> {
  const child = spawn(process.execPath, [BIN, 'load', `127.0.0.1:${port}`, '--json', ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const [status] = (await once(child, 'exit')) as [number | null];
  return { status, result: stdout ? JSON.parse(stdout) as LoadRun['result'] : ({} as LoadRun['result']), stderr };
}

