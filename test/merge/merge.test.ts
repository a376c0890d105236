import assert from 'node:assert/strict';
import { emptyClosed } from '../../src/engine/aggregate.ts';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import type { BenchResult } from '../../src/bench/result.ts';
import { main } from '../../src/cli/main.ts';
import { LatencyRecorder } from '../../src/engine/latency.ts';
import type { LoadResult } from '../../src/load/load.ts';
import { mergeResults, type MergedLoadResult } from '../../src/merge/merge.ts';
import { errorCode } from '../helpers/errors.ts';
import { recordingIo } from '../helpers/io.ts';

/** Deterministic, wide-ranged samples (µs): a few slow ones so p99 and max differ from p50. */
function samples(seed: number, n: number): number[] {
  let x = seed;
  return Array.from({ length: n }, () => {
    x = (x * 1_103_515_245 + 12_345) % 2 ** 31;
    return x % 100 === 0 ? 200_000 + (x % 5_000_000) : 50 + (x % 20_000);
  });
}

function loadResult(index: number, count: number, connect: number[], rtt: number[]): LoadResult {
  const rec = (values: number[]) => {
    const r = new LatencyRecorder();
    r.record(values);
    return r;
  };
  const c = rec(connect);
  const p = rec(rtt);
  const b = rec([]);
  return {
    schema: 'connlab.load/1',
    connections: { target: 100, established: connect.length, verified: rtt.length, peak: connect.length, silent: 0 },
    protocol: 'connlab',
    ramp: { seconds: 1 + index, per_second: 10, connect_ms: c.summaryMs() },
    ping: { rtt_ms: p.summaryMs() },
    broadcast: { received: 0, latency_ms: b.summaryMs() },
    errors: index === 0 ? { EADDRNOTAVAIL: 2 } : { EADDRNOTAVAIL: 1, ECONNRESET: 4 },
    explained: [],
    closed: { ...emptyClosed(), peer: index, reset: 1 },
    deaths: [],
    closed_early: 0,
    codes: { http_status: {}, ws_close: {}, mqtt_connack: {} },
    protocol_bytes: [],
    tls: null,
    worker_runtime: 'c',
    processes: { load: 2 },
    plan: { strategy: 'planned', connections: connect.length, capacity: 1e6, source_ips: 1, source_port_count: 55000, destinations: 1, source_ports: '10000-65000', shard: { index, count, total: 300 }, sourceIps: 1, sourcePorts: 55000 },
    memory: { load_private_bytes: 1000 * (index + 1), load_user_bytes_per_connection: null },
    holder: 'native',
    histograms: { connect_us: c.encode(), rtt_us: p.encode(), broadcast_us: b.encode() },
  };
}

describe('merging load results', () => {
  const parts = [0, 1, 2].map((i) => ({ connect: samples(i + 1, 1000 + 37 * i), rtt: samples(i + 11, 900 + i) }));
  const inputs = parts.map((p, i) => ({ label: `shard-${i + 1}.json`, result: loadResult(i, 3, p.connect, p.rtt) }));

  it('gives the percentiles of one histogram over the concatenated samples, exactly', () => {
    const merged = mergeResults(inputs, 'test') as MergedLoadResult;
    const all = new LatencyRecorder();
    all.record(parts.flatMap((p) => p.connect));
    const allRtt = new LatencyRecorder();
    allRtt.record(parts.flatMap((p) => p.rtt));
    assert.deepEqual(merged.ramp.connect_ms, all.summaryMs());
    assert.deepEqual(merged.ping.rtt_ms, allRtt.summaryMs());
    // Not what averaging the shards' percentiles gives: the test can tell the two apart.
    const meanP99 = inputs.reduce((s, i) => s + i.result.ramp.connect_ms.p99, 0) / 3;
    assert.notEqual(merged.ramp.connect_ms.p99, meanP99);
  });

  it('adds counts, errors, closes, processes and memory, and re-encodes the sum', () => {
    const merged = mergeResults(inputs, 'test') as MergedLoadResult;
    assert.deepEqual(merged.connections, { target: 300, established: 3111, verified: 2703, peak: 3111, silent: 0 });
    assert.deepEqual(merged.errors, { EADDRNOTAVAIL: 4, ECONNRESET: 8 });
    assert.deepEqual(merged.explained.map((e) => [e.errno, e.cause, e.count]), [['ECONNRESET', 'server', 8], ['EADDRNOTAVAIL', 'ephemeral_ports', 4]]);
    assert.equal(merged.closed.peer, 3);
    assert.equal(merged.closed.reset, 3);
    assert.equal(merged.processes.load, 6);
    assert.equal(merged.memory.load_private_bytes, 6000);
    assert.equal(merged.ramp.seconds, 3);
    assert.deepEqual(merged.merged.missing_shards, []);
    assert.deepEqual(merged.merged.parts.map((p) => p.shard), ['1/3', '2/3', '3/3']);
    // A merge of merges is the same merge.
    const again = mergeResults([{ label: 'm', result: merged }], 'test') as MergedLoadResult;
    assert.deepEqual(again.ramp.connect_ms, merged.ramp.connect_ms);
  });

  it('names missing shards and refuses a shard twice, mixed schemas and results without histograms', () => {
    assert.deepEqual((mergeResults([inputs[0]!, inputs[2]!], 't') as MergedLoadResult).merged.missing_shards, [2]);
    assert.equal(errorCode(() => mergeResults([inputs[0]!, inputs[0]!], 't')), 'CONNLAB_ERR_INVALID_ARGUMENT');
    const { histograms: _h, ...old } = inputs[1]!.result;
    assert.equal(errorCode(() => mergeResults([inputs[0]!, { label: 'old', result: old as LoadResult }], 't')), 'CONNLAB_ERR_INVALID_ARGUMENT');
    const bench = JSON.parse(readFileSync(new URL('../fixtures/bench-result.json', import.meta.url), 'utf8')) as BenchResult;
    assert.equal(errorCode(() => mergeResults([inputs[0]!, { label: 'b', result: bench }], 't')), 'CONNLAB_ERR_INVALID_ARGUMENT');
    assert.equal(errorCode(() => mergeResults([{ label: 'x', result: { schema: 'other' } as unknown as LoadResult }], 't')), 'CONNLAB_ERR_INVALID_ARGUMENT');
  });
});

describe('the merged load report', () => {
  it('shows each part and the exact percentiles, every marked number equal to the JSON', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'connlab-merge-'));
    try {
      const files = [0, 1, 2].map((i) => {
        const file = join(dir, `shard-${i + 1}.json`);
        writeFileSync(file, JSON.stringify(loadResult(i, 3, samples(i + 1, 500), samples(i + 7, 400))));
        return file;
      });
      const io = recordingIo();
      assert.equal(await main(['merge', ...files, '--json', '--report', join(dir, 'r.html')], io), 0, io.err());
      const merged = JSON.parse(io.out()) as MergedLoadResult;
      const html = readFileSync(join(dir, 'r.html'), 'utf8');
      assert.match(html, /connlab load report/);
      assert.match(html, /shard 2\/3/);
      const fields = [...html.matchAll(/data-field="([^"]+)">([^<]*)</g)].map((m) => [m[1] ?? '', m[2] ?? ''] as const);
      assert.ok(fields.length > 15);
      const at = (path: string): unknown => path.split('.').reduce<unknown>((o, k) => (o as Record<string, unknown>)[k], merged);
      for (const [path, text] of fields) {
        const value = at(path);
        assert.ok(text.replace(/[^\d.]/g, '').startsWith(String(value).replace(/[^\d.]/g, '').slice(0, 3)), `${path}: ${text} vs ${String(value)}`);
      }
      assert.ok(html.includes(`data-field="ramp.connect_ms.count">${merged.ramp.connect_ms.count.toLocaleString('en-US')}<`));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('refuses no files, and files that are not results', async () => {
    const io = recordingIo();
    assert.equal(await main(['merge'], io), 2);
    assert.match(io.err(), /CONNLAB_ERR_USAGE/);
    const other = recordingIo();
    assert.equal(await main(['merge', '/nonexistent/x.json'], other), 2);
    assert.match(other.err(), /CONNLAB_ERR_INVALID_ARGUMENT/);
  });
});

describe('merging bench results', () => {
  it('adds connections and timelines and renders with the bench report', async () => {
    const bench = JSON.parse(readFileSync(new URL('../fixtures/bench-result.json', import.meta.url), 'utf8')) as BenchResult;
    const c = new LatencyRecorder();
    c.record(samples(5, 500));
    const withHistograms: BenchResult = { ...bench, histograms: { connect_us: c.encode(), rtt_us: c.encode(), broadcast_us: c.encode() } };
    const dir = mkdtempSync(join(tmpdir(), 'connlab-merge-'));
    try {
      for (const name of ['a', 'b']) writeFileSync(join(dir, `${name}.json`), JSON.stringify(withHistograms));
      const io = recordingIo();
      const status = await main(['merge', join(dir, 'a.json'), join(dir, 'b.json'), '--json', '--report', join(dir, 'r.html')], io);
      assert.equal(status, 0, io.err());
      const merged = JSON.parse(io.out()) as BenchResult;
      assert.equal(merged.connections.established, 2 * bench.connections.established);
      assert.equal(merged.timeline[3]?.kernel_sockets, 2 * (bench.timeline[3]?.kernel_sockets ?? 0));
      assert.equal(merged.ramp.connect_ms.count, 1000);
      assert.equal(merged.memory.server_user_bytes_per_connection, bench.memory.server_user_bytes_per_connection);
      const html = readFileSync(join(dir, 'r.html'), 'utf8');
      assert.match(html, /connlab bench report/);
      assert.match(html, new RegExp(`data-field="connections.established">${(2 * bench.connections.established).toLocaleString('en-US')}<`));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
