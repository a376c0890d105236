// What bench --target --server-metrics reads from real exporters' text (captured from
// Debian's node_exporter 1.5 and prom-client 15), what it says it could not see, and
// scrapes bounded in time and size against local HTTP servers that misbehave.

import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import http from 'node:http';
import { after, before, describe, it } from 'node:test';
import { parsePrometheusText } from '../../../src/dashboard/scrape.ts';
import { readRemote, remoteHostSample, remoteServerSample, remoteSnapshot, roleOf, unseenFrom } from '../../../src/bench/target/remote-readings.ts';
import { scrapeEndpoint, type Scrape } from '../../../src/bench/target/scrape.ts';
import { checkTargetOptions, remotePortBlock, remoteStepPorts } from '../../../src/bench/target/run-target.ts';
import { diagnose } from '../../../src/limits/diagnose.ts';
import { defaultShape } from '../../../src/limits/shape.ts';

const fixture = (name: string): string => readFileSync(new URL(`../../fixtures/metrics/${name}`, import.meta.url), 'utf8');
const scrape = (url: string, text: string): Scrape => ({ url, series: parsePrometheusText(text), error: null });
const nodeExporter = scrape('http://198.18.0.1:9100/metrics', fixture('node-exporter-1.5.txt'));
const promClient = scrape('http://198.18.0.1:8080/metrics', fixture('prom-client-15.txt'));

describe('reading a remote server and its host from their exporters', () => {
  it('tells node_exporter (the host) from the server\'s own endpoint', () => {
    assert.equal(roleOf(nodeExporter), 'host');
    assert.equal(roleOf(promClient), 'server');
    assert.equal(roleOf({ url: 'x', series: [], error: 'ECONNREFUSED' }), 'unknown');
  });

  it('reads the server\'s memory from its endpoint, never node_exporter\'s own process_* series', () => {
    const r = readRemote([nodeExporter, promClient]);
    assert.equal(r.server.memoryBytes, 73_469_952);
    assert.equal(r.server.maxFds, 20_000);
    assert.equal(r.server.cpuSeconds, 0.031097);
    assert.equal(readRemote([nodeExporter]).server.memoryBytes, null, 'node_exporter alone says nothing of the server');
    assert.equal(readRemote([nodeExporter, promClient], 'process_heap_bytes').server.memoryBytes, 606_240_768);
  });

  it('reads sockstat, meminfo, filefd, conntrack, cpu and the socket slab caches', () => {
    const h = readRemote([nodeExporter, promClient]).host;
    assert.equal(h.tcpInUse, 6005);
    assert.equal(h.tcpAlloc, 6005);
    assert.equal(h.tcpMemBytes, 425_984);
    assert.equal(h.memAvailableBytes, 24_022_130_688);
    assert.equal(h.fileMax, 2_466_103);
    assert.deepEqual(h.conntrack, { max: 262_144, count: 0 });
    assert.equal(h.cpus, 2);
    assert.equal(h.kernelRelease, '6.18.44-fc-v1147');
    // TCP: 8 pages per slab of 13 objects = 2,520 B each, padding included, as /proc/slabinfo gives locally.
    assert.equal(Math.round(h.bytesPerObject?.['TCP'] ?? 0), 2521);
    assert.equal(h.slabCaches?.['TCP'], Math.round(6058 * (8 * 4096) / 13));
    assert.equal(h.netstat['TcpExt.ListenOverflows'], 3356);
  });

  it('gives the local probe\'s shapes, and doctor a snapshot of that host', () => {
    const r = readRemote([nodeExporter, promClient]);
    const host = remoteHostSample(r);
    assert.equal(host.tcpInUse, 6005);
    assert.deepEqual(Object.keys(host.slabBytes).sort(), ['TCP', 'dentry', 'eventpoll_epi', 'filp', 'sock_inode_cache']);
    const server = remoteServerSample(r, true);
    assert.equal(server.privateDirtyBytes, 73_469_952);
    assert.equal(server.fdSoftLimit, 20_000);
    const snapshot = remoteSnapshot(r);
    assert.equal(snapshot.socketCost.source, 'slabinfo');
    assert.equal(snapshot.fds.fileMax, 2_466_103);
    assert.equal(snapshot.memory.tcpMemPages, undefined, 'no exporter publishes tcp_mem');
    const report = diagnose(snapshot, defaultShape({ role: 'server', processes: 1, userBytesPerConnection: 2000 }));
    assert.equal(report.binding?.name, 'process_fds');
  });

  it('falls back to meminfo Slab without the slabinfo collector, and says so', () => {
    const noSlab = scrape(nodeExporter.url, fixture('node-exporter-1.5.txt').split('\n').filter((l) => !l.startsWith('node_slabinfo')).join('\n'));
    const r = readRemote([noSlab, promClient]);
    assert.deepEqual(remoteHostSample(r).slabBytes, { Slab: 433_127_424 });
    assert.equal(remoteSnapshot(r).socketCost.source, 'fallback');
    assert.ok(unseenFrom(r, 'process_resident_memory_bytes').some((s) => s.startsWith('slab by cache')));
  });

  it('names what it could not see', () => {
    const all = unseenFrom(readRemote([nodeExporter, promClient]), 'process_resident_memory_bytes');
    assert.ok(all.some((s) => s.startsWith('net.ipv4.tcp_mem')));
    assert.ok(!all.some((s) => s.startsWith('the server\'s memory')));
    const hostOnly = unseenFrom(readRemote([nodeExporter]), 'process_resident_memory_bytes');
    assert.ok(hostOnly.some((s) => s.startsWith('the server\'s memory') && s.includes('process_resident_memory_bytes')));
    const serverOnly = unseenFrom(readRemote([promClient]), 'process_resident_memory_bytes');
    assert.ok(serverOnly.some((s) => s.startsWith('the host: no node_exporter')));
  });
});

describe('source ports toward a remote server', () => {
  it('plan outside the ephemeral range, where the scrapes\' own connections take theirs', () => {
    assert.deepEqual(remotePortBlock({ first: 32768, last: 60999 }), { first: 10000, last: 32767 });
    assert.deepEqual(remotePortBlock({ first: 1024, last: 40000 }), { first: 40001, last: 65000 });
    assert.deepEqual(remotePortBlock(undefined), { first: 10000, last: 32767 }, 'Linux\'s default when unknown');
    assert.deepEqual([0, 1, 2, 3].map((i) => remoteStepPorts(i, 4, { first: 32768, last: 60999 })),
      [{ first: 10000, last: 15691 }, { first: 15692, last: 21383 }, { first: 21384, last: 27075 }, { first: 27076, last: 32767 }]);
  });

  it('refuses more connections per step than its ports, before anything starts', () => {
    const remote = { metricsUrls: ['http://198.18.0.1:9100/metrics'] };
    const dest = [{ ip: 0xc6120001, port: 8080 }];
    const code = (f: () => void): string | undefined => {
      try {
        f();
        return undefined;
      } catch (e) {
        return (e as { code?: string }).code;
      }
    };
    assert.equal(code(() => checkTargetOptions({ destinations: dest, connections: 22_000, steps: 4, remote })), undefined);
    assert.equal(code(() => checkTargetOptions({ destinations: dest, connections: 30_000, steps: 4, remote })), 'CONNLAB_ERR_INVALID_ARGUMENT');
    assert.equal(code(() => checkTargetOptions({ destinations: dest, connections: 30_000, steps: 4 })), 'CONNLAB_ERR_INVALID_ARGUMENT', 'not loopback, no --server-metrics');
  });
});

describe('bounded scrapes', () => {
  let server: http.Server;
  let base = '';
  before(async () => {
    server = http.createServer((req, res) => {
      if (req.url === '/metrics') res.end('up 1\n');
      else if (req.url === '/huge') {
        res.writeHead(200);
        const chunk = Buffer.alloc(64 * 1024, 'a');
        let sent = 0;
        const pump = (): void => {
          while (sent < 64 && res.write(chunk)) sent += 1;
          if (sent < 64) res.once('drain', pump);
          else res.end();
        };
        pump();
      } else if (req.url === '/slow') setTimeout(() => res.end('up 1\n'), 5_000).unref();
      else res.writeHead(404).end();
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const address = server.address();
    base = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`;
  });
  after(() => {
    server.closeAllConnections();
    server.close();
  });

  it('reads a good endpoint', async () => {
    const s = await scrapeEndpoint(`${base}/metrics`);
    assert.equal(s.error, null);
    assert.deepEqual(s.series, [{ name: 'up', labels: {}, value: 1 }]);
  });

  it('gives up on a body over the cap, a slow endpoint, an HTTP error and a closed port, without throwing', async () => {
    const limits = { timeoutMs: 300, maxBytes: 1024 * 1024 };
    assert.match((await scrapeEndpoint(`${base}/huge`, limits)).error ?? '', /over 1048576 bytes/);
    assert.equal((await scrapeEndpoint(`${base}/slow`, limits)).error, 'timed out');
    assert.equal((await scrapeEndpoint(`${base}/nope`, limits)).error, 'HTTP 404');
    assert.equal((await scrapeEndpoint('http://127.0.0.1:1/metrics', limits)).error, 'ECONNREFUSED');
  });
});
