// The values every Kubernetes manifest is generated from, their defaults, and how the
// pods are sized from doctor's model. One source: `connlab k8s` and the files committed
// under deploy/kubernetes/ both come from kubernetesManifests(values).

import { clientWorkersFor, serverWorkersFor } from '../engine/sizing.ts';
import { PROCESS_PRIVATE_BYTES } from '../limits/model.ts';
import { DEFAULT_USER_BYTES_PER_CONNECTION } from '../limits/shape.ts';
import { FALLBACK_KERNEL_BYTES_PER_SOCKET } from '../limits/snapshot.ts';
import { shardShare } from '../shard/shard.ts';
import { ConnlabError } from '../errors.ts';
import { expandTargets, type Range } from '../tuple/address.ts';
import { DEFAULT_SOURCE_PORTS, usableSourcePorts } from '../tuple/plan.ts';

export interface K8sValues {
  namespace: string;
  image: string;
  /** Total connections over all load shards. */
  connections: number;
  shards: number;
  /** serve listens on these ports; load spreads over them (more ports: more tuples per source). */
  servePorts: Range;
  metricsPort: number;
  holdSeconds: number;
  /** Total connects per second over all shards; null: as fast as serve accepts. */
  ratePerSec: number | null;
  /** The open-file limit the container runtime gives (containerd's default: 1,048,576). */
  fdLimit: number;
  /** `--start-at` for every shard (RFC 3339): apply the Job a little before it; null: none. */
  startAt: string | null;
  /** Add net.core.somaxconn to serve's pod: needs kubelet --allowed-unsafe-sysctls. */
  unsafeSysctls: boolean;
}

export const DEFAULT_K8S_VALUES: K8sValues = {
  namespace: 'connlab',
  // What deploy/container/build-image.sh tags; push it to your registry and pass --image.
  image: 'localhost/connlab:0.1.0',
  connections: 1_000_000,
  shards: 4,
  servePorts: { first: 9000, last: 9007 },
  metricsPort: 9464,
  holdSeconds: 300,
  ratePerSec: null,
  fdLimit: 1_048_576,
  startAt: null,
  unsafeSysctls: false,
};

/** Memory sizing slack: the model is a mean; kernel allocator slack and GC swing around it. */
export const MEMORY_MARGIN = 1.25;

export interface PodSize {
  connections: number;
  processes: number;
  memoryRequestBytes: number;
  memoryLimitBytes: number;
}

/**
 * Doctor's memory model for one side of connections in one pod: kernel bytes per socket
 * (the fallback figure: a cluster node's slab sizes are not known here) plus user bytes per
 * connection, plus one Node process's private memory per worker and for the supervisor.
 * Socket slab memory is charged to the pod's memory cgroup, so it belongs in the limit.
 */
export function podSize(connections: number, processes: number): PodSize {
  const bytes = connections * (FALLBACK_KERNEL_BYTES_PER_SOCKET + DEFAULT_USER_BYTES_PER_CONNECTION) + (processes + 1) * PROCESS_PRIVATE_BYTES;
  const mib = (n: number): number => Math.ceil(n / 2 ** 20) * 2 ** 20;
  return { connections, processes, memoryRequestBytes: mib(bytes), memoryLimitBytes: mib(bytes * MEMORY_MARGIN) };
}

/** The biggest shard (shard 1 under the block split) sizes every load pod alike. */
export function loadPodSize(v: K8sValues): PodSize {
  const destinations = v.servePorts.last - v.servePorts.first + 1;
  const share = shardShare(v.connections, { index: 0, count: v.shards }, destinations);
  return podSize(share, clientWorkersFor(share, v.fdLimit));
}

/**
 * A load pod has one address, so its share must fit 55,001 planned ports × serve's ports
 * (each shard plans in its own tuple space: src/tuple/plan.ts, sharesTupleSpace).
 */
export function checkValues(v: K8sValues): void {
  const destinations = expandTargets([{ ips: { first: 0, last: 0 }, ports: v.servePorts }]);
  const perPod = usableSourcePorts(DEFAULT_SOURCE_PORTS, destinations).length * destinations.length;
  const share = loadPodSize(v).connections;
  if (share > perPod) {
    throw new ConnlabError('CONNLAB_ERR_IMPOSSIBLE_TARGET', `a shard of ${share} connections needs more four-tuples than one pod address has toward ${destinations.length} port(s): ${perPod}`, {
      hint: `add shards (--shards ${Math.ceil(v.connections / perPod)}) or serve ports (--ports)`,
    });
  }
}

export function servePodSize(v: K8sValues): PodSize {
  return podSize(v.connections, serverWorkersFor(v.connections, v.fdLimit));
}
