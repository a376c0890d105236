import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import {
  cgroupDir, descendantsOf, holdersOf, parseMemoryStat, parseProcStat, sampleServer, type ProcStat,
} from '../../../src/bench/target/server-processes.ts';

const stat = (pid: number, ppid: number, comm = 'nginx', state = 'S', utime = 150, stime = 50): string =>
  `${pid} (${comm}) ${state} ${ppid} ${pid} ${pid} 0 -1 4194560 100 0 0 0 ${utime} ${stime} 0 0 20 0 1 0 100 1000 200\n`;

const smaps = (privateKb: number, pssKb: number): string =>
  `00400000-7ffd0000 ---p 00000000 00:00 0 [rollup]\nRss: ${pssKb + 100} kB\nPss: ${pssKb} kB\nPrivate_Clean: 0 kB\nPrivate_Dirty: ${privateKb} kB\n`;

const limits = (soft: number): string =>
  `Limit                     Soft Limit           Hard Limit           Units\nMax open files            ${soft}                20000                files\n`;

function procTree(): string {
  const root = mkdtempSync(join(tmpdir(), 'connlab-proc-'));
  const add = (pid: number, ppid: number, privateKb: number, soft: number, state = 'S'): void => {
    mkdirSync(join(root, String(pid)));
    writeFileSync(join(root, String(pid), 'stat'), stat(pid, ppid, 'nginx', state));
    writeFileSync(join(root, String(pid), 'smaps_rollup'), smaps(privateKb, privateKb + 10));
    writeFileSync(join(root, String(pid), 'limits'), limits(soft));
  };
  add(100, 1, 1000, 1024);   // master
  add(101, 100, 2000, 20000); // workers
  add(102, 100, 3000, 19000);
  add(103, 101, 4000, 20000); // a grandchild
  add(200, 1, 9999, 1024);   // an unrelated process
  add(104, 100, 5000, 20000, 'Z'); // a zombie holds nothing
  return root;
}

describe('the server\'s processes, read from a /proc tree', () => {
  const root = procTree();
  after(() => rmSync(root, { recursive: true, force: true }));

  it('parses stat even when the command holds spaces and parentheses', () => {
    const s = parseProcStat(stat(7, 3, 'a b) (c', 'R', 250, 50));
    assert.deepEqual(s, { pid: 7, ppid: 3, state: 'R', cpuSeconds: 3 });
  });

  it('walks a PID\'s descendants through parent links and ignores other processes', () => {
    const stats: ProcStat[] = [[100, 1], [101, 100], [102, 100], [103, 101], [200, 1]].map(([pid, ppid]) => ({ pid: pid!, ppid: ppid!, state: 'S', cpuSeconds: 0 }));
    assert.deepEqual(descendantsOf(100, stats).map((s) => s.pid).sort(), [100, 101, 102, 103]);
    assert.deepEqual(descendantsOf(999, stats), []);
  });

  it('counts workers (not the master) as the holders, and a lone process as its own holder', () => {
    const stats: ProcStat[] = [{ pid: 1, ppid: 0, state: 'S', cpuSeconds: 0 }, { pid: 2, ppid: 1, state: 'S', cpuSeconds: 0 }];
    assert.deepEqual(holdersOf(stats).map((s) => s.pid), [2]);
    assert.deepEqual(holdersOf(stats.slice(0, 1)).map((s) => s.pid), [1]);
  });

  it('sums private memory and CPU over the PID and its living descendants, with the holders\' smallest descriptor limit', async () => {
    const s = await sampleServer({ pid: 100 }, { procRoot: root });
    assert.deepEqual(s.pids.sort(), [100, 101, 102, 103]);
    assert.deepEqual(s.holders.sort(), [101, 102, 103]);
    assert.equal(s.alive, true);
    assert.equal(s.privateBytes, (1000 + 2000 + 3000 + 4000) * 1024);
    assert.equal(s.pssBytes, (1010 + 2010 + 3010 + 4010) * 1024);
    assert.equal(s.cpuSeconds, 4 * 2);
    assert.equal(s.fdSoftLimit, 19000);
    assert.equal(s.cgroup, undefined);
  });

  it('says a server that is gone is not alive, without failing', async () => {
    const s = await sampleServer({ pid: 4242 }, { procRoot: root });
    assert.equal(s.alive, false);
    assert.deepEqual(s.pids, []);
    assert.equal(s.privateBytes, 0);
  });

  it('reads a cgroup\'s members and its memory accounting', async () => {
    const cgroups = mkdtempSync(join(tmpdir(), 'connlab-cgroup-'));
    after(() => rmSync(cgroups, { recursive: true, force: true }));
    const unit = join(cgroups, 'system.slice', 'nginx.service');
    mkdirSync(unit, { recursive: true });
    writeFileSync(join(unit, 'cgroup.procs'), '100\n101\n102\n');
    writeFileSync(join(unit, 'memory.current'), '52428800\n');
    writeFileSync(join(unit, 'memory.stat'), 'anon 10485760\nfile 0\nsock 4096\n');
    const s = await sampleServer({ cgroup: 'system.slice/nginx.service' }, { procRoot: root, cgroupRoot: cgroups });
    assert.deepEqual(s.pids, [100, 101, 102]);
    assert.deepEqual(s.holders, [101, 102]);
    assert.equal(s.alive, true);
    assert.deepEqual(s.cgroup, { memoryCurrentBytes: 52428800, anonBytes: 10485760, sockBytes: 4096 });
  });

  it('parses memory.stat and resolves cgroup paths under the mount', () => {
    assert.equal(parseMemoryStat('anon 5\nsock 7\nbogus x\n').get('sock'), 7);
    assert.equal(cgroupDir('system.slice/a.service', '/sys/fs/cgroup'), '/sys/fs/cgroup/system.slice/a.service');
    assert.equal(cgroupDir('/sys/fs/cgroup/x', '/sys/fs/cgroup'), '/sys/fs/cgroup/x');
  });
});
