// The `target` section of connlab.bench/1: what `bench --target` measured of a user's
// server, step by step, and what follows from it: the fits (user and kernel bytes per
// connection), the step and error at which the server failed, and doctor's
// extrapolation. Pure functions of the step samples, so the arithmetic is tested
// without processes.

import type { Classification } from '../../load/classify.ts';
import type { LimitName } from '../../limits/model.ts';
import { linearFit } from '../../soak/linear-fit.ts';
import type { RemoteSection } from './probe.ts';

/** One step of the ramp, sampled after its connections were verified and held. */
export interface TargetStep {
  /** 1-based. */
  step: number;
  /** Connections asked for by the end of this step (cumulative). */
  target: number;
  /** Held by load when the step was sampled, over every step's connections. */
  established: number;
  /** Answered this step's liveness round (what that proves depends on the protocol). */
  verified: number;
  /** Seconds since the bench started, at the sample. */
  t: number;
  /** Private_Clean + Private_Dirty over the server's processes, as bench reports connlab serve's. */
  server_private_bytes: number;
  /** Private_Dirty alone: what the fit uses. */
  server_private_dirty_bytes: number;
  server_pss_bytes: number;
  server_processes: number;
  /** CPU the server's processes used during this step, seconds. */
  server_cpu_seconds: number;
  /** sockstat TCP inuse: both ends of every loopback connection, and everything else on the host. */
  kernel_sockets: number;
  /** Bytes in the socket slab caches (TCP, sock_inode_cache, filp, dentry, eventpoll_epi). */
  slab_bytes: number;
  /** cgroup v2 memory.current, for --server-cgroup; null otherwise. */
  cgroup_memory_bytes: number | null;
  /** Every connection asked for was held and verified, and the server was alive. */
  ok: boolean;
}

/** The state before the first connection: the fits' x = 0 point. */
export interface TargetBaseline {
  server_private_bytes: number;
  server_private_dirty_bytes: number;
  server_pss_bytes: number;
  kernel_sockets: number;
  slab_bytes: number;
}

export interface TargetFit {
  /** The slope: bytes per connection. */
  bytes_per_connection: number;
  /** The line at 0 connections: the server's fixed memory (all its processes), one-time costs of its first connections included. */
  intercept_bytes: number;
  r2: number;
  /** Steps that held, plus the baseline for the kernel fit (and for the user fit when fewer than 3 steps held). */
  points: number;
}

export interface TargetFailure {
  step: number;
  target: number;
  established: number;
  verified: number;
  /** False when the server's root process (or every cgroup member) was gone. */
  server_alive: boolean;
  /** The most frequent classified error or close over the run, as load's classify.ts explains it. */
  error: (Classification & { count: number }) | null;
  explained: (Classification & { count: number })[];
  line: string;
}

export interface TargetExtrapolation {
  /** Connections this server holds on this host by doctor's model; null when nothing caps it. */
  connections: number | null;
  binding: LimitName | null;
  /** The binding limit's setting as doctor prints it. */
  binding_value: string | null;
  /** What limits the next step up, once the binding one is lifted by spreading over processes. */
  after_binding: { name: LimitName; allows: number } | null;
  /** The exact lines to go further (doctor's advice, without connlab's own flags). */
  advice: string[];
  /** The model's inputs. */
  user_bytes_per_connection: number;
  kernel_bytes_per_socket: number;
  processes: number;
  fd_soft_limit: number | null;
  line: string;
}

export interface TargetSection {
  addresses: string[];
  protocol: string;
  server: { pid: number | null; cgroup: string | null; pids: number[]; holders: number; fd_soft_limit: number | null };
  connections: number;
  steps_requested: number;
  step_hold_seconds: number;
  baseline: TargetBaseline;
  steps: TargetStep[];
  /**
   * Server private dirty memory (smaps_rollup Private_Dirty, all its processes) against
   * connections held. Private_Clean is left out: code and file pages, private or shared
   * depending on which workers have touched them, not memory the connections hold.
   */
  fit: TargetFit;
  /**
   * Socket slab bytes against sockstat's TCP sockets in use, host-wide: bytes per socket.
   * Both move together when anything else on the host opens or closes sockets, so the
   * slope stays a per-socket cost on a shared host, where slab against our own
   * connections would count every other process's sockets as ours.
   */
  kernel_fit: TargetFit;
  /** kernel_fit's slope: what the server's socket costs the kernel. */
  kernel_bytes_per_server_socket: number;
  /** Two sockets per connection: both ends are on this host. */
  kernel_bytes_per_connection: number;
  failure: TargetFailure | null;
  extrapolation: TargetExtrapolation;
  /**
   * Only for a server on another host (--server-metrics): its endpoints, what they could
   * not show, and per-step host figures. Then the steps' server_*_bytes hold
   * `remote.memory_metric` (RSS by default, not smaps' private memory), server.pids is
   * empty, and kernel_bytes_per_connection counts one socket: the client is elsewhere.
   */
  remote?: RemoteSection;
}

/** Cumulative connection counts at the end of each of `steps` equal steps to `connections`. */
export function stepTargets(connections: number, steps: number): number[] {
  return Array.from({ length: steps }, (_, i) => Math.round((connections * (i + 1)) / steps));
}

const round = (n: number, digits = 0): number => Math.round(n * 10 ** digits) / 10 ** digits;

function fitOf(points: [number, number][]): TargetFit {
  const fit = linearFit(points);
  return { bytes_per_connection: round(fit.slope, 1), intercept_bytes: Math.round(fit.intercept), r2: round(fit.r2, 4), points: fit.points };
}

/** With this many steps held, the user fit leaves the baseline out (see fitSteps). */
export const STEPS_WITHOUT_BASELINE = 3;

/**
 * Fits over every step that held (a failed step measures a server in trouble): user bytes
 * against connections held, slab bytes against kernel sockets. The user fit leaves the
 * idle baseline out once 3 steps held: a server's first connections pay one-time costs
 * (the first pages of its tables, its event loop's first allocations: connlab serve's 7
 * workers 4.2 MB for the first 10,000, then 47 B each) that a line through 0 would read
 * as per-connection growth. The intercept then minus the baseline is that one-time cost.
 */
export function fitSteps(baseline: TargetBaseline, steps: readonly TargetStep[]): { fit: TargetFit; kernel: TargetFit } {
  const held = steps.filter((s) => s.ok);
  const points = held.map((s): [number, number] => [s.established, s.server_private_dirty_bytes]);
  return {
    fit: fitOf(held.length >= STEPS_WITHOUT_BASELINE ? points : [[0, baseline.server_private_dirty_bytes], ...points]),
    kernel: fitOf([[baseline.kernel_sockets, baseline.slab_bytes], ...held.map((s): [number, number] => [s.kernel_sockets, s.slab_bytes])]),
  };
}

/** Merges classified errors from several load runs by errno, most frequent first. */
export function mergeExplained(lists: readonly (readonly (Classification & { count: number })[])[]): (Classification & { count: number })[] {
  const byErrno = new Map<string, Classification & { count: number }>();
  for (const entry of lists.flat()) {
    const seen = byErrno.get(entry.errno);
    if (seen) seen.count += entry.count;
    else byErrno.set(entry.errno, { ...entry });
  }
  return [...byErrno.values()].sort((a, b) => b.count - a.count);
}

export function describeFailure(step: TargetStep, serverAlive: boolean, explained: (Classification & { count: number })[]): TargetFailure {
  const error = explained[0] ?? null;
  const held = `step ${step.step}: held ${step.established.toLocaleString('en-US')} of ${step.target.toLocaleString('en-US')}, verified ${step.verified.toLocaleString('en-US')}`;
  const why = error ? `${error.errno} × ${error.count.toLocaleString('en-US')}: ${error.cause} — ${error.explanation}` : 'no error or close was seen';
  return {
    step: step.step, target: step.target, established: step.established, verified: step.verified,
    server_alive: serverAlive, error, explained,
    line: `${held}${serverAlive ? '' : '; the server process is gone'}; ${why}`,
  };
}
