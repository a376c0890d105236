import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { createHostReader } from '../../src/limits/host-reader.ts';
import { FALLBACK_KERNEL_BYTES_PER_SOCKET, readHostSnapshot } from '../../src/limits/snapshot.ts';
import { errorCode } from '../helpers/errors.ts';
import { fixtureRoot } from '../helpers/io.ts';

const snapshot = (name: string, user = 'dev', groups: string[] = []) =>
  readHostSnapshot(createHostReader(fixtureRoot(name)), { user, groups });

describe('host snapshots from fixture trees', () => {
  it('reads this machine: 20,000 descriptors, the default port range, slab-measured sockets', () => {
    const host = snapshot('this-machine');
    assert.equal(host.fds.processSoft, 20000);
    assert.equal(host.fds.processHard, 20000);
    assert.equal(host.fds.fileMax, 2466186);
    assert.deepEqual(host.ports.range, { first: 32768, last: 60999 });
    assert.equal(host.cpus, 2);
    assert.equal(host.socketCost.source, 'slabinfo');
    // TCP 2,521 + sock_inode_cache 862 + filp 195 + dentry 195 + eventpoll_epi 128, padding included
    assert.equal(host.socketCost.kernelBytesPerSocket, 3901);
    assert.deepEqual(host.conntrack, { max: 262144, count: 0 });
  });

  it('falls back to a stated per-socket cost when slabinfo is unreadable, and sees no conntrack', () => {
    const host = snapshot('laptop');
    assert.equal(host.socketCost.source, 'fallback');
    assert.equal(host.socketCost.kernelBytesPerSocket, FALLBACK_KERNEL_BYTES_PER_SOCKET);
    assert.equal(host.conntrack, undefined);
    assert.equal(host.fds.processSoft, 1024);
    assert.equal(host.fds.user, undefined);
  });

  it('applies limits.conf the way pam_limits does: * never covers root, the user beats @group', () => {
    assert.deepEqual(snapshot('million-server', 'dev').fds.user?.soft, 1100000);
    assert.deepEqual(snapshot('million-server', 'root').fds.user?.hard, 1100000);
    const web = snapshot('conntrack-host', 'web', ['web']).fds.user;
    assert.equal(web?.soft, 16384);
    assert.equal(web?.hard, 65536);
    assert.equal(snapshot('conntrack-host', 'other', ['web']).fds.user?.soft, 32768);
    assert.equal(snapshot('conntrack-host', 'other', []).fds.user, undefined);
  });

  it('reads reserved ports and a tracking conntrack table', () => {
    const host = snapshot('conntrack-host');
    assert.deepEqual(host.ports.reserved, [{ first: 40000, last: 40999 }]);
    assert.deepEqual(host.conntrack, { max: 65536, count: 12000 });
    assert.equal(host.backlog.somaxconn, 128);
  });

  it('refuses a tree with no /proc at all with the unreadable-proc code', () => {
    const empty = mkdtempSync(join(tmpdir(), 'connlab-empty-'));
    try {
      assert.equal(errorCode(() => readHostSnapshot(createHostReader(empty))), 'CONNLAB_ERR_PROC_UNREADABLE');
    } finally {
      rmSync(empty, { recursive: true });
    }
  });

  it('reads the live host without throwing and finds its descriptor limit', () => {
    const host = readHostSnapshot(createHostReader('/'), { user: 'root' });
    assert.ok((host.fds.processSoft ?? 0) > 0);
    assert.ok((host.memory.availableBytes ?? 0) > 0);
  });
});
