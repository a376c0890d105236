// Kubernetes manifests for a sharded run, generated from K8sValues: a Namespace; serve as
// a Deployment with a headless Service (load connects to the pod's own address, so no
// kube-proxy NAT sits between); load as an Indexed Job, one pod per shard, each on its own
// node. Typed with kubernetes-models' interfaces, so a misspelled field fails to compile,
// and validated against the API schemas in the tests.

import type { IJob } from 'kubernetes-models/batch/v1';
import type { IDeployment } from 'kubernetes-models/apps/v1';
import type { INamespace, IService, IContainerPort, ISysctl } from 'kubernetes-models/v1';
import { checkValues, loadPodSize, servePodSize, type K8sValues, type PodSize } from './k8s-values.ts';

export type Manifest = INamespace | IDeployment | IService | IJob;

const APP = 'connlab';
const SERVE = 'connlab-serve';
const LOAD = 'connlab-load';

/** Prometheus' conventional pod annotations (kubernetes_sd_configs role: pod). */
function scrapeAnnotations(v: K8sValues): Record<string, string> {
  return { 'prometheus.io/scrape': 'true', 'prometheus.io/port': String(v.metricsPort), 'prometheus.io/path': '/metrics' };
}

function resources(size: PodSize) {
  return {
    requests: { cpu: '1', memory: `${size.memoryRequestBytes / 2 ** 20}Mi` },
    limits: { memory: `${size.memoryLimitBytes / 2 ** 20}Mi` },
  };
}

const portsText = (v: K8sValues): string => `${v.servePorts.first}-${v.servePorts.last}`;

function servePorts(v: K8sValues): IContainerPort[] {
  const ports: IContainerPort[] = [];
  for (let p = v.servePorts.first; p <= v.servePorts.last; p++) ports.push({ name: `conn-${p - v.servePorts.first}`, containerPort: p });
  return [...ports, { name: 'metrics', containerPort: v.metricsPort }];
}

export function namespaceManifest(v: K8sValues): INamespace {
  return { apiVersion: 'v1', kind: 'Namespace', metadata: { name: v.namespace, labels: { app: APP } } };
}

export function serveService(v: K8sValues): IService {
  return {
    apiVersion: 'v1', kind: 'Service',
    metadata: { name: SERVE, namespace: v.namespace, labels: { app: APP, role: 'server' } },
    spec: {
      clusterIP: 'None',
      selector: { app: APP, role: 'server' },
      ports: servePorts(v).map((p) => ({ name: p.name, port: p.containerPort, targetPort: p.containerPort })),
    },
  };
}

function serveSysctls(v: K8sValues): ISysctl[] {
  // somaxconn is namespaced but not on the kubelet's safe list: opt-in only.
  return v.unsafeSysctls ? [{ name: 'net.core.somaxconn', value: '65535' }] : [];
}

export function serveDeployment(v: K8sValues): IDeployment {
  const size = servePodSize(v);
  return {
    apiVersion: 'apps/v1', kind: 'Deployment',
    metadata: { name: SERVE, namespace: v.namespace, labels: { app: APP, role: 'server' } },
    spec: {
      replicas: 1,
      selector: { matchLabels: { app: APP, role: 'server' } },
      template: {
        metadata: { labels: { app: APP, role: 'server' }, annotations: scrapeAnnotations(v) },
        spec: {
          ...(serveSysctls(v).length ? { securityContext: { sysctls: serveSysctls(v) } } : {}),
          containers: [{
            name: 'serve', image: v.image,
            args: ['serve', '--listen', `0.0.0.0:${portsText(v)}`, '--connections', String(v.connections), '--metrics', `0.0.0.0:${v.metricsPort}`],
            ports: servePorts(v),
            resources: resources(size),
            readinessProbe: { httpGet: { path: '/metrics', port: v.metricsPort }, periodSeconds: 5 },
          }],
        },
      },
    },
  };
}

/**
 * Each shard resolves serve's pod address (the headless Service), runs its share, and
 * prints only the result JSON on stdout (stderr goes to a file), so `kubectl logs` of a
 * finished pod is its result, ready for `connlab merge`.
 */
function loadScript(v: K8sValues): string {
  const rate = (v.ratePerSec === null ? '' : ` --rate ${v.ratePerSec}`) + (v.startAt === null ? '' : ` --start-at ${v.startAt}`);
  return [
    'set -u',
    `ip=$(getent hosts ${SERVE}.${v.namespace}.svc | cut -d' ' -f1)`,
    `connlab load "$ip:${portsText(v)}" -c ${v.connections} --shards ${v.shards}${rate} --duration ${v.holdSeconds}s ` +
      `--metrics 0.0.0.0:${v.metricsPort} --json > /results/result.json 2> /results/load.log`,
    'status=$?',
    'cat /results/result.json',
    'exit $status',
  ].join('\n');
}

/** How often one shard's pod is replaced after a failure before the Job gives up on it. */
export const LOAD_RETRIES_PER_SHARD = 2;

/** How long a load pod waits for serve's first port to accept, in seconds. */
export const SERVE_WAIT_SECONDS = 300;

/** Polls serve's first port (bash's /dev/tcp: no extra tools in the image) with a bounded back-off. */
function waitForServeScript(v: K8sValues): string {
  const target = `${SERVE}.${v.namespace}.svc/${v.servePorts.first}`;
  return [
    `deadline=$((SECONDS + ${SERVE_WAIT_SECONDS})) delay=1`,
    `until (exec 3<>/dev/tcp/${target}) 2>/dev/null; do`,
    `  if [ $SECONDS -ge $deadline ]; then echo "serve did not accept on ${target} within ${SERVE_WAIT_SECONDS}s" >&2; exit 1; fi`,
    '  sleep $delay; delay=$(( delay < 16 ? delay * 2 : 16 ))',
    'done',
  ].join('\n');
}

export function loadJob(v: K8sValues): IJob {
  const size = loadPodSize(v);
  return {
    apiVersion: 'batch/v1', kind: 'Job',
    metadata: { name: LOAD, namespace: v.namespace, labels: { app: APP, role: 'load' } },
    spec: {
      completionMode: 'Indexed', completions: v.shards, parallelism: v.shards,
      // A failed shard gets a fresh pod, a bounded number of times. Nothing is counted twice:
      // the failed pod's sockets closed with it, the retry opens the same slice of the
      // four-tuple space (it follows from the index alone), and each index has exactly one
      // succeeded pod whose log is its result for `connlab merge`.
      backoffLimitPerIndex: LOAD_RETRIES_PER_SHARD,
      // Keep finished pods an hour, so their logs (the results) can be collected.
      ttlSecondsAfterFinished: 3600,
      template: {
        metadata: { labels: { app: APP, role: 'load' }, annotations: scrapeAnnotations(v) },
        spec: {
          restartPolicy: 'Never',
          affinity: {
            // One shard per node: the point of sharding is more hosts' limits.
            podAntiAffinity: {
              requiredDuringSchedulingIgnoredDuringExecution: [{ topologyKey: 'kubernetes.io/hostname', labelSelector: { matchLabels: { app: APP, role: 'load' } } }],
              preferredDuringSchedulingIgnoredDuringExecution: [{ weight: 100, podAffinityTerm: { topologyKey: 'kubernetes.io/hostname', labelSelector: { matchLabels: { app: APP, role: 'server' } } } }],
            },
          },
          // Ephemeral ports above load's planned 10000-65000, so the kernel never hands a
          // socket (DNS, the scrape) a port load is about to bind: no EADDRINUSE.
          securityContext: { sysctls: [{ name: 'net.ipv4.ip_local_port_range', value: '65001 65535' }] },
          // A shard that starts before serve accepts would fail at once: wait, bounded.
          initContainers: [{ name: 'wait-for-serve', image: v.image, command: ['bash', '-c', waitForServeScript(v)] }],
          containers: [{
            name: 'load', image: v.image,
            command: ['sh', '-c', loadScript(v)],
            ports: [{ name: 'metrics', containerPort: v.metricsPort }],
            resources: resources(size),
            volumeMounts: [{ name: 'results', mountPath: '/results' }],
          }],
          volumes: [{ name: 'results', emptyDir: {} }],
        },
      },
    },
  };
}

/** Every manifest, by the file it is written to under deploy/kubernetes/. */
export function kubernetesManifests(v: K8sValues): Record<string, Manifest[]> {
  checkValues(v);
  return {
    'namespace.yaml': [namespaceManifest(v)],
    'serve.yaml': [serveService(v), serveDeployment(v)],
    'load-job.yaml': [loadJob(v)],
  };
}
