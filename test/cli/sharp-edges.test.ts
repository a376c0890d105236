import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { checkOutputPath, writeReportAfterResult } from '../../src/cli/output-file.ts';
import { adviseFor } from '../../src/limits/advice.ts';
import { diagnose } from '../../src/limits/diagnose.ts';
import { createHostReader } from '../../src/limits/host-reader.ts';
import { defaultShape } from '../../src/limits/shape.ts';
import { readHostSnapshot } from '../../src/limits/snapshot.ts';
import { isConnlabError } from '../../src/errors.ts';
import { fixtureRoot, runMain as run } from '../helpers/io.ts';


describe('bench --report into a directory that does not exist', () => {
  it('is refused with exit 2 before the bench starts anything', async () => {
    const { status, err } = await run(['bench', '--connections', '10', '--report', '/nonexistent-dir-frontdoor/r.html']);
    assert.equal(status, 2);
    assert.match(err, /\[CONNLAB_ERR_INVALID_ARGUMENT\]/);
    assert.match(err, /ENOENT/);
    assert.doesNotMatch(err, /connections over|unexpected error/);
  });

  it('refuses a --report that names a directory, and merge --report the same way', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'frontdoor-'));
    try {
      assert.equal((await run(['bench', '--report', dir])).status, 2);
      const { status, err } = await run(['merge', 'nothing.json', '--report', join(dir, 'missing', 'm.html')]);
      assert.equal(status, 2);
      assert.match(err, /--report .* cannot be written/); // checked before the inputs are read
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('a report that still fails at the end is one coded error, after the result', () => {
    const dir = mkdtempSync(join(tmpdir(), 'frontdoor-'));
    const path = checkOutputPath(join(dir, 'r.html'), '--report');
    rmSync(dir, { recursive: true, force: true }); // the directory goes away during the run
    assert.throws(() => writeReportAfterResult(path, '<html>'), (error: unknown) =>
      isConnlabError(error) && error.code === 'CONNLAB_ERR_OUTPUT' && /ENOENT/.test(error.message));
  });
});

describe('a flag that takes one value, given twice', () => {
  it('is a usage error naming the flag, short or long', async () => {
    for (const args of [['load', '127.0.0.1:9', '-c', '10', '-c', '20', '--dry-run'], ['load', '127.0.0.1:9', '-c', '10', '--connections=20', '--dry-run'], ['doctor', '--role', 'server', '--role', 'client']]) {
      const { status, err } = await run(args);
      assert.equal(status, 2, args.join(' '));
      assert.match(err, /more than once \[CONNLAB_ERR_USAGE\]/);
    }
  });

  it('still lets a list flag (--header) repeat', async () => {
    const { status } = await run(['load', '127.0.0.1:9', '-c', '10', '--protocol', 'http', '--header', 'A: 1', '--header', 'B: 2', '--dry-run']);
    assert.equal(status, 0);
  });
});

describe('serve --metrics and --dashboard ports', () => {
  it('are refused up front like --listen (exit 2), before any worker starts', async () => {
    for (const flag of ['--metrics', '--dashboard']) {
      const { status, err } = await run(['serve', '--listen', '127.0.0.1:28990', flag, '70000']);
      assert.equal(status, 2, flag);
      assert.match(err, /\[CONNLAB_ERR_INVALID_ARGUMENT\]/);
      assert.doesNotMatch(err, /serving on/);
    }
  });
});

describe('hints', () => {
  it('name the command that was run, never a placeholder', async () => {
    for (const [command, args] of [['load', ['127.0.0.1:9', '-c', 'lots']], ['serve', ['--listen', '127.0.0.1:9', '--duration', 'soon']], ['doctor', ['--connections', 'many']]] as const) {
      const { status, err } = await run([command, ...args]);
      assert.equal(status, 2);
      assert.match(err, new RegExp(`\`connlab ${command} --help\``));
      assert.doesNotMatch(err, /<command>/);
    }
  });
});

describe('merge: an input it cannot read', () => {
  it('says why: the errno, or where the JSON stops', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'frontdoor-'));
    try {
      const missing = await run(['merge', join(dir, 'nope.json')]);
      assert.equal(missing.status, 2);
      assert.match(missing.err, /cannot read .*nope\.json: no such file \(ENOENT\)/);
      writeFileSync(join(dir, 'bad.json'), '{"schema": "connlab.load/1",}');
      const bad = await run(['merge', join(dir, 'bad.json')]);
      assert.equal(bad.status, 2);
      assert.match(bad.err, /cannot read .*bad\.json: not JSON: .*position 28/);
      writeFileSync(join(dir, 'empty.json'), '');
      assert.match((await run(['merge', join(dir, 'empty.json')])).err, /the file is empty/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('doctor advice past fs.nr_open', () => {
  it('puts the fs.nr_open sysctl before the ulimit -n it makes possible, and says the hard limit', () => {
    const host = readHostSnapshot(createHostReader(fixtureRoot('this-machine')), { user: 'root' });
    const target = (host.fds.nrOpen ?? 1_048_576) * 2;
    const shape = defaultShape({ role: 'server', connections: target });
    const fds = diagnose(host, shape).limits.find((l) => l.name === 'process_fds');
    assert.ok(fds);
    const advice = adviseFor(fds, host, shape, target);
    const nrOpen = advice.findIndex((a) => a.sysctl?.name === 'fs.nr_open');
    const ulimit = advice.findIndex((a) => a.kind === 'ulimit');
    assert.ok(nrOpen >= 0 && ulimit > nrOpen, advice.map((a) => a.line).join(' | '));
    assert.match(advice[ulimit]?.why ?? '', new RegExp(`hard limit \\(${host.fds.processHard}\\)`));
  });
});
