import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { main } from '../../src/cli/main.ts';
import { serveSummary } from '../../src/cli/commands/serve.ts';
import { camelCaseKeys, snakeCase, snakeCaseKeys } from '../../src/json/snake-case.ts';
import { fixtureRoot, recordingIo } from '../helpers/io.ts';

/** Every key below `value` that is not snake_case, minus the deprecated aliases allowed. */
const camel = (value: unknown, aliases: ReadonlySet<string>): string[] =>
  camelCaseKeys(value).filter((path) => !aliases.has(path.split('.').at(-1) ?? ''));

describe('snake_case JSON keys', () => {
  it('renames lowerCamel keys and leaves the kernel\'s own names alone', () => {
    assert.equal(snakeCase('kernelBytesPerSocket'), 'kernel_bytes_per_socket');
    assert.equal(snakeCase('fileMax'), 'file_max');
    for (const kernelName of ['TCP', 'TcpExt', 'ListenOverflows', 'sock_inode_cache', 'p99']) assert.equal(snakeCase(kernelName), kernelName);
  });

  it('keeps each old key beside its new name, with the same value, when asked', () => {
    const out = snakeCaseKeys({ socketCost: { kernelBytesPerSocket: 3901, caches: { TCP: 2521 } } }, { keepCamelCase: true }) as Record<string, any>;
    assert.deepEqual(Object.keys(out), ['socket_cost', 'socketCost']);
    assert.equal(out.socket_cost.kernel_bytes_per_socket, 3901);
    assert.equal(out.socketCost.kernelBytesPerSocket, 3901); // a 0.1 script still reads it
    assert.equal(out.socket_cost.caches.TCP, 2521);
    assert.deepEqual(camelCaseKeys(snakeCaseKeys({ aB: { cD: [{ eF: 1 }] } })), []);
  });

  it('doctor --json: host keys are snake_case, the camelCase ones only as equal aliases', async () => {
    const io = recordingIo();
    assert.equal(await main(['doctor', '--json', '--root', fixtureRoot('this-machine')], io), 0);
    const report = JSON.parse(io.out()) as { host: Record<string, any> };
    assert.equal(report.host.fds.file_max, report.host.fds.fileMax);
    assert.equal(typeof report.host.socket_cost.kernel_bytes_per_socket, 'number');
    assert.deepEqual(report.host.socketCost, report.host.socket_cost);
    const snakeOnly = snakeCaseKeys(report.host); // what 0.3 will print: drop the aliases
    assert.deepEqual(camelCaseKeys(snakeOnly), []);
    assert.deepEqual(camel(report, new Set()), camelCaseKeys(report.host).map((p) => `.host${p}`));
  });

  it('load --dry-run --json: source_ips and source_port_count, with the 0.1 names as aliases', async () => {
    const io = recordingIo();
    assert.equal(await main(['load', '127.0.0.1:9000', '-c', '70000', '--dry-run', '--json'], io), 0);
    const plan = JSON.parse(io.out()) as Record<string, unknown>;
    assert.equal(plan.source_ips, 2);
    assert.equal(plan.source_port_count, 55001);
    assert.equal(plan.sourceIps, plan.source_ips);
    assert.equal(plan.sourcePorts, plan.source_port_count);
    assert.deepEqual(camel(plan, new Set(['sourceIps', 'sourcePorts'])), []);
  });

  it('serve --json: workers carry private_bytes and heap_used_bytes', () => {
    const stats = {
      connections: 0, peakConnections: 10, acceptsPerSecond: 0, privateBytes: 4096,
      totals: { accepted: 10, closed: {}, errors: {}, acceptBackoffs: 0, broadcastsSent: 0 },
      workers: [{ index: 0, pid: 1, established: 10, privateBytes: 4096, heapUsedBytes: null, restarts: 0 }],
      deaths: [],
    } as unknown as Parameters<typeof serveSummary>[0];
    const summary = serveSummary(stats, 'native', 'c');
    const worker = (summary.workers as Record<string, unknown>[])[0];
    assert.equal(worker?.private_bytes, 4096);
    assert.equal(worker?.privateBytes, 4096);
    assert.equal(worker?.heap_used_bytes, null);
    assert.deepEqual(camel(summary, new Set(['privateBytes', 'heapUsedBytes'])), []);
  });
});
