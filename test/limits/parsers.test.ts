import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  parseCpuCount,
  parseFileNr,
  parseLimitsConf,
  parseMeminfo,
  parseNetstat,
  parseProcLimits,
  parseReservedPorts,
  parseSlabinfo,
  parseSockstat,
  parseThreadsNow,
  slabBytesPerObject,
} from '../../src/limits/parsers.ts';

describe('Linux file parsers', () => {
  it('reads soft and hard open-file limits, with unlimited as Infinity', () => {
    const rows = parseProcLimits(
      'Limit                     Soft Limit           Hard Limit           Units     \n' +
        'Max cpu time              unlimited            unlimited            seconds   \n' +
        'Max open files            20000                20000                files     \n',
    );
    assert.deepEqual(rows.get('Max open files'), { soft: 20000, hard: 20000 });
    assert.deepEqual(rows.get('Max cpu time'), { soft: Infinity, hard: Infinity });
  });

  it('reads meminfo in bytes', () => {
    const info = parseMeminfo('MemTotal:       3922956 kB\nMemAvailable:      6448 kB\nHugePages_Total:       0\n');
    assert.equal(info.get('MemTotal'), 3922956 * 1024);
    assert.equal(info.get('MemAvailable'), 6448 * 1024);
    assert.equal(info.get('HugePages_Total'), 0);
  });

  it('reads slab caches and charges each object its share of the slab pages', () => {
    const caches = parseSlabinfo(
      'slabinfo - version: 2.1\n# name <active_objs> ...\n' +
        'TCP                   26     26   2368   13    8 : tunables    0    0    0 : slabdata      2      2      0\n',
    );
    const tcp = caches.get('TCP');
    assert.deepEqual(tcp, { activeObjects: 26, objects: 26, objectSize: 2368, objectsPerSlab: 13, pagesPerSlab: 8 });
    assert.equal(Math.round(slabBytesPerObject(tcp!)), 2521);
  });

  it('reads file-nr, reserved ports, limits.conf, CPUs and threads', () => {
    assert.deepEqual(parseFileNr('342\t0\t2466186\n'), { allocated: 342, free: 0, max: 2466186 });
    assert.equal(parseFileNr('garbage'), undefined);
    assert.deepEqual(parseReservedPorts('8080,9000-9010\n'), [{ first: 8080, last: 8080 }, { first: 9000, last: 9010 }]);
    assert.deepEqual(parseReservedPorts('\n'), []);
    const conf = parseLimitsConf('# comment\n*  soft nofile 1100000 # trailing\n@web - nofile unlimited\nbad line\n', 'limits.conf');
    assert.deepEqual(conf.map((e) => [e.domain, e.type, e.value, e.source]), [
      ['*', 'soft', 1100000, 'limits.conf:2'],
      ['@web', '-', Infinity, 'limits.conf:3'],
    ]);
    assert.equal(parseCpuCount('cpu  1 2 3\ncpu0 1 2 3\ncpu1 1 2 3\nintr 5\n'), 2);
    assert.equal(parseThreadsNow('0.12 0.14 0.06 1/82 2356\n'), 82);
  });

  it('reads netstat and sockstat counters by prefix', () => {
    const netstat = parseNetstat('TcpExt: SyncookiesSent ListenOverflows ListenDrops\nTcpExt: 0 17 19\n');
    assert.equal(netstat.get('TcpExt.ListenOverflows'), 17);
    assert.equal(netstat.get('TcpExt.ListenDrops'), 19);
    const sockstat = parseSockstat('sockets: used 150\nTCP: inuse 5 orphan 0 tw 2 alloc 7 mem 1\n');
    assert.equal(sockstat.get('TCP.inuse'), 5);
    assert.equal(sockstat.get('TCP.tw'), 2);
    assert.equal(sockstat.get('sockets.used'), 150);
  });
});
