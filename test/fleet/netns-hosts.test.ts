// Three load shards on three separate hosts (network namespaces) against serve on a
// fourth, then merge: the fleet end to end on one machine, with the kernel as witness.

import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import hdr from 'hdr-histogram-js';
import { main } from '../../src/cli/main.ts';
import { LatencyRecorder } from '../../src/engine/latency.ts';
import type { LoadResult } from '../../src/load/load.ts';
import { recordingIo } from '../helpers/io.ts';
import { connlabIn, establishedIn, leftoverNamespaces, withHosts, type NetnsHost, type Spawned } from '../helpers/netns.ts';

const N = 3000;
const PORT = 46000;

async function until<T>(what: string, timeoutMs: number, probe: () => Promise<T | undefined>): Promise<T> {
  const end = Date.now() + timeoutMs;
  while (Date.now() < end) {
    const value = await probe();
    if (value !== undefined) return value;
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  throw new Error(`timed out waiting for ${what}`);
}

/** Every sample a histogram holds, at its resolution, as a flat list (µs). */
function samplesOf(encoded: string): number[] {
  const h = hdr.decodeFromCompressedBase64(encoded) as unknown as { recordedValuesIterator: { reset(): void; hasNext(): boolean; next(): { valueIteratedTo: number; countAtValueIteratedTo: number } } };
  const it = h.recordedValuesIterator;
  it.reset();
  const out: number[] = [];
  while (it.hasNext()) {
    const v = it.next();
    for (let k = 0; k < v.countAtValueIteratedTo; k++) out.push(v.valueIteratedTo);
  }
  return out;
}

async function runFleet(hosts: NetnsHost[], dir: string): Promise<void> {
  const [serveHost, ...shardHosts] = hosts as [NetnsHost, ...NetnsHost[]];
  const serve = connlabIn(serveHost, ['serve', '--listen', `${serveHost.address}:${PORT}`, '--connections', String(N), '--duration', '60s', '--json']);
  await until('serve to listen', 20_000, async () => (serve.stderr().includes('serving on') ? true : undefined));
  const startAt = ((Date.now() + 2000) / 1000).toFixed(3);
  const shards: Spawned[] = shardHosts.map((_, i) => connlabIn(shardHosts[i]!,
    ['load', `${serveHost.address}:${PORT}`, '-c', String(N), '--protocol', 'connlab', '--shard', `${i + 1}/3`, '--start-at', startAt, '--duration', '4s', '--ping', '1s', '--json']));

  // The kernel's word, while they hold: serve's socket table has exactly N distinct tuples,
  // each from a shard's own address, each shard's share.
  const rows = await until('N established at serve', 60_000, async () => {
    const r = await establishedIn(serveHost);
    return r.length >= N ? r : undefined;
  });
  assert.equal(rows.length, N);
  assert.equal(new Set(rows.map(([local, peer]) => `${local}>${peer}`)).size, N, 'no four-tuple twice');
  const byPeer = new Map<string, number>();
  for (const [local, peer] of rows) {
    assert.equal(local, `${serveHost.address}:${PORT}`);
    const address = peer.slice(0, peer.lastIndexOf(':'));
    byPeer.set(address, (byPeer.get(address) ?? 0) + 1);
  }
  assert.deepEqual(Object.fromEntries(byPeer), Object.fromEntries(shardHosts.map((h) => [h.address, N / 3])));
  for (const host of shardHosts) {
    const own = await establishedIn(host);
    assert.equal(own.length, N / 3, `${host.label} holds its share`);
    assert.ok(own.every(([local]) => local.startsWith(`${host.address}:`)), `${host.label} used only its own address`);
  }

  const codes = await Promise.all(shards.map((s) => s.exited));
  assert.deepEqual(codes, [0, 0, 0], shards.map((s) => s.stderr()).join('\n'));
  const files = shards.map((s, i) => {
    const file = join(dir, `shard-${i + 1}.json`);
    writeFileSync(file, s.stdout());
    return file;
  });
  const results = shards.map((s) => JSON.parse(s.stdout()) as LoadResult);
  assert.deepEqual(results.map((r) => r.connections.established), [1000, 1000, 1000]);

  const io = recordingIo();
  assert.equal(await main(['merge', ...files, '--json'], io), 0, io.err());
  const merged = JSON.parse(io.out()) as LoadResult;
  assert.deepEqual(merged.connections, { target: N, established: N, verified: N, peak: N, silent: 0 });
  // The merge's percentiles are those of all shards' samples recorded as one.
  const all = new LatencyRecorder();
  all.record(results.flatMap((r) => samplesOf(r.histograms.connect_us)));
  const expected = all.summaryMs();
  assert.equal(merged.ramp.connect_ms.count, N);
  assert.deepEqual([merged.ramp.connect_ms.p50, merged.ramp.connect_ms.p99], [expected.p50, expected.p99]);
  assert.equal(merged.ramp.connect_ms.max, Math.max(...results.map((r) => r.ramp.connect_ms.max)));

  serve.child.kill('SIGTERM');
  assert.equal(await serve.exited, 0, serve.stderr());
  assert.equal(JSON.parse(serve.stdout()).connections.peak, N);
}

describe('three load shards on three hosts (network namespaces) against serve on a fourth', () => {
  it('hold exactly N, never share a four-tuple, each from its own address, and merge exactly', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'connlab-fleet-'));
    try {
      await withHosts(['serve', 's1', 's2', 's3'], (hosts) => runFleet(hosts, dir));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
    assert.deepEqual(await leftoverNamespaces(), [], 'every namespace removed');
  });
});
