// Starting one worker process in either runtime, behind the one small interface the pool
// uses: a Node process running worker.ts (fork, V8-serialized IPC), or the C program
// connlab-worker (native/worker/; compiled in build/Release or prebuilt in the package)
// behind an adapter that speaks the same typed messages (c-worker-process.ts). The
// runtime is chosen once per supervisor.

import { fork, spawnSync } from 'node:child_process';
import { accessSync, existsSync, constants as fsConstants } from 'node:fs';
import { endianness } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ConnlabError, invalidArgument } from '../errors.ts';
import { CWorkerProcess } from './c-worker-process.ts';
import type { HolderKind, ToWorker } from './messages.ts';
import { workerRuntimeFor, type WorkerRuntime, type WorkerRuntimeChoice } from './worker-runtime.ts';
import type { WorkerEntry } from './worker-entry.ts';

export type { WorkerRuntime, WorkerRuntimeChoice } from './worker-runtime.ts';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));

/** Where the C worker comes from: compiled here by node-gyp, or prebuilt in the package. */
export type CWorkerSource = 'compiled' | 'prebuilt';

/**
 * The places a C worker may be, in the order node-gyp-build looks for the addon: what
 * `node-gyp rebuild` built from native/worker/ (a checkout, or a package that had to
 * compile), then the package's prebuild for this platform (scripts/build-prebuilds.ts).
 * Like the addon's prebuild it is linked against glibc: a musl host (the test
 * node-gyp-build makes, /etc/alpine-release) has none and runs Node workers.
 */
export function cWorkerCandidates(root = ROOT): { path: string; source: CWorkerSource }[] {
  const candidates: { path: string; source: CWorkerSource }[] = [{ path: join(root, 'build', 'Release', 'connlab-worker'), source: 'compiled' }];
  if (process.platform === 'linux' && !existsSync('/etc/alpine-release')) {
    candidates.push({ path: join(root, 'prebuilds', `linux-${process.arch}`, 'connlab-worker'), source: 'prebuilt' });
  }
  return candidates;
}

/** The C worker this process would run, or undefined when none is built or shipped for it. */
export function findCWorker(root = ROOT): { path: string; source: CWorkerSource } | undefined {
  return cWorkerCandidates(root).find((c) => cWorkerAvailable(c.path));
}

/** The C worker found at startup; where one would be built when there is none. */
export const C_WORKER_PATH = findCWorker()?.path ?? join(ROOT, 'build', 'Release', 'connlab-worker');

/** What the pool needs of a worker process; a ChildProcess is one. */
export interface WorkerProcess {
  readonly pid?: number | undefined;
  readonly connected: boolean;
  readonly exitCode: number | null;
  readonly signalCode: NodeJS.Signals | null;
  send(message: ToWorker, sendHandle?: undefined, options?: undefined, callback?: (error: Error | null) => void): boolean;
  kill(signal?: NodeJS.Signals | number): boolean;
  on(event: 'message', listener: (message: unknown) => void): this;
  on(event: 'exit', listener: (code: number | null, signal: NodeJS.Signals | null) => void): this;
  on(event: 'error', listener: (error: Error) => void): this;
  on(event: 'disconnect', listener: () => void): this;
  /** After 'exit' and the channel's end: every message the worker wrote has been emitted. */
  on(event: 'close', listener: (code: number | null, signal: NodeJS.Signals | null) => void): this;
  once(event: 'exit', listener: (code: number | null, signal: NodeJS.Signals | null) => void): this;
  off(event: 'message', listener: (message: unknown) => void): this;
}

/** True when the C worker is built and executable here (and samples can travel raw). */
export function cWorkerAvailable(path = C_WORKER_PATH): boolean {
  if (endianness() !== 'LE') return false; // the wire carries little-endian u32 arrays
  try {
    accessSync(path, fsConstants.X_OK);
    return true;
  } catch {
    return false;
  }
}

const tlsAnswers = new Map<string, { library?: string; unavailable?: string }>();

/** The C worker's `--tls-library` answer, asked once per path and process (a few ms). */
function tlsAnswer(path: string): { library?: string; unavailable?: string } {
  let answer = tlsAnswers.get(path);
  if (!answer) {
    const probe = spawnSync(path, ['--tls-library'], { encoding: 'utf8', timeout: 10_000 });
    const text = (probe.stdout || probe.error?.message || `exit ${String(probe.status)}`).trim();
    answer = probe.status === 0 ? { library: text } : { unavailable: text };
    tlsAnswers.set(path, answer);
  }
  return answer;
}

/**
 * Why the C worker at `path` cannot run TLS here (libssl.so.3 missing or not OpenSSL 3),
 * or undefined when it can: the worker starts, tries the library and exits.
 */
export function cWorkerTlsUnavailable(path = C_WORKER_PATH): string | undefined {
  return tlsAnswer(path).unavailable;
}

/** The OpenSSL a runtime's workers run TLS with: OpenSSL_version() of the library each loads. */
export function tlsLibraryOf(runtime: WorkerRuntime, path = C_WORKER_PATH): string | null {
  return runtime === 'c' ? tlsAnswer(path).library ?? null : `OpenSSL ${process.versions.openssl} (inside Node)`;
}

/**
 * The runtime a supervisor uses: `auto` is C when the binary is built or shipped here and
 * the holder is native (and, for a TLS run, its libssl.so.3 loads: worker-runtime.ts),
 * else Node; the node holder always runs in Node workers (it is JavaScript).
 */
export function resolveWorkerRuntime(choice: WorkerRuntimeChoice, holder: HolderKind, tls = false, path = C_WORKER_PATH): WorkerRuntime {
  if (choice === 'node') return 'node';
  if (holder !== 'native') {
    if (choice === 'auto') return 'node';
    throw invalidArgument('workerRuntime', 'c', 'node or auto with the node holder (the C worker runs the native holder only)');
  }
  const available = cWorkerAvailable(path);
  const runtime = workerRuntimeFor(choice, tls, { available, tlsUnavailable: () => cWorkerTlsUnavailable(path) });
  if (runtime === 'c' && !available) {
    throw new ConnlabError('CONNLAB_ERR_NATIVE_UNAVAILABLE', `the C worker ${path} is not built`, { hint: 'build it (npm run build:native in a checkout, npm rebuild connlab where installed; needs a C compiler), or pass --worker-runtime node' });
  }
  return runtime;
}

/**
 * Node workers. Each costs a fixed ~10 MB that dwarfs its connections (~50-150 B each),
 * so the fixed part is what to cut. A 1 MiB young generation and one malloc arena took
 * serve from ~890 to ~860 B and load from ~1,020 to ~860 B per connection at 100,000
 * (bench/results/engine-2026-11-21T12-08-20Z.json); the C runtime removes the rest. Flags that change V8's code
 * (--jitless, --lite-mode) cost 36 MB instead: the startup snapshot no longer fits.
 * The supervisor's own flags (--test, --inspect) are deliberately not inherited.
 */
const NODE_WORKER_EXEC_ARGV = ['--max-semi-space-size=1'];

/**
 * Starts one worker process; the caller sends it `start`. Both runtimes get the
 * supervisor's PID as their one argument: each exits when its parent is no longer that
 * process (parent-watch.ts, native/worker/main.c).
 */
export function startWorkerProcess(runtime: WorkerRuntime, entry: WorkerEntry, parentPid: number, cWorkerPath = C_WORKER_PATH): WorkerProcess {
  if (runtime === 'c') return new CWorkerProcess(cWorkerPath, parentPid);
  return fork(entry.path, [String(parentPid)], {
    execArgv: NODE_WORKER_EXEC_ARGV,
    env: { ...process.env, MALLOC_ARENA_MAX: '1' },
    serialization: 'advanced',
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
}
