import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { planFileMaxRaise } from '../../src/bench/file-max.ts';
import { main } from '../../src/cli/main.ts';
import { createHostReader } from '../../src/limits/host-reader.ts';
import { readHostSnapshot } from '../../src/limits/snapshot.ts';
import { fixtureRoot, recordingIo } from '../helpers/io.ts';

// this-machine: 360 files open. file-max 4,360 leaves room for 2,000 connections with
// both ends here (two files each): 3,000 do not fit, and file-max is all that binds.
const IN_USE = 360;
const TIGHT_FILE_MAX = IN_USE + 4000;
const dirs: string[] = [];
after(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

function tightHost(fileMax = TIGHT_FILE_MAX): string {
  const root = mkdtempSync(join(tmpdir(), 'connlab-file-max-'));
  dirs.push(root);
  cpSync(fixtureRoot('this-machine'), root, { recursive: true });
  writeFileSync(join(root, 'proc/sys/fs/file-max'), `${fileMax}\n`);
  writeFileSync(join(root, 'proc/sys/fs/file-nr'), `${IN_USE}\t0\t${fileMax}\n`);
  return root;
}

const fileMaxIn = (root: string): string => readFileSync(join(root, 'proc/sys/fs/file-max'), 'utf8').trim();
const snapshot = (root: string) => readHostSnapshot(createHostReader(root));

describe('bench and fs.file-max', () => {
  it('raises file-max to doctor\'s advice when it alone binds: open files + 2 × N + 10%', () => {
    const raise = planFileMaxRaise(snapshot(tightHost()), 3000);
    assert.deepEqual(raise, { from: TIGHT_FILE_MAX, to: 7000, fitsAfter: true, next: 'system_fds' });
  });

  it('plans nothing when the run fits, and never a lower value', () => {
    assert.equal(planFileMaxRaise(snapshot(tightHost()), 1500), null);
    assert.equal(planFileMaxRaise(snapshot(tightHost(50_000_000)), 3000), null);
  });

  it('says when raising file-max would not be enough (the next limit binds)', () => {
    const raise = planFileMaxRaise(snapshot(fixtureRoot('this-machine')), 20_000_000);
    assert.ok(raise === null || (raise.fitsAfter === false && raise.next !== null));
  });

  it('without root says file-max binds, changes nothing, and exits 2 as before', async () => {
    const root = tightHost();
    const io = recordingIo({ uid: 1000 });
    assert.equal(await main(['bench', '--connections', '3000', '--root', root, '--no-report'], io), 2);
    assert.match(io.err(), /fs\.file-max \(4,360\) binds; run as root, bench raises it to 7,000/);
    assert.equal(fileMaxIn(root), String(TIGHT_FILE_MAX));
  });

  it('as root raises it for the run, prints the change, and restores it after a SIGINT mid-run', { skip: process.getuid?.() !== 0 && 'needs root' }, async () => {
    const root = tightHost();
    const bin = new URL('../../bin/connlab.js', import.meta.url).pathname;
    const child = spawn(process.execPath, [bin, 'bench', '--connections', '3000', '--hold', '60s', '--root', root, '--json', '--no-report'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let err = '';
    let out = '';
    child.stderr.on('data', (chunk: Buffer) => (err += chunk.toString()));
    child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    // The hold is 60 s: once it starts, the raised value is in force and the run is mid-way.
    for (let i = 0; i < 300 && !err.includes('bench: hold'); i++) await new Promise((resolve) => setTimeout(resolve, 100));
    assert.match(err, /bench: fs\.file-max 4360 -> 7000 for this run/);
    assert.equal(fileMaxIn(root), '7000');
    child.kill('SIGINT');
    assert.equal(await exited, 130);
    assert.equal(JSON.parse(out).outcome, 'SIGINT');
    assert.match(err, /bench: fs\.file-max restored to 4360/);
    assert.equal(fileMaxIn(root), String(TIGHT_FILE_MAX));
  });
});
