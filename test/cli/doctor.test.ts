import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { cpSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { promisify } from 'node:util';
import { fixtureRoot, runMain as run } from '../helpers/io.ts';


describe('connlab doctor', () => {
  it('prints the limits table with the binding limit marked', async () => {
    const { status, out } = await run(['doctor', '--root', fixtureRoot('this-machine')]);
    assert.equal(status, 0);
    assert.match(out, /^LIMIT\s+SETTING\s+ALLOWS\s+HEADROOM\s+WHEN FULL/m);
    assert.match(out, /process_fds ◀ binds/);
    assert.match(out, /Processes needed at the per-process descriptor limit: 124 in all\./);
  });

  it('--json carries the contract keys and names the binding limit', async () => {
    const { status, out } = await run(['doctor', '--root', fixtureRoot('this-machine'), '--connections', '1m', '--role', 'both', '--json']);
    assert.equal(status, 0);
    const report = JSON.parse(out);
    assert.equal(report.schema, 'connlab.doctor/1');
    assert.equal(report.binding.name, 'process_fds');
    assert.ok(report.processes_needed >= 101);
    for (const l of report.limits) for (const key of ['name', 'value', 'allows', 'error']) assert.ok(key in l, `${l.name}.${key}`);
    assert.deepEqual(
      report.limits.map((l: { name: string }) => l.name),
      ['ephemeral_ports', 'process_fds', 'user_fds', 'system_fds', 'memory', 'backlog', 'conntrack', 'tasks'],
    );
    assert.ok(Array.isArray(report.advice) && report.advice.length > 0);
  });

  it('answers bad input with one line, a code and exit status 2', async () => {
    const cases: [string[], string][] = [
      [['doctor', '--frobnicate'], 'CONNLAB_ERR_USAGE'],
      [['doctor', '--role', 'proxy'], 'CONNLAB_ERR_INVALID_ARGUMENT'],
      [['doctor', '--source-ips', '127.0.0.300'], 'CONNLAB_ERR_INVALID_ARGUMENT'],
      [['doctor', '--targets', '127.0.0.1:70000'], 'CONNLAB_ERR_INVALID_ARGUMENT'],
      [['doctor', '--connections', 'many'], 'CONNLAB_ERR_INVALID_ARGUMENT'],
      [['doctor', '--connections', '0'], 'CONNLAB_ERR_INVALID_ARGUMENT'],
      [['doctor', '--role', 'server', '--source-ips', '127.0.0.2'], 'CONNLAB_ERR_USAGE'],
      [['doctor', '--root', '/nonexistent-connlab-root'], 'CONNLAB_ERR_PROC_UNREADABLE'],
      [['doctor', '--yes'], 'CONNLAB_ERR_USAGE'],
    ];
    for (const [args, code] of cases) {
      const { status, out, err } = await run(args);
      assert.equal(status, 2, args.join(' '));
      assert.equal(out, '');
      assert.ok(err.includes(`[${code}]`), `${args.join(' ')}: ${err}`);
      assert.ok(!err.includes('    at '), 'no stack trace');
    }
  });

  it('refuses to run on a non-Linux platform and to apply as non-root', async () => {
    assert.equal((await run(['doctor'], { platform: 'darwin' })).status, 2);
    const notRoot = await run(['doctor', '--apply'], { uid: 1000 });
    assert.equal(notRoot.status, 2);
    assert.ok(notRoot.err.includes('[CONNLAB_ERR_NOT_ROOT]'));
  });

  it('--apply shows the diff and writes nothing without --yes; with --yes it writes', async () => {
    const root = mkdtempSync(join(tmpdir(), 'connlab-doctor-apply-'));
    try {
      cpSync(fixtureRoot('conntrack-host'), root, { recursive: true });
      const somaxconn = join(root, 'proc/sys/net/core/somaxconn');
      const dry = await run(['doctor', '--root', root, '--apply'], { uid: 0 });
      assert.equal(dry.status, 0);
      assert.match(dry.out, /net\.core\.somaxconn: 128 → 65535/);
      assert.match(dry.out, /Nothing written/);
      assert.equal(readFileSync(somaxconn, 'utf8').trim(), '128');
      const wet = await run(['doctor', '--root', root, '--apply', '--yes', '--json'], { uid: 0 });
      assert.equal(wet.status, 0);
      assert.equal(JSON.parse(wet.out).applied.written, true);
      assert.match(wet.err, /net\.core\.somaxconn: 128 → 65535/);
      assert.equal(readFileSync(somaxconn, 'utf8').trim(), '65535');
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });

  it('runs for real through the bin on this host and names process_fds for the million', async () => {
    const bin = new URL('../../bin/connlab.js', import.meta.url).pathname;
    const { stdout } = await promisify(execFile)(process.execPath, [bin, 'doctor', '--connections', '1000000', '--role', 'both', '--json']);
    const report = JSON.parse(stdout);
    assert.equal(report.binding.name, 'process_fds');
    assert.ok(report.processes_needed >= 101);
  });
});

describe('connlab', () => {
  it('prints help, the version, and per-command help', async () => {
    assert.match((await run(['--help'])).out, /Commands:\n\s+doctor/);
    assert.match((await run(['--version'])).out, /^\d+\.\d+\.\d+\n$/);
    assert.match((await run(['doctor', '--help'])).out, /Examples:/);
    assert.match((await run(['help', 'doctor'])).out, /Usage: connlab doctor/);
  });

  it('rejects an unknown command with exit status 2', async () => {
    const { status, err } = await run(['frobnicate']);
    assert.equal(status, 2);
    assert.ok(err.includes('[CONNLAB_ERR_USAGE]'));
  });
});
