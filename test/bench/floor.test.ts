import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { once } from 'node:events';
import { describe, it } from 'node:test';
import { promisify } from 'node:util';
import { buildFloor, compareWithFloor, freePortRun, runFloor, type FloorResult } from '../../bench/floor/floor.ts';
import { reportedKib, settle, touchMicrosPerPage, withMemoryTax } from '../../bench/floor/vm-memory.ts';

const run = promisify(execFile);

/** Floor processes still alive (children of a run that should have ended them). */
async function floorProcesses(): Promise<number> {
  const { stdout } = await run('ps', ['-eo', 'args']);
  return stdout.split('\n').filter((line) => line.startsWith(`${process.cwd()}/build/floor/floor `) || line.startsWith('build/floor/floor ')).length;
}

describe('the kernel-floor program', () => {
  it('delivers one frame on every connection over P process pairs and reports the latency', async () => {
    const port = await freePortRun(3, 49100, 49199);
    const result = await runFloor({ connections: 3000, processesPerSide: 3, port, timeoutSeconds: 60 });
    assert.equal(result.schema, 'connlab.floor/1');
    assert.equal(result.connections, 3000);
    assert.equal(result.processes_per_side, 3);
    assert.equal(result.broadcast.delivered, 3000);
    assert.ok(result.broadcast.p50_ms <= result.broadcast.p99_ms && result.broadcast.p99_ms <= result.broadcast.max_ms);
    assert.ok(result.broadcast.max_ms <= result.broadcast.total_ms + 0.001);
    // Each frame's own write comes after the process's stamp: delivery is the smaller part.
    assert.ok(result.delivery.max_ms <= result.broadcast.max_ms);
  });

  it('fails with an error, and leaves no process behind, when a listening port is taken', async () => {
    const port = await freePortRun(2, 49200, 49299);
    const squatter = createServer().listen(port + 1, '127.0.0.1');
    await once(squatter, 'listening');
    try {
      await assert.rejects(runFloor({ connections: 200, processesPerSide: 2, port, timeoutSeconds: 20 }), /error/);
    } finally {
      squatter.close();
    }
    assert.equal(await floorProcesses(), 0);
  });

  it('refuses more connections per process than the descriptor limit allows (usage, exit 2)', async () => {
    const binary = await buildFloor();
    const error = await run(binary, ['10000000', '1', '49300', '5']).catch((e: { code: number }) => e);
    assert.equal((error as { code: number }).code, 2);
  });
});

describe('connlab beside the floor (bench:floor\'s ratios)', () => {
  const round = (connectSeconds: number, p99: number): FloorResult => ({
    schema: 'connlab.floor/1', connections: 1000, processes_per_side: 2, connect_seconds: connectSeconds,
    broadcast: { p50_ms: p99 / 2, p99_ms: p99, max_ms: p99 * 2, delivered: 1000, total_ms: p99 * 2 }, delivery: { p50_ms: 1, p99_ms: 2, max_ms: 3 },
  });

  it('divides the ramp by the median round\'s connect seconds and the broadcast by the median-p99 round', () => {
    const floors = [round(4, 300), round(2, 100), round(3, 200)];
    const compared = compareWithFloor({ ramp: { seconds: 3.75 }, broadcast: { p50_ms: 150, p99_ms: 240, max_ms: 500 } }, floors);
    assert.equal(compared.floor_connect_seconds, 3);
    assert.equal(compared.floor.broadcast.p99_ms, 200);
    assert.deepEqual(compared.ratio, { connect: 1.25, p50: 1.5, p99: 1.2, max: 1.25 });
  });

  it('says null where the floor measured nothing, and refuses no rounds at all', () => {
    const compared = compareWithFloor({ ramp: { seconds: 1 }, broadcast: { p50_ms: 1, p99_ms: 1, max_ms: 1 } }, [round(0, 0)]);
    assert.deepEqual(compared.ratio, { connect: null, p50: null, p99: null, max: null });
    assert.throws(() => compareWithFloor({ ramp: { seconds: 1 }, broadcast: { p50_ms: 1, p99_ms: 1, max_ms: 1 } }, []));
  });
});

describe('the VM memory readings beside each phase (bench/floor/vm-memory.ts)', () => {
  it('reads page reporting where the VM has it, times a first touch, and passes the phase through', async () => {
    let file: number | null = null;
    try {
      file = Number(readFileSync('/sys/module/page_reporting/parameters/reported_kib', 'utf8'));
    } catch { /* no page reporting on this machine: reportedKib() must say so */ }
    const kib = reportedKib();
    if (file === null) assert.equal(kib, null);
    else assert.ok(kib !== null && kib >= file, `${kib} >= ${file}: the counter only grows`);
    const touch = touchMicrosPerPage(8);
    assert.ok(Number.isFinite(touch) && touch > 0, String(touch));
    const { value, memory } = await withMemoryTax(async () => 'the phase');
    assert.equal(value, 'the phase');
    assert.ok(memory.touch_us_per_page_before > 0);
    if (kib === null) assert.equal(memory.reported_mib_during, null);
    else assert.ok(memory.reported_mib_during !== null && memory.reported_mib_during >= 0);
  });

  it('settles: waits for page reporting to stay quiet for the given time, bounded, and at once without it', async () => {
    const settled = await settle(300, 3_000, 50);
    if (reportedKib() === null) {
      assert.deepEqual(settled, { waited_s: 0, reported_mib: 0 });
    } else {
      assert.ok(settled.waited_s >= 0.3 && settled.waited_s <= 3.5, `waited ${settled.waited_s} s`);
      assert.ok(settled.reported_mib >= 0);
    }
    const { memory } = await withMemoryTax(async () => 0, true);
    assert.ok(memory.settled !== undefined);
  });
});
