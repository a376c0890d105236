import assert from 'node:assert/strict';
import { cpSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, it } from 'node:test';
import type { Advice } from '../../src/limits/advice.ts';
import { applySysctlChanges, planSysctlChanges } from '../../src/limits/apply.ts';
import { createHostReader } from '../../src/limits/host-reader.ts';
import { errorCode } from '../helpers/errors.ts';
import { fixtureRoot } from '../helpers/io.ts';

const advice = (name: string, value: string): Advice => ({
  limit: 'system_fds', kind: 'sysctl', line: `sysctl -w ${name}="${value}"`, why: 'test', sysctl: { name, value },
});

describe('applying sysctl advice to a copied host tree', () => {
  let root = '';
  beforeEach(() => {
    root = mkdtempSync(join(tmpdir(), 'connlab-apply-'));
    cpSync(fixtureRoot('this-machine'), root, { recursive: true });
  });
  afterEach(() => rmSync(root, { recursive: true, force: true }));

  it('plans only the settings that differ, with their values now', () => {
    const changes = planSysctlChanges(
      [advice('fs.file-max', '2200000'), advice('net.ipv4.ip_local_port_range', '32768   60999'), advice('fs.file-max', '2200000')],
      createHostReader(root),
    );
    assert.deepEqual(changes, [{ name: 'fs.file-max', from: '2466186', to: '2200000' }]);
  });

  it('writes exactly the planned values', () => {
    const changes = planSysctlChanges([advice('net.core.somaxconn', '65535')], createHostReader(root));
    applySysctlChanges(changes, root);
    assert.equal(readFileSync(join(root, 'proc/sys/net/core/somaxconn'), 'utf8'), '65535\n');
  });

  it('fails with the sysctl-write code when a setting cannot be written', () => {
    const missing = [{ name: 'net.nonexistent.knob', from: undefined, to: '1' }];
    assert.equal(errorCode(() => applySysctlChanges(missing, join(root, 'no-such-dir'))), 'CONNLAB_ERR_SYSCTL_WRITE');
  });
});
