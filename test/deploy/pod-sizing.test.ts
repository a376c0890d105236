import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseAllDocuments } from 'yaml';
import { main } from '../../src/cli/main.ts';
import { DEFAULT_K8S_VALUES, shardsFor, tuplesPerPod } from '../../src/deploy/k8s-values.ts';
import { connectionsPerPodMemory, podSize, POD_BYTES_PER_CONNECTION } from '../../src/deploy/pod-sizing.ts';
import { CHARGED_BYTES_PER_SOCKET_V2 } from '../../src/limits/cgroup-model.ts';
import { recordingIo } from '../helpers/io.ts';

const MiB = 2 ** 20;

describe('pods sized by doctor\'s cgroup model', () => {
  it('a connection costs the pod the kernel bytes its socket charges the cgroup plus the worker\'s user bytes', () => {
    assert.equal(CHARGED_BYTES_PER_SOCKET_V2, 2368 + 832 + 192 + 192 + 128 + 140);
    assert.equal(POD_BYTES_PER_CONNECTION, CHARGED_BYTES_PER_SOCKET_V2 + 48);
  });

  it('requests the model\'s bytes and limits them 20% higher; each worker needs its share of descriptors', () => {
    const size = podSize(100_000, 2);
    const bytes = 100_000 * POD_BYTES_PER_CONNECTION + 2 * MiB + 64 * MiB;
    assert.equal(size.memoryRequestBytes, Math.ceil(bytes / MiB) * MiB);
    assert.equal(size.memoryLimitBytes, Math.ceil((bytes * 1.2) / MiB) * MiB);
    assert.equal(size.nofilePerWorker, 50_000 + 100);
  });

  it('shards cover the connections by one pod address\'s four-tuples, and by its memory when a budget is given', () => {
    const v = { ...DEFAULT_K8S_VALUES, connections: 10_000_000 };
    assert.equal(tuplesPerPod(v), 55_001 * 8);
    assert.equal(shardsFor(v), Math.ceil(10_000_000 / (55_001 * 8)));
    const budget = { ...v, podMemoryBytes: 512 * MiB };
    const perPod = connectionsPerPodMemory(512 * MiB, 1);
    assert.ok(perPod > 0 && perPod < 55_001 * 8);
    assert.equal(shardsFor(budget), Math.ceil(10_000_000 / perPod));
  });

  it('connlab k8s -c with --pod-memory sizes the Job from per-pod capacity and says so in a comment', async () => {
    const io = recordingIo();
    assert.equal(await main(['k8s', 'job', '-c', '2m', '--pod-memory', '1Gi'], io), 0, io.err());
    const expected = shardsFor({ ...DEFAULT_K8S_VALUES, connections: 2_000_000, podMemoryBytes: 1024 * MiB });
    const [job] = parseAllDocuments(io.out()).map((d) => d.toJS());
    assert.equal(job.spec.parallelism, expected);
    assert.match(io.out(), /^# memory request = [\d,]+ x \(3,852 B kernel charged to the pod's cgroup per socket/m);
    assert.match(io.out(), new RegExp(`^# shards: ${expected}; per-pod capacity: .*1024Mi memory budget`, 'm'));
    const limit = job.spec.template.spec.containers[0].resources.limits.memory as string;
    assert.ok(Number.parseInt(limit, 10) <= 1024, `limit ${limit} fits the budget`);
  });
});
