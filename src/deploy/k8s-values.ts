// The values every Kubernetes manifest is generated from, their defaults, and how the
// pods are sized from doctor's model. One source: `connlab k8s` and the files committed
// under deploy/kubernetes/ both come from kubernetesManifests(values).

import { clientWorkersFor, serverWorkersFor } from '../engine/sizing.ts';
import { connectionsPerPodMemory, podSize, POD_MEMORY_MARGIN, type PodSize } from './pod-sizing.ts';
import { shardShare } from '../shard/shard.ts';
import { ConnlabError, invalidArgument } from '../errors.ts';
import { parseTargetList } from '../target/parse-target.ts';
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
  /** A load pod's memory budget when shards are sized from it; null: shards as given. */
  podMemoryBytes: number | null;
  /**
   * The load Job's target as load takes it (a URL such as wss://gateway.prod:443/socket, or
   * name:port), resolved in each pod at run time; null: the generated connlab serve.
   */
  target?: string | null;
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
  podMemoryBytes: null,
  target: null,
};

/** Memory sizing slack: the model is a mean; kernel allocator slack and GC swing around it. */
export const MEMORY_MARGIN = POD_MEMORY_MARGIN;

export { podSize, type PodSize } from './pod-sizing.ts';

/** The ports load connects to: the target's, else serve's. Names count as one address each. */
export function targetPorts(v: K8sValues): Range {
  if (!v.target) return v.servePorts;
  if (v.target.includes("'")) throw invalidArgument('--target', v.target, 'a target without single quotes (it goes into the pod\'s shell command)');
  const targets = parseTargetList([v.target]);
  return targets.length === 1 && targets[0] ? targets[0].ports : v.servePorts;
}

/** The biggest shard (shard 1 under the block split) sizes every load pod alike. */
export function loadPodSize(v: K8sValues): PodSize {
  const ports = targetPorts(v);
  const destinations = ports.last - ports.first + 1;
  const share = shardShare(v.connections, { index: 0, count: v.shards }, destinations);
  return podSize(share, clientWorkersFor(share, v.fdLimit));
}

/**
 * A load pod has one address, so its share must fit 55,001 planned ports × serve's ports
 * (each shard plans in its own tuple space: src/tuple/plan.ts, sharesTupleSpace).
 */
export function checkValues(v: K8sValues): void {
  if (v.target && parseTargetList([v.target]).length !== 1) throw invalidArgument('--target', v.target, 'one target (a URL or name:port)');
  const destinations = expandTargets([{ ips: { first: 0, last: 0 }, ports: targetPorts(v) }]);
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

/** Connections one load pod's address reaches: planned source ports × serve's ports. */
export function tuplesPerPod(v: Pick<K8sValues, 'servePorts'>): number {
  const destinations = expandTargets([{ ips: { first: 0, last: 0 }, ports: v.servePorts }]);
  return usableSourcePorts(DEFAULT_SOURCE_PORTS, destinations).length * destinations.length;
}

/**
 * Shards from per-pod capacity: enough load pods that each share fits one pod address's
 * four-tuples and, with a memory budget, the pod's memory by doctor's model.
 */
export function shardsFor(v: Pick<K8sValues, 'connections' | 'servePorts' | 'fdLimit' | 'podMemoryBytes'>): number {
  const byTuples = Math.ceil(v.connections / tuplesPerPod(v));
  if (v.podMemoryBytes === null) return Math.max(1, byTuples);
  const share = Math.ceil(v.connections / Math.max(1, byTuples));
  const perPod = connectionsPerPodMemory(v.podMemoryBytes, clientWorkersFor(share, v.fdLimit));
  if (perPod <= 0) {
    throw new ConnlabError('CONNLAB_ERR_IMPOSSIBLE_TARGET', `a ${Math.round(v.podMemoryBytes / 2 ** 20)} MiB pod holds no connection after its processes`, { hint: 'give --pod-memory at least 256Mi' });
  }
  return Math.max(1, byTuples, Math.ceil(v.connections / perPod));
}
