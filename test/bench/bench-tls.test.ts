// bench --tls: both ends of the bench are connlab speaking TLS (C workers with the
// system's libssl.so.3), every connection handshaken, held and verified, with the
// handshake rate and CPU cost in the result; and the pure parts it is built from.

import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { benchTlsSection, processCpuSeconds } from '../../src/bench/bench-tls.ts';
import type { BenchResult } from '../../src/bench/result.ts';

const BIN = new URL('../../bin/connlab.js', import.meta.url).pathname;

describe('bench --tls', () => {
  it('holds and verifies 2,000 TLS connections with connlab on both ends, and says what the handshakes cost', async () => {
    const { status, stdout, stderr } = await new Promise<{ status: number | null; stdout: string; stderr: string }>((resolve) => {
      execFile(process.execPath, [BIN, 'bench', '--tls', '--connections', '2k', '--hold', '1s', '--json', '--no-report'], { maxBuffer: 64 << 20 }, (error, out, err) =>
        resolve({ status: error ? (typeof error.code === 'number' ? error.code : null) : 0, stdout: out, stderr: err }));
    });
    assert.equal(status, 0, stderr);
    const r = JSON.parse(stdout) as BenchResult;
    assert.deepEqual(r.connections, { target: 2000, established: 2000, verified: 2000 });
    assert.equal(r.worker_runtime, 'c');
    assert.equal(r.broadcast.delivered, 2000);
    const t = r.tls;
    assert.ok(t, 'a tls section');
    assert.deepEqual({ load: t.handshakes.load, server: t.handshakes.server, errors: t.errors }, { load: 2000, server: 2000, errors: {} });
    assert.match(t.library ?? '', /^OpenSSL 3\./);
    assert.ok(t.handshakes_per_second > 0);
    assert.ok(t.cpu_us_per_handshake.server > 0 && t.cpu_us_per_handshake.load > 0, JSON.stringify(t));
  });
});

describe('bench --tls arithmetic', () => {
  it('reads utime + stime from /proc/PID/stat, whatever the command name holds', () => {
    const root = mkdtempSync(join(tmpdir(), 'connlab-test-stat-'));
    try {
      mkdirSync(join(root, '42'));
      // comm may hold spaces and parentheses; fields 14 and 15 are 250 and 50 ticks.
      writeFileSync(join(root, '42', 'stat'), '42 (a (b) c) S 1 42 42 0 -1 4194560 100 0 0 0 250 50 0 0 20 0 1 0 100 1000 10\n');
      assert.equal(processCpuSeconds(42, root), 3);
      assert.equal(processCpuSeconds(43, root), 0, 'a process that is gone used nothing more');
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });

  it('divides each side\'s CPU by its handshakes and the load side\'s handshakes by the ramp', () => {
    const section = benchTlsSection({ library: 'OpenSSL 3.0.19', server: 1000, load: 1000, errors: {}, rampSeconds: 2, serverCpuSeconds: 0.5, loadCpuSeconds: 0.8 });
    assert.deepEqual(section.cpu_us_per_handshake, { server: 500, load: 800, both: 1300 });
    assert.equal(section.handshakes_per_second, 500);
    assert.deepEqual(benchTlsSection({ library: null, server: 0, load: 0, errors: {}, rampSeconds: 0, serverCpuSeconds: 0, loadCpuSeconds: 0 }).cpu_us_per_handshake, { server: 0, load: 0, both: 0 });
  });
});
