// The C worker reports latency as a Node worker does (messages.ts EncodedLatency): HDR
// histograms in hdr-histogram-js's compressed V2 encoding, never raw samples, so the
// supervisor adds buckets instead of recording connects one by one. native/worker/hdr.c
// is checked byte for byte against hdr-histogram-js (built under sanitizers with its
// test-only driver, hdr-check.c), and the real program's report is read off its channel.

import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { inflateSync } from 'node:zlib';
import { after, before, describe, it } from 'node:test';
import hdr from 'hdr-histogram-js';
import { cStartMessage, tuplesMessage } from '../../src/engine/c-worker-process.ts';
import { LatencyEncoder, LatencyMerger } from '../../src/engine/latency.ts';
import { createTupleCursor } from '../../src/tuple/plan.ts';
import { parseIpv4 } from '../../src/tuple/address.ts';
import { rawWorker } from '../helpers/c-worker.ts';
import { freePort } from '../helpers/net.ts';

const run = promisify(execFile);
const WORKER_SRC = new URL('../../native/worker/', import.meta.url).pathname;

/** What the C encoder writes for these samples (the hdr-check driver on stdin). */
async function cEncode(bin: string, samples: readonly number[]): Promise<string> {
  const child = spawn(bin, [], { stdio: ['pipe', 'pipe', 'inherit'] });
  let out = '';
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => (out += chunk));
  child.stdin.end(samples.join(' '));
  const [code] = (await once(child, 'exit')) as [number | null];
  assert.equal(code, 0);
  return out;
}

/** The uncompressed V2 bytes inside a compressed encoding: cookie, length, zlib stream. */
function v2Bytes(encoded: string): Buffer {
  const bytes = Buffer.from(encoded, 'base64');
  assert.equal(bytes.readUInt32BE(0), 0x1c849314);
  assert.equal(bytes.readUInt32BE(4), bytes.byteLength - 8);
  return inflateSync(bytes.subarray(8));
}

function jsEncode(samples: readonly number[]): string {
  const encoded = new LatencyEncoder().encodeDelta({ connectUs: Uint32Array.from(samples), rttUs: new Uint32Array(0), broadcastUs: new Uint32Array(0) });
  assert.ok(encoded.connectUs);
  return encoded.connectUs;
}

function spread(seed: number, count: number): number[] {
  let x = seed;
  return Array.from({ length: count }, () => {
    x = (x * 1103515245 + 12345) >>> 0;
    return (x >>> 3) % 10 ** (1 + (x % 9)); // 1 µs .. 10 minutes, every magnitude
  });
}

describe('the C worker\'s HDR encoding (native/worker/hdr.c)', () => {
  let dir = '';
  let bin = '';
  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'connlab-engine-hdr-'));
    bin = join(dir, 'hdr-check');
    await run('cc', ['-std=gnu11', '-g', '-O1', '-fsanitize=address,undefined', '-fno-sanitize-recover=all', '-D_GNU_SOURCE', '-Wall', '-Wextra', '-Werror',
      '-o', bin, ...['hdr-check.c', 'hdr.c', 'json.c', 'base64.c'].map((f) => join(WORKER_SRC, f))]);
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  const cases: [string, number[]][] = [
    ['one sample', [1234]],
    ['the bucket edges, 0 and values past an hour (clamped as the Node encoder clamps)', [0, 1, 2, 1023, 1024, 1025, 2047, 2048, 2049, 4095, 4096, 3_600_000_000, 3_600_000_001, 4_294_967_295]],
    ['one value thousands of times (counts past one LEB128 byte)', Array.from({ length: 5000 }, () => 777)],
    ['adjacent buckets and single empty buckets between them', [2048, 2050, 2052, 2056, 2058, 2060, 2066]],
    ['50,000 samples over every magnitude, unsorted', spread(7, 50_000)],
  ];
  for (const [what, samples] of cases) {
    it(`writes the bytes hdr-histogram-js writes for ${what}`, async () => {
      const c = await cEncode(bin, samples);
      assert.deepEqual(v2Bytes(c), v2Bytes(jsEncode(samples)));
      const decoded = hdr.decodeFromCompressedBase64(c);
      assert.equal(decoded.totalCount, samples.length);
    });
  }

  it('merges with Node workers\' histograms into the percentiles of all samples together', async () => {
    const a = spread(1, 3000);
    const b = spread(2, 4000);
    const merged = new LatencyMerger();
    merged.add({ latency: { connectUs: await cEncode(bin, a) } });
    merged.add({ latency: { connectUs: jsEncode(b) } });
    const together = new LatencyMerger();
    together.add({ latency: { connectUs: jsEncode([...a, ...b]) } });
    assert.deepEqual(merged.connectUs.summaryMs(), together.connectUs.summaryMs());
  });
});

describe('the C worker\'s report', () => {
  it('carries the ramp\'s connect latency as one encoded histogram and no raw samples', async () => {
    const N = 200;
    const port = await freePort();
    const sockets = new Set<net.Socket>();
    const server = net.createServer((s) => sockets.add(s.on('error', () => {})));
    server.listen({ host: '127.0.0.1', port, backlog: 512 });
    await once(server, 'listening');
    const worker = await rawWorker();
    try {
      const loopback = parseIpv4('127.0.0.1') ?? 0;
      const plan = { connections: N, destinations: [{ ip: loopback, port }], sourceIps: undefined, sourcePorts: 'kernel' as const, workers: 1, kernelPoolSize: 28_232 };
      const start = cStartMessage({ role: 'client', holder: 'native', plan, slice: { worker: 0, start: 0, count: N }, ratePerSec: null, maxPending: 64, connectTimeoutMs: 10_000, reportIntervalMs: 60_000 });
      const tuples = tuplesMessage(createTupleCursor(plan, { start: 0, count: N }));
      worker.write(`${JSON.stringify(start)}\n${JSON.stringify(tuples)}\n`);
      await worker.message('ramped');
      worker.write('{"type":"report"}\n');
      await worker.message('report');
      const reports = (await worker.lines()).map((line) => JSON.parse(line) as Record<string, unknown>).filter((m) => m.type === 'report');
      const merger = new LatencyMerger();
      for (const report of reports) {
        assert.equal(report.samples, undefined);
        assert.deepEqual(Object.keys(report.latency as object), ['connectUs']);
        merger.add(report as { latency: Record<string, string> });
      }
      assert.equal(merger.connectUs.count, N);
    } finally {
      worker.cleanup();
      for (const s of sockets) s.destroy();
      server.close();
    }
  });
});
