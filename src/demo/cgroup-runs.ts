// The cgroup experiments, as a library: `connlab serve` in a child cgroup made for the
// run (memory-limited, or pids-limited), doctor's prediction read from that cgroup, then
// load from outside until the cgroup fails, and the failure named from the cgroup's own
// counters. The proof tests and `demo cgroup` both run these. The cgroup and everything
// in it are removed at the end, also when anything fails.

import type { ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { readSlabObjectBytes } from '../limits/cgroup-context.ts';
import { cgroupFailure, readCgroupEvents, type CgroupFailure } from '../limits/cgroup-events.ts';
import { C_WORKER_USER_BYTES_PER_CONNECTION, chargedCost, cgroupMemoryLimit, cgroupPidsLimit, SUPERVISOR_TASKS } from '../limits/cgroup-model.ts';
import { readCgroupSnapshot, readPidsAt, type CgroupSnapshot } from '../limits/cgroup-reader.ts';
import { diagnose } from '../limits/diagnose.ts';
import { createHostReader } from '../limits/host-reader.ts';
import { defaultShape } from '../limits/shape.ts';
import { readHostSnapshot, type HostSnapshot } from '../limits/snapshot.ts';
import { startLoad } from '../load/load.ts';
import { createCgroupSandbox, type CgroupSandbox } from '../probe/cgroup-sandbox.ts';
import { expandTargets, parseIpv4, type Range } from '../tuple/address.ts';

const CLI = fileURLToPath(new URL('../../bin/connlab.js', import.meta.url));
const LOOPBACK = parseIpv4('127.0.0.1') ?? 0;
/** The C worker's own bytes per held connection, as doctor's model budgets them. */
export const SERVE_USER_BYTES_PER_CONNECTION = C_WORKER_USER_BYTES_PER_CONNECTION;

export interface ServeInCgroup {
  child: ChildProcess;
  stderr: () => string;
  exited: Promise<{ code: number | null; signal: string | null }>;
}

/** Starts `connlab serve` inside the sandbox; resolves once it says it is serving (or rejects with what it said). */
export async function startServeIn(sandbox: CgroupSandbox, ports: Range, workers: number, timeoutMs = 30_000): Promise<ServeInCgroup> {
  const child = sandbox.spawn(process.execPath, [CLI, 'serve', '--listen', `127.0.0.1:${ports.first}-${ports.last}`, '--workers', String(workers), '--duration', '120s'], { stdio: ['ignore', 'ignore', 'pipe'] });
  let text = '';
  child.stderr?.on('data', (chunk: Buffer) => (text += chunk.toString()));
  const exited = once(child, 'exit').then(([code, signal]) => ({ code: code as number | null, signal: signal as string | null }));
  const deadline = Date.now() + timeoutMs;
  while (!/serving on/.test(text) && child.exitCode === null && child.signalCode === null && Date.now() < deadline) await sleep(50);
  const serve = { child, stderr: () => text, exited };
  if (!/serving on/.test(text)) return Promise.reject(Object.assign(new Error(`serve did not start: ${text.trim() || 'timed out'}`), { serve }));
  // Every worker is in the cgroup before anything is read from it.
  while (sandbox.members().length < workers + 1 && Date.now() < deadline) await sleep(50);
  return serve;
}

/** The sandbox's cgroup; its pids directory is read directly (an empty v1 cgroup has no member to find it by). */
function snapshotOf(sandbox: CgroupSandbox): CgroupSnapshot {
  const reader = createHostReader('/');
  const snapshot = readCgroupSnapshot(reader, { kind: 'path', path: sandbox.path });
  if (snapshot === undefined) throw new Error(`cannot read the cgroup ${sandbox.path}`);
  const pidsDir = sandbox.pidsDir;
  if (pidsDir === null) return snapshot;
  const mount = pidsDir.slice(0, pidsDir.indexOf('/pids/') + '/pids'.length);
  return { ...snapshot, pids: readPidsAt(reader, mount, pidsDir.slice(mount.length)) };
}

export interface CgroupMemoryRun {
  cgroup: string;
  limit_bytes: number;
  usage_before_bytes: number | null;
  charged_bytes_per_connection: number;
  host_bytes_per_socket: number;
  predicted: number;
  /** The limit doctor's whole table names as binding for the cgroup. */
  binding: string | null;
  detail: string;
  observed_peak: number;
  failure: CgroupFailure | null;
  serve_exit: { code: number | null; signal: string | null } | null;
  load_errors: Record<string, number>;
}

export interface CgroupMemoryOptions {
  name: string;
  limitBytes: number;
  ports: Range;
  workers: number;
  /** Stop loading after this long whatever happened. */
  timeoutMs?: number;
  host?: HostSnapshot;
  /** Called once serve runs in the cgroup, before any connection: e.g. to ask `doctor --cgroup` too. */
  onReady?: (cgroupPath: string) => Promise<void> | void;
}

/** serve in a memory-limited cgroup, loaded from outside until the cgroup's OOM killer ends it. */
export async function runCgroupMemory(options: CgroupMemoryOptions): Promise<CgroupMemoryRun> {
  // The kmem.tcp limit makes the charge deterministic: the TCP object is charged, as on v2.
  const sandbox = createCgroupSandbox({ name: options.name, memoryLimitBytes: options.limitBytes, socketAccounting: true });
  let load: Awaited<ReturnType<typeof startLoad>> | undefined;
  try {
    const serve = await startServeIn(sandbox, options.ports, options.workers);
    await options.onReady?.(sandbox.path);
    const reader = createHostReader('/');
    const host = options.host ?? readHostSnapshot(reader);
    const cgroup = snapshotOf(sandbox);
    const objectBytes = readSlabObjectBytes(reader);
    const shape = defaultShape({ role: 'server', processes: options.workers, userBytesPerConnection: SERVE_USER_BYTES_PER_CONNECTION });
    const limit = cgroupMemoryLimit(cgroup, host, shape, objectBytes);
    const predicted = limit?.allows ?? 0;
    const binding = diagnose(host, shape, { cgroup, objectBytes, process: null, unit: null }).binding?.name ?? null;
    const before = readCgroupEvents(reader, cgroup);
    load = await startLoad({
      destinations: expandTargets([{ ips: { first: LOOPBACK, last: LOOPBACK }, ports: options.ports }]),
      connections: Math.ceil(predicted * 1.3), ratePerSec: 15_000, fdSoftLimit: 20_000, kernelPoolSize: 28_232, protocol: 'tcp',
    });
    const timer = new AbortController();
    const timeout = sleep(options.timeoutMs ?? 60_000, null, { signal: timer.signal }).catch(() => null);
    const outcome = await Promise.race([serve.exited, load.rampDone().then(() => null), timeout]);
    timer.abort();
    const result = await load.close();
    return {
      cgroup: sandbox.path, limit_bytes: options.limitBytes, usage_before_bytes: cgroup.memory?.usage_bytes ?? null,
      charged_bytes_per_connection: chargedCost(cgroup, objectBytes).kernelBytesPerSocket + SERVE_USER_BYTES_PER_CONNECTION,
      host_bytes_per_socket: host.socketCost.kernelBytesPerSocket,
      predicted, binding, detail: limit?.detail ?? '',
      observed_peak: result.connections.peak,
      failure: cgroupFailure(before, readCgroupEvents(reader, cgroup), sandbox.path),
      serve_exit: outcome, load_errors: result.errors,
    };
  } finally {
    load?.destroy();
    await sandbox.remove();
  }
}

export interface CgroupPidsRun {
  cgroup: string;
  pids_max: number;
  /** Workers doctor says fit: (pids.max − the supervisor's tasks) / 1 task each. */
  predicted_workers: number;
  predicted_connections: number;
  /** The most workers serve started; then serve with one more. */
  observed_workers: number;
  one_more: { exit_code: number | null; error: string; failure: CgroupFailure | null };
}

/** serve in a pids-limited cgroup: as many workers as doctor predicts start, one more fails with EAGAIN. */
export async function runCgroupPids(options: { name: string; pidsMax: number; ports: Range; host?: HostSnapshot }): Promise<CgroupPidsRun> {
  const reader = createHostReader('/');
  const host = options.host ?? readHostSnapshot(reader);
  const attempt = async (workers: number, suffix: string) => {
    const sandbox = createCgroupSandbox({ name: `${options.name}-${suffix}`, pidsMax: options.pidsMax });
    try {
      const before = readCgroupEvents(reader, snapshotOf(sandbox));
      const serve = await startServeIn(sandbox, options.ports, workers).catch((error: { serve?: ServeInCgroup }) => error.serve);
      const exit = serve && (serve.child.exitCode !== null || serve.child.signalCode !== null) ? await serve.exited : null;
      // Read while serve runs: its supervisor's tasks are then counted, not assumed.
      const cgroup = snapshotOf(sandbox);
      const predicted = cgroupPidsLimit(cgroup, host, defaultShape({ role: 'server' }));
      const failure = cgroupFailure(before, readCgroupEvents(reader, cgroup), `pids cgroup ${sandbox.pidsDir ?? sandbox.path}`);
      return { predicted, started: exit === null && /serving on/.test(serve?.stderr() ?? ''), exit, stderr: serve?.stderr() ?? '', failure };
    } finally {
      await sandbox.remove();
    }
  };
  const probe = await attempt(1, 'probe');
  const perWorker = Math.max(0, (host.fds.processSoft ?? 1024) - 100);
  const predictedWorkers = Math.round((probe.predicted?.allows ?? 0) / Math.max(1, perWorker));
  const fits = predictedWorkers > 0 ? await attempt(predictedWorkers, 'fits') : undefined;
  const over = await attempt(predictedWorkers + 1, 'over');
  return {
    cgroup: `${options.name}-over`, pids_max: options.pidsMax,
    predicted_workers: predictedWorkers, predicted_connections: probe.predicted?.allows ?? 0,
    observed_workers: fits?.started ? predictedWorkers : 0,
    one_more: { exit_code: over.exit?.code ?? null, error: /EAGAIN/.test(over.stderr) ? 'EAGAIN' : over.stderr.trim().split('\n').pop() ?? '', failure: over.failure },
  };
}

/** pids.max that leaves room for `workers` C workers beside serve's supervisor. */
export const pidsMaxFor = (workers: number): number => SUPERVISOR_TASKS + workers;
