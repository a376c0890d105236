import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { counterDelta, readNetstatCounters } from '../../src/probe/netstat.ts';
import { parseSmapsRollup, readProcessMemory } from '../../src/probe/process-memory.ts';

describe('process memory', () => {
  it('counts private memory as Private_Clean + Private_Dirty, not RSS', () => {
    const memory = parseSmapsRollup('Rss:               45000 kB\nPss:               20000 kB\nPrivate_Clean:       172 kB\nPrivate_Dirty:      8160 kB\n');
    assert.deepEqual(memory, { rssBytes: 45000 * 1024, pssBytes: 20000 * 1024, privateBytes: 8332 * 1024, privateDirtyBytes: 8160 * 1024 });
  });

  it('reads this process, and nothing for a process that does not exist', async () => {
    const self = await readProcessMemory('self');
    assert.ok(self && self.privateBytes > 0 && self.rssBytes >= self.privateBytes);
    assert.equal(await readProcessMemory(2 ** 22 + 1), undefined);
  });

  it('reads the kernel\'s listen-queue counters and their change', async () => {
    const before = await readNetstatCounters();
    assert.equal(typeof before['TcpExt.ListenOverflows'], 'number');
    const after = { ...before, 'TcpExt.ListenOverflows': before['TcpExt.ListenOverflows'] + 3 };
    assert.equal(counterDelta(before, after)['TcpExt.ListenOverflows'], 3);
  });
});
