// A checkout on a machine without gcc, make or python3: `npm install` must say so in one
// line and succeed, and the commands must say which holder and worker runtime they fell
// back to instead of running slower and hungrier without a word.

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, realpathSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';

const repo = new URL('../..', import.meta.url).pathname;

describe('a checkout without a C toolchain', () => {
  let dir = '';
  let env: NodeJS.ProcessEnv = {};
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'frontdoor-nocc-'));
    // The checkout's sources, without build/ (nothing compiled) and without lib/.
    for (const part of ['src', 'bin', 'package.json']) cpSync(join(repo, part), join(dir, part), { recursive: true });
    symlinkSync(join(repo, 'node_modules'), join(dir, 'node_modules'));
    // PATH holds node and nothing else: no cc, make or python3.
    mkdirSync(join(dir, 'path'));
    symlinkSync(realpathSync(process.execPath), join(dir, 'path', 'node'));
    env = { PATH: join(dir, 'path'), HOME: dir };
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('npm\'s install step says what is missing in one line, and succeeds', () => {
    const r = spawnSync(process.execPath, ['bin/install-native.js'], { cwd: dir, env, encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stdout, '');
    const lines = r.stderr.trim().split('\n');
    assert.equal(lines.length, 1, r.stderr);
    assert.match(lines[0] ?? '', /lacks a C compiler .*make, python3.*plain-Node holder in Node workers/);
    assert.doesNotMatch(r.stderr, /gyp ERR!/);
  });

  it('bench runs on the plain-Node holder and says so, with the reason', () => {
    const r = spawnSync(process.execPath, ['bin/connlab.js', 'bench', '--connections', '200', '--hold', '0s', '--no-report'], { cwd: dir, env, encoding: 'utf8', timeout: 120_000 });
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stderr, /^note: running on the plain-Node holder in Node workers .*CONNLAB_ERR_NATIVE_UNAVAILABLE/m);
    assert.match(r.stdout, /200 of 200 connections/);
  });
});
