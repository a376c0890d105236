// The settings journal (issue 15): a setting connlab changes is recorded with its
// original before the write, so a connlab killed before it could restore (SIGKILL) is
// undone by the next command, which says so; doctor reports the leftover. Fixture roots
// only: the host's /proc/sys is never touched here.

import assert from 'node:assert/strict';
import { cpSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { SettingsGuard } from '../../src/demo/settings.ts';
import { JOURNAL_PATH, SettingsJournal } from '../../src/demo/settings-journal.ts';
import { runCli } from '../helpers/procs.ts';

const FIXTURE = new URL('../fixtures/hosts/this-machine', import.meta.url).pathname;
const roots: string[] = [];
after(() => {
  for (const root of roots) rmSync(root, { recursive: true, force: true });
});

/** A copy of this machine's captured tree where fs.file-max (1,000) binds a 1,000-connection bench. */
function fixtureRoot(): string {
  const root = mkdtempSync(join(tmpdir(), 'connlab-books-journal-'));
  roots.push(root);
  cpSync(FIXTURE, root, { recursive: true });
  writeFileSync(join(root, 'proc/sys/fs/file-max'), '1000\n');
  writeFileSync(join(root, 'proc/sys/fs/file-nr'), '360\t0\t1000\n');
  return root;
}

const fileMax = (root: string): string => readFileSync(join(root, 'proc/sys/fs/file-max'), 'utf8').trim();

describe('the settings journal', () => {
  it('records the original before the write and forgets it once restored', () => {
    const root = fixtureRoot();
    const guard = new SettingsGuard({ root, signals: false });
    guard.set('fs.file-max', '5000');
    const [entry] = new SettingsJournal(root).entries();
    assert.deepEqual([entry?.name, entry?.original, entry?.value, entry?.owner_pid], ['fs.file-max', '1000', '5000', process.pid]);
    assert.deepEqual(new SettingsJournal(root).stale(), [], 'its owner (this process) is alive');
    guard.restore();
    assert.equal(fileMax(root), '1000');
    assert.equal(existsSync(join(root, JOURNAL_PATH)), false, 'an empty journal is removed');
  });

  it('takes an entry whose PID now belongs to another process for stale (start times differ)', () => {
    const root = fixtureRoot();
    const journal = new SettingsJournal(root);
    journal.record('fs.file-max', '1000', '5000');
    const text = readFileSync(journal.path, 'utf8').replace(/"owner_start": "\d+"/, '"owner_start": "1"');
    writeFileSync(journal.path, text);
    writeFileSync(join(root, 'proc/sys/fs/file-max'), '5000\n');
    const [leftover] = journal.recover();
    assert.deepEqual([leftover?.outcome, fileMax(root)], ['restored', '1000']);
  });

  it('leaves a setting someone changed again since as it is, and drops the entry', () => {
    const root = fixtureRoot();
    const journal = new SettingsJournal(root);
    journal.record('fs.file-max', '1000', '5000', 999_999_999);
    writeFileSync(join(root, 'proc/sys/fs/file-max'), '7000\n');
    const [leftover] = journal.recover();
    assert.deepEqual([leftover?.outcome, leftover?.found, fileMax(root)], ['changed_since', '7000', '7000']);
    assert.deepEqual(journal.entries(), []);
  });
});

describe('a bench SIGKILLed while it had fs.file-max raised', () => {
  /** Starts a 1,000-connection bench on the fixture root and SIGKILLs it once file-max is raised. */
  async function killedBench(root: string): Promise<void> {
    const bench = runCli(['bench', '--root', root, '--connections', '1000', '--hold', '60s', '--no-report']);
    try {
      await bench.line(/^bench: fs\.file-max 1000 -> \d+ for this run/, 30_000);
      assert.notEqual(fileMax(root), '1000');
      bench.child.kill('SIGKILL');
      await bench.exited;
    } finally {
      await bench.cleanup();
    }
    assert.notEqual(fileMax(root), '1000', 'no handler runs on SIGKILL: still raised');
    assert.equal(new SettingsJournal(root).stale().length, 1);
  }

  it('is restored by the next connlab command, which says so', async () => {
    const root = fixtureRoot();
    await killedBench(root);
    const next = runCli(['bench', '--root', root, '--help']);
    assert.equal((await next.exited).code, 0);
    assert.match(next.stderr(), /^connlab: fs\.file-max was left at \d+ by connlab pid \d+ .*which ended without restoring it: restored to 1000$/m);
    assert.equal(fileMax(root), '1000');
    assert.deepEqual(new SettingsJournal(root).entries(), []);
  });

  it('is reported (and restored) by doctor, in text and JSON', async () => {
    const root = fixtureRoot();
    await killedBench(root);
    const doctor = runCli(['doctor', '--root', root, '--json']);
    assert.equal((await doctor.exited).code, 0, doctor.stderr());
    const report = JSON.parse(doctor.stdout()) as { settings_journal: { leftovers: { name: string; original: string; outcome: string }[]; in_use: unknown[] } };
    assert.deepEqual(report.settings_journal.leftovers.map((l) => [l.name, l.original, l.outcome]), [['fs.file-max', '1000', 'restored']]);
    assert.equal(fileMax(root), '1000');
    const again = runCli(['doctor', '--root', root]);
    await again.exited;
    assert.doesNotMatch(again.stdout(), /Leftover/, 'nothing left the second time');
  });
});
