// `connlab k8s`: prints (or writes) the Kubernetes manifests for a sharded run, from the
// values its flags set over DEFAULT_K8S_VALUES. deploy/kubernetes/ holds the defaults.

import { mkdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { DEFAULT_K8S_VALUES, loadPodSize, servePodSize, shardsFor, type K8sValues } from '../../deploy/k8s-values.ts';
import { kubernetesManifests, sizingNotes } from '../../deploy/k8s.ts';
import { renderManifests } from '../../deploy/render-yaml.ts';
import { parseBytes } from '../../units.ts';
import { ConnlabError } from '../../errors.ts';
import { parseStartAt } from '../../shard/shard.ts';
import { parsePortRange } from '../../tuple/address.ts';
import { formatBytes, formatCount, parseCount, parseDurationMs } from '../../units.ts';
import { oneOf, parseCommandArgs } from '../args.ts';
import type { Io } from '../io.ts';

export const summary = 'Kubernetes manifests for a sharded run: serve Deployment, load Indexed Job';

const d = DEFAULT_K8S_VALUES;
export const help = `Usage: connlab k8s [all|serve|job|namespace] [options]

Generates the manifests of a sharded run: a Namespace; connlab serve as a Deployment with
a headless Service (load connects to the pod's own address, no kube-proxy NAT) and its
metrics port; connlab load as an Indexed Job (completionMode: Indexed, parallelism =
shards), one shard per node (pod anti-affinity), ephemeral ports moved above load's
planned ports by a namespaced sysctl. Memory requests and limits come from doctor's
cgroup model (kernel bytes each socket charges the pod's cgroup + the worker's user bytes,
20% margin on the limit) and each file says so in a comment. With --connections and no
--shards, the shards are sized from what one pod holds. Every pod carries
prometheus.io/scrape annotations. Each load pod prints only its result JSON, so
\`kubectl logs\` of the finished pods feeds \`connlab merge\`.

Options:
  -c, --connections N    total connections over all shards (default ${formatCount(d.connections)})
  --shards N             load pods (default ${d.shards}; with -c and no --shards: from
                         per-pod capacity, four-tuples of one pod address and --pod-memory)
  --pod-memory SIZE      a load pod's memory budget for sizing the shards (e.g. 2Gi)
  --ports RANGE          serve's ports (default ${d.servePorts.first}-${d.servePorts.last})
  --hold D               how long each shard holds (default ${d.holdSeconds}s)
  --rate R               total connects per second over all shards (default: unpaced)
  --start-at TIME        the shards' common start (RFC 3339), for a Job applied just before
  --image REF            the connlab image (default ${d.image}: deploy/Dockerfile,
                         as deploy/container/build-image.sh builds and tags it; push it
                         to your registry and pass that reference)
  --namespace NS         (default ${d.namespace})
  --metrics-port PORT    (default ${d.metricsPort})
  --fd-limit N           the runtime's open-file limit, for sizing (default ${formatCount(d.fdLimit)})
  --unsafe-sysctls       also set net.core.somaxconn on serve (kubelet must allow it)
  --target TARGET        load your own service instead of the generated serve: a URL
                         (wss://gateway.prod:443/socket, mqtts://broker:8883) or name:PORT,
                         resolved in each pod to all its addresses; no serve.yaml then
  --out DIR              write namespace.yaml, serve.yaml, load-job.yaml into DIR
  -h, --help             this help

Examples:
  connlab k8s -c 10m --shards 20 --out my-run/
  connlab k8s job -c 2m --shards 8 | kubectl apply -f -
  connlab k8s -c 400k --shards 8 --target wss://gateway.prod.svc:443/socket --out run/
`;

const options = {
  connections: { type: 'string', short: 'c' },
  shards: { type: 'string' },
  ports: { type: 'string' },
  hold: { type: 'string' },
  rate: { type: 'string' },
  'start-at': { type: 'string' },
  image: { type: 'string' },
  namespace: { type: 'string' },
  'metrics-port': { type: 'string' },
  'fd-limit': { type: 'string' },
  'unsafe-sysctls': { type: 'boolean' },
  'pod-memory': { type: 'string' },
  out: { type: 'string' },
  target: { type: 'string' },
} as const;

type Values = ReturnType<typeof parseCommandArgs<typeof options>>['values'];

export function k8sValuesFromFlags(values: Values): K8sValues {
  const startAt = values['start-at'];
  if (startAt !== undefined) parseStartAt(startAt);
  const podMemoryBytes = values['pod-memory'] === undefined ? null : parseBytes(values['pod-memory'].replace(/i$/, 'iB'), '--pod-memory');
  const sized = {
    namespace: values.namespace ?? d.namespace,
    image: values.image ?? d.image,
    connections: values.connections === undefined ? d.connections : parseCount(values.connections, '--connections', { min: 1 }),
    shards: values.shards === undefined ? d.shards : parseCount(values.shards, '--shards', { min: 1 }),
    servePorts: values.ports === undefined ? d.servePorts : parsePortRange(values.ports, '--ports'),
    metricsPort: values['metrics-port'] === undefined ? d.metricsPort : parseCount(values['metrics-port'], '--metrics-port', { min: 1 }),
    holdSeconds: values.hold === undefined ? d.holdSeconds : Math.ceil(parseDurationMs(values.hold, '--hold') / 1000),
    ratePerSec: values.rate === undefined ? null : parseCount(values.rate, '--rate', { min: 1 }),
    fdLimit: values['fd-limit'] === undefined ? d.fdLimit : parseCount(values['fd-limit'], '--fd-limit', { min: 200 }),
    startAt: startAt ?? null,
    unsafeSysctls: Boolean(values['unsafe-sysctls']),
    podMemoryBytes,
    target: values.target ?? null,
  };
  // Shards from per-pod capacity when the connections are given and the shards are not.
  const auto = values.shards === undefined && (values.connections !== undefined || podMemoryBytes !== null);
  return auto ? { ...sized, shards: shardsFor(sized) } : sized;
}

const FILES = { namespace: 'namespace.yaml', serve: 'serve.yaml', job: 'load-job.yaml' } as const;

export async function run(argv: string[], io: Io): Promise<number> {
  const { values, positionals } = parseCommandArgs('k8s', argv, options, true);
  if (values.help) {
    io.stdout.write(help);
    return 0;
  }
  if (positionals.length > 1) throw new ConnlabError('CONNLAB_ERR_USAGE', 'k8s takes at most one of all, serve, job, namespace', { hint: 'connlab k8s job' });
  const which = oneOf('k8s', positionals[0] ?? 'all', ['all', 'serve', 'job', 'namespace'] as const);
  const v = k8sValuesFromFlags(values);
  const manifests = kubernetesManifests(v);
  const command = ['connlab', 'k8s', ...argv].filter((a, i, all) => a !== '--out' && all[i - 1] !== '--out').join(' ');
  if (v.target && which === 'serve') throw new ConnlabError('CONNLAB_ERR_USAGE', 'k8s serve has nothing to generate with --target', { hint: 'connlab k8s job --target URL' });
  const names = which === 'all' ? Object.values(FILES).filter((name) => name in manifests) : [FILES[which]];
  if (values.out !== undefined) {
    const dir = resolve(values.out);
    mkdirSync(dir, { recursive: true });
    for (const name of names) writeFileSync(join(dir, name), renderManifests(manifests[name] ?? [], command, sizingNotes(v, name)));
    const load = loadPodSize(v);
    const serve = servePodSize(v);
    io.stderr.write(`wrote ${names.join(', ')} to ${dir}\n` +
      `  load: ${v.shards} pod(s) of ${formatCount(load.connections)} connections, ${load.processes} worker(s), memory ${formatBytes(load.memoryRequestBytes)} (limit ${formatBytes(load.memoryLimitBytes)})\n` +
      `  serve: ${formatCount(serve.connections)} connections, ${serve.processes} worker(s), memory ${formatBytes(serve.memoryRequestBytes)} (limit ${formatBytes(serve.memoryLimitBytes)})\n`);
    return 0;
  }
  io.stdout.write(renderManifests(names.flatMap((name) => manifests[name] ?? []), command, names.flatMap((name) => sizingNotes(v, name))));
  return 0;
}
