import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { classifyErrno, classifyErrors } from '../../src/load/classify.ts';

describe('errno classification', () => {
  it('maps each errno to the limit behind it', () => {
    const table: [string, string][] = [
      ['EADDRNOTAVAIL', 'ephemeral_ports'], ['EMFILE', 'process_fds'], ['ENFILE', 'system_fds'],
      ['ENOMEM', 'memory'], ['ENOBUFS', 'memory'], ['EADDRINUSE', 'tuple_collision'], ['ENETUNREACH', 'network'],
    ];
    for (const [errno, cause] of table) assert.equal(classifyErrno(errno).cause, cause, errno);
  });

  it('blames the backlog for refusals and time-outs only when ListenOverflows rose', () => {
    assert.equal(classifyErrno('ETIMEDOUT', { listenOverflowsRose: true }).cause, 'backlog');
    assert.equal(classifyErrno('ECONNREFUSED', { listenOverflowsRose: true }).cause, 'backlog');
    assert.equal(classifyErrno('ECONNREFUSED', { listenOverflowsRose: false }).cause, 'server');
    assert.equal(classifyErrno('ETIMEDOUT', { listenOverflowsRose: false }).cause, 'network');
    assert.equal(classifyErrno('EWHATEVER').cause, 'unknown');
  });

  it('orders a table by count and drops zeros', () => {
    assert.deepEqual(
      classifyErrors({ EMFILE: 2, EADDRNOTAVAIL: 9, ENFILE: 0 }).map((c) => [c.errno, c.count]),
      [['EADDRNOTAVAIL', 9], ['EMFILE', 2]],
    );
  });
});
