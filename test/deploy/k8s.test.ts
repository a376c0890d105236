import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import net from 'node:net';
import { describe, it } from 'node:test';
import { Deployment } from 'kubernetes-models/apps/v1';
import { Job } from 'kubernetes-models/batch/v1';
import { Namespace, Service } from 'kubernetes-models/v1';
import { parseAllDocuments } from 'yaml';
import { main } from '../../src/cli/main.ts';
import { DEFAULT_K8S_VALUES, loadPodSize, servePodSize } from '../../src/deploy/k8s-values.ts';
import { kubernetesManifests, LOAD_RETRIES_PER_SHARD, SERVE_WAIT_SECONDS, type Manifest } from '../../src/deploy/k8s.ts';
import { renderManifests } from '../../src/deploy/render-yaml.ts';
import { shardShare } from '../../src/shard/shard.ts';
import { errorCode } from '../helpers/errors.ts';
import { recordingIo } from '../helpers/io.ts';
import { freePort } from '../helpers/net.ts';

const committed = (name: string): string => readFileSync(new URL(`../../deploy/kubernetes/${name}`, import.meta.url), 'utf8');
const MODELS: Record<string, new (data: never) => { validate(): void }> = { Namespace, Service, Deployment, Job } as never;

/** Validates one object against the Kubernetes API schema of its kind; throws on any error. */
function validate(doc: { kind?: string }): void {
  const Model = MODELS[doc.kind ?? ''];
  assert.ok(Model, `no schema for kind ${doc.kind}`);
  new Model(doc as never).validate();
}

describe('Kubernetes manifests', () => {
  const files = kubernetesManifests(DEFAULT_K8S_VALUES);

  it('are what deploy/kubernetes/ holds: regenerating with the defaults changes nothing', () => {
    for (const [name, manifests] of Object.entries(files)) assert.equal(committed(name), renderManifests(manifests, 'connlab k8s'), name);
  });

  it('validate against the Kubernetes API schemas, every document of every committed file', () => {
    let count = 0;
    for (const name of Object.keys(files)) {
      for (const doc of parseAllDocuments(committed(name))) {
        validate(doc.toJS());
        count++;
      }
    }
    assert.equal(count, 4);
  });

  it('the schema check can fail: a wrong type is rejected', () => {
    const job = structuredClone(files['load-job.yaml']![0]) as Manifest & { spec: { parallelism: unknown } };
    job.spec.parallelism = 'four';
    assert.throws(() => validate(job));
  });

  it('run the load as an Indexed Job, one shard per node, sized by doctor\'s model', () => {
    const job = files['load-job.yaml']![0] as Job;
    const v = DEFAULT_K8S_VALUES;
    assert.equal(job.spec?.completionMode, 'Indexed');
    assert.equal(job.spec?.parallelism, v.shards);
    assert.equal(job.spec?.completions, v.shards);
    const pod = job.spec?.template.spec;
    assert.equal(pod?.affinity?.podAntiAffinity?.requiredDuringSchedulingIgnoredDuringExecution?.[0]?.topologyKey, 'kubernetes.io/hostname');
    assert.deepEqual(pod?.securityContext?.sysctls, [{ name: 'net.ipv4.ip_local_port_range', value: '65001 65535' }]);
    const size = loadPodSize(v);
    assert.equal(size.connections, shardShare(v.connections, { index: 0, count: v.shards }, 8));
    assert.equal(pod?.containers[0]?.resources?.requests?.memory, `${size.memoryRequestBytes / 2 ** 20}Mi`);
    assert.match(pod?.containers[0]?.command?.[2] ?? '', /connlab load "\$ip:9000-9007" -c 1000000 --shards 4 .*--metrics 0\.0\.0\.0:9464 --json/);
    assert.equal(job.spec?.template.metadata?.annotations?.['prometheus.io/port'], '9464');
  });

  it('run serve behind a headless Service with its metrics port', () => {
    const [service, deployment] = files['serve.yaml'] as [Service, Deployment];
    assert.equal(service.spec?.clusterIP, 'None');
    assert.ok(service.spec?.ports?.some((p) => p.name === 'metrics' && p.port === 9464));
    const container = deployment.spec?.template.spec?.containers[0];
    assert.deepEqual(container?.args?.slice(0, 3), ['serve', '--listen', '0.0.0.0:9000-9007']);
    assert.equal(container?.resources?.limits?.memory, `${servePodSize(DEFAULT_K8S_VALUES).memoryLimitBytes / 2 ** 20}Mi`);
  });

  it('refuse a shard one pod address cannot hold, and print any one kind on demand', async () => {
    assert.equal(errorCode(() => kubernetesManifests({ ...DEFAULT_K8S_VALUES, shards: 2 })), 'CONNLAB_ERR_IMPOSSIBLE_TARGET');
    const io = recordingIo();
    assert.equal(await main(['k8s', 'job', '-c', '300k', '--shards', '3', '--rate', '3000'], io), 0, io.err());
    const docs = parseAllDocuments(io.out()).map((d) => d.toJS());
    assert.deepEqual(docs.map((d) => d.kind), ['Job']);
    validate(docs[0]);
    assert.match(docs[0].spec.template.spec.containers[0].command[2], /-c 300000 --shards 3 --rate 3000/);
  });

  it('retry a failed shard a bounded number of times, with a fresh pod for the same index', () => {
    const job = files['load-job.yaml']![0] as Job;
    assert.equal(job.spec?.backoffLimitPerIndex, LOAD_RETRIES_PER_SHARD);
    assert.equal(job.spec?.backoffLimit, undefined);
    assert.equal(job.spec?.template.spec?.restartPolicy, 'Never');
    // The image is a qualified reference, the one build-image.sh tags.
    assert.match(job.spec?.template.spec?.containers[0]?.image ?? '', /^[a-z0-9.-]+\/connlab:/);
  });
});

describe('the load pod waits for serve before its shard starts', () => {
  const job = kubernetesManifests(DEFAULT_K8S_VALUES)['load-job.yaml']![0] as Job;
  const wait = job.spec?.template.spec?.initContainers?.[0];
  /** The init container's script, pointed at a loopback port and a deadline of `seconds`. */
  const scriptFor = (port: number, seconds: number): string => (wait?.command?.[2] ?? '')
    .replaceAll(`connlab-serve.${DEFAULT_K8S_VALUES.namespace}.svc/${DEFAULT_K8S_VALUES.servePorts.first}`, `127.0.0.1/${port}`)
    .replace(`SECONDS + ${SERVE_WAIT_SECONDS}`, `SECONDS + ${seconds}`);

  it('runs in bash, with the connlab image', () => {
    assert.equal(wait?.name, 'wait-for-serve');
    assert.deepEqual(wait?.command?.slice(0, 2), ['bash', '-c']);
    assert.equal(wait?.image, DEFAULT_K8S_VALUES.image);
  });

  it('returns once serve accepts, however late it starts', async () => {
    const port = await freePort();
    const bash = spawn('bash', ['-c', scriptFor(port, 30)], { stdio: 'ignore' });
    await new Promise((resolve) => setTimeout(resolve, 1500)); // nothing listens yet: it must keep trying
    assert.equal(bash.exitCode, null);
    const server = net.createServer((s) => s.destroy()).listen(port, '127.0.0.1');
    try {
      const [code] = await once(bash, 'exit');
      assert.equal(code, 0);
    } finally {
      server.close();
    }
  });

  it('gives up with a message after its deadline', async () => {
    const port = await freePort();
    const bash = spawn('bash', ['-c', scriptFor(port, 1)], { stdio: ['ignore', 'ignore', 'pipe'] });
    let err = '';
    bash.stderr.setEncoding('utf8').on('data', (d: string) => (err += d));
    const [code] = await once(bash, 'exit');
    assert.equal(code, 1);
    assert.match(err, /serve did not accept on 127\.0\.0\.1\/\d+ within/);
  });
});
