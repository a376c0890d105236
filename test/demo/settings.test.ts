import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { normalizeSetting, SettingsGuard } from '../../src/demo/settings.ts';

const RANGE = 'net.ipv4.ip_local_port_range';
const readRange = (): string => normalizeSetting(readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8'));

describe('the settings guard', () => {
  it('changes a sysctl, restores it, and reads it back to say so', () => {
    const original = readRange();
    const guard = new SettingsGuard();
    try {
      guard.set(RANGE, '61000 61999');
      assert.equal(readRange(), '61000 61999');
    } finally {
      const [record] = guard.restore();
      assert.deepEqual(record, { name: RANGE, from: original, to: '61000 61999', after: original, restored: true });
    }
    assert.equal(readRange(), original);
    assert.equal(guard.restored, true);
  });

  it('restores the first value when a setting is changed twice, also after a throw', () => {
    const original = readRange();
    const guard = new SettingsGuard();
    assert.throws(() => {
      try {
        guard.set(RANGE, '61000 61999');
        guard.set(RANGE, '62000 62999');
        throw new Error('midway');
      } finally {
        guard.restore();
      }
    }, /midway/);
    assert.equal(readRange(), original);
  });

  it('restores on SIGTERM and then dies of the signal', async () => {
    const original = readRange();
    const script = `
      import { SettingsGuard } from ${JSON.stringify(new URL('../../src/demo/settings.ts', import.meta.url).href)};
      const guard = new SettingsGuard();
      let ended = false;
      guard.onAbort(() => { ended = true; });
      guard.set('${RANGE}', '61000 61999');
      process.stdout.write('changed\\n');
      setTimeout(() => process.exit(3), 10_000);`;
    const child = spawn(process.execPath, ['--input-type=module', '-e', script], { stdio: ['ignore', 'pipe', 'inherit'] });
    try {
      await once(child.stdout, 'data');
      assert.equal(readRange(), '61000 61999');
      const exited = once(child, 'exit');
      child.kill('SIGTERM');
      const [code, signal] = await exited;
      assert.deepEqual([code, signal], [null, 'SIGTERM']);
      assert.equal(readRange(), original);
    } finally {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    }
  });
});
