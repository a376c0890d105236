// `connlab k8s`: prints (or writes) the Kubernetes manifests for a sharded run, from the
// values its flags set over DEFAULT_K8S_VALUES. deploy/kubernetes/ holds the defaults.

import { mkdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { DEFAULT_K8S_VALUES, loadPodSize, servePodSize, type K8sValues } from '../../deploy/k8s-values.ts';
import { kubernetesManifests } from '../../deploy/k8s.ts';
import { renderManifests } from '../../deploy/render-yaml.ts';
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
planned ports by a namespaced sysctl, memory sized from doctor's model. Every pod carries
prometheus.io/scrape annotations. Each load pod prints only its result JSON, so
\`kubectl logs\` of the finished pods feeds \`connlab merge\`.

Options:
  -c, --connections N    total connections over all shards (default ${formatCount(d.connections)})
  --shards N             load pods (default ${d.shards})
  --ports RANGE          serve's ports (default ${d.servePorts.first}-${d.servePorts.last})
  --hold D               how long each shard holds (default ${d.holdSeconds}s)
  --rate R               total connects per second over all shards (default: unpaced)
  --start-at TIME        the shards' common start (RFC 3339), for a Job applied just before
  --image REF            the connlab image (default ${d.image}, the tag that
                         deploy/container/build-image.sh gives; push it and pass yours)
  --namespace NS         (default ${d.namespace})
  --metrics-port PORT    (default ${d.metricsPort})
  --fd-limit N           the runtime's open-file limit, for sizing (default ${formatCount(d.fdLimit)})
  --unsafe-sysctls       also set net.core.somaxconn on serve (kubelet must allow it)
  --out DIR              write namespace.yaml, serve.yaml, load-job.yaml into DIR
  -h, --help             this help

Examples:
  connlab k8s -c 10m --shards 20 --out my-run/
  connlab k8s job -c 2m --shards 8 | kubectl apply -f -
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
  out: { type: 'string' },
} as const;

type Values = ReturnType<typeof parseCommandArgs<typeof options>>['values'];

export function k8sValuesFromFlags(values: Values): K8sValues {
  const startAt = values['start-at'];
  if (startAt !== undefined) parseStartAt(startAt);
  return {
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
  };
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
  const names = which === 'all' ? Object.values(FILES) : [FILES[which]];
  if (values.out !== undefined) {
    const dir = resolve(values.out);
    mkdirSync(dir, { recursive: true });
    for (const name of names) writeFileSync(join(dir, name), renderManifests(manifests[name] ?? [], command));
    const load = loadPodSize(v);
    const serve = servePodSize(v);
    io.stderr.write(`wrote ${names.join(', ')} to ${dir}\n` +
      `  load: ${v.shards} pod(s) of ${formatCount(load.connections)} connections, ${load.processes} worker(s), memory ${formatBytes(load.memoryRequestBytes)} (limit ${formatBytes(load.memoryLimitBytes)})\n` +
      `  serve: ${formatCount(serve.connections)} connections, ${serve.processes} worker(s), memory ${formatBytes(serve.memoryRequestBytes)} (limit ${formatBytes(serve.memoryLimitBytes)})\n`);
    return 0;
  }
  io.stdout.write(renderManifests(names.flatMap((name) => manifests[name] ?? []), command));
  return 0;
}
