// Demo `cgroup`: a container's limits bind before the host's. connlab serve runs in a
// child cgroup with a 256 MiB memory limit; doctor reads that cgroup and predicts how
// many connections fit (the kernel charges the cgroup per socket less than, or as much
// as, the host pays: docs/containers.md); load from outside ramps past it until the
// cgroup's OOM killer ends serve. Then pids.max: the workers doctor says fit start, one
// more fails with EAGAIN. Needs root and cgroup v1 memory and pids hierarchies; the
// cgroups are removed afterwards.

import { ConnlabError } from '../errors.ts';
import { canSandbox } from '../probe/cgroup-sandbox.ts';
import { pidsMaxFor, runCgroupMemory, runCgroupPids } from './cgroup-runs.ts';
import { freeServerPorts } from './kernel.ts';
import { fmt } from './predict.ts';
import type { DemoContext, DemoDefinition, StepObservation } from './types.ts';

/** 256 MiB binds at ~55,000 connections here: quick, and far below the host's limits. */
export const DEMO_MEMORY_LIMIT_BYTES = 256 * 2 ** 20;
const TOLERANCE = 0.1;
const PIDS_WORKERS = 3;

/** Consecutive free ports (freeServerPorts returns a consecutive run): serve listens on a range. */
async function ports(count: number): Promise<{ first: number; last: number }> {
  const [first = 0] = await freeServerPorts(count);
  return { first, last: first + count - 1 };
}

async function memoryStep(context: DemoContext, details: Record<string, unknown>): Promise<StepObservation> {
  const run = await runCgroupMemory({ name: `cgroups-demo-mem-${process.pid}`, limitBytes: DEMO_MEMORY_LIMIT_BYTES, ports: await ports(4), workers: 4, host: context.host() });
  details.memory = run;
  const error = run.predicted > 0 ? Math.abs(run.observed_peak - run.predicted) / run.predicted : 1;
  return {
    predicted: { error: 'OOM kill', connections: run.predicted },
    observed: { error: run.failure?.error ?? null, connections: run.observed_peak },
    because: run.detail,
    tolerance: `connections within ${TOLERANCE * 100}% (observed ${((run.observed_peak / Math.max(1, run.predicted) - 1) * 100).toFixed(1)}%), the failure the cgroup's`,
    matches: error <= TOLERANCE && run.failure?.limit === 'cgroup_memory',
    evidence: [
      `doctor's binding limit for this cgroup: ${run.binding ?? 'none'}`,
      `charged to the cgroup per connection: ${fmt(run.charged_bytes_per_connection)} B; the host pays ${fmt(run.host_bytes_per_socket)} B per socket (slab pages)`,
      run.failure?.line ?? 'the cgroup\'s counters did not move',
      `serve ended by ${run.serve_exit?.signal ?? `exit ${run.serve_exit?.code ?? '?'}`}; load held at most ${fmt(run.observed_peak)}`,
    ],
  };
}

async function pidsStep(details: Record<string, unknown>): Promise<StepObservation> {
  const run = await runCgroupPids({ name: `cgroups-demo-pids-${process.pid}`, pidsMax: pidsMaxFor(PIDS_WORKERS), ports: await ports(1) });
  details.pids = run;
  return {
    predicted: { error: 'EAGAIN', connections: run.predicted_connections },
    observed: { error: run.one_more.error || null, connections: run.observed_workers * (run.predicted_connections / Math.max(1, run.predicted_workers)) },
    because: `pids.max ${run.pids_max} counts threads: serve's supervisor needs up to 11, each C worker 1, so ${run.predicted_workers} workers fit, each holding its descriptor limit`,
    tolerance: 'the predicted workers start, one more fails with EAGAIN counted in pids.events',
    matches: run.observed_workers === run.predicted_workers && run.one_more.failure?.limit === 'cgroup_pids',
    evidence: [
      `serve --workers ${run.predicted_workers}: started; serve --workers ${run.predicted_workers + 1}: exit ${run.one_more.exit_code ?? '?'}, ${run.one_more.error}`,
      run.one_more.failure?.line ?? 'pids.events did not move',
    ],
  };
}

export const cgroupDemo: DemoDefinition = {
  name: 'cgroup',
  title: 'cgroup: a container\'s limits bind before the host\'s',
  summary: 'Run connlab serve in a 256 MiB memory cgroup, predict with doctor where it fails, load until its OOM killer ends it; then pids.max refusing a worker with EAGAIN.',
  changesSettings: false,
  async run(context) {
    if (!canSandbox()) {
      throw new ConnlabError('CONNLAB_ERR_NOT_ROOT', 'demo cgroup makes child cgroups: it needs root and cgroup v1 memory and pids hierarchies', { hint: 'run it as root (sudo connlab demo cgroup); doctor --cgroup reads any cgroup without root' });
    }
    const details: Record<string, unknown> = {};
    await context.step('limit', `serve in a ${DEMO_MEMORY_LIMIT_BYTES / 2 ** 20} MiB memory cgroup`,
      'make a child cgroup with a memory limit, start connlab serve in it, read doctor\'s prediction from the cgroup, ramp connections from outside until it fails',
      () => memoryStep(context, details));
    await context.step('limit', `serve in a cgroup with pids.max ${pidsMaxFor(PIDS_WORKERS)}`,
      'start serve with the workers doctor says fit, then with one more',
      () => pidsStep(details));
    return {
      variant: 'default',
      lift: [
        'Kubernetes: resources.limits.memory from doctor --pid (kernel charged per socket + your server\'s user bytes, with a margin); connlab k8s sizes pods this way',
        'systemd: MemoryMax= and TasksMax= in the unit; LimitNOFILE= for descriptors',
        'a CPU quota does not cap connections, it slows the ramp: size cpu limits for the handshake rate you need',
      ],
      details,
    };
  },
};
