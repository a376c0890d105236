import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { freePort } from '../helpers/net.ts';
import { runMain as run } from '../helpers/io.ts';


describe('three load shards on one host, then merge', () => {
  it('hold exactly N together, never collide, and merge to N with the shards\' percentiles', async () => {
    const port = await freePort();
    const total = 3000;
    const serving = run(['serve', '--listen', `127.0.0.1:${port}`, '--duration', '7s', '--json']);
    await new Promise((resolve) => setTimeout(resolve, 700));
    const startAt = String((Date.now() + 1500) / 1000);
    const shards = await Promise.all([1, 2, 3].map((i) =>
      run(['load', `127.0.0.1:${port}`, '-c', String(total), '--protocol', 'connlab', '--shard', `${i}/3`, '--start-at', startAt, '--duration', '1s', '--ping', '500ms', '--json'])));
    const dir = mkdtempSync(join(tmpdir(), 'connlab-shards-'));
    try {
      const files = shards.map((s, i) => {
        assert.equal(s.status, 0, s.err);
        const result = JSON.parse(s.out);
        assert.deepEqual(result.errors, {}, 'a collision would show as EADDRINUSE');
        assert.equal(result.connections.established, [1000, 1000, 1000][i]);
        assert.deepEqual(result.plan.shard, { index: i, count: 3, total });
        const file = join(dir, `shard-${i + 1}.json`);
        writeFileSync(file, s.out);
        return file;
      });
      const merged = await run(['merge', ...files, '--json']);
      assert.equal(merged.status, 0, merged.err);
      const m = JSON.parse(merged.out);
      assert.deepEqual(m.connections, { target: total, established: total, verified: total, peak: total, silent: 0 });
      assert.deepEqual(m.merged.missing_shards, []);
      assert.equal(m.ramp.connect_ms.count, total);
      const text = await run(['merge', ...files]);
      assert.match(text.out, /merged 3 result\(s\): 3,000 of 3,000 established, 3,000 verified/);
      const serve = JSON.parse((await serving).out);
      assert.equal(serve.connections.peak, total, 'the server saw all N at once');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
