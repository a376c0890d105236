import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { resolveWorkerEntry } from '../../src/engine/worker-entry.ts';

describe('choosing the worker entry', () => {
  let root = '';
  const touch = (path: string, seconds: number): void => {
    mkdirSync(join(root, path, '..'), { recursive: true });
    writeFileSync(join(root, path), '');
    utimesSync(join(root, path), seconds, seconds);
  };
  beforeEach(() => (root = mkdtempSync(join(tmpdir(), 'connlab-entry-'))));
  afterEach(() => rmSync(root, { recursive: true, force: true }));

  it('runs the TypeScript worker when lib/ was never built', () => {
    touch('src/engine/worker.ts', 100);
    const entry = resolveWorkerEntry(root);
    assert.equal(entry.kind, 'ts');
    assert.match(entry.reason ?? '', /not built/);
  });

  it('runs lib/\'s JavaScript when every file is at least as new as its source', () => {
    touch('src/engine/worker.ts', 100);
    touch('src/errors.ts', 100);
    touch('lib/engine/worker.js', 200);
    touch('lib/errors.js', 200);
    assert.deepEqual(resolveWorkerEntry(root), { path: join(root, 'lib/engine/worker.js'), kind: 'js' });
  });

  it('never runs a lib/ file older than its source, or one whose source is gone', () => {
    touch('src/engine/worker.ts', 100);
    touch('src/errors.ts', 300);
    touch('lib/engine/worker.js', 200);
    touch('lib/errors.js', 200);
    assert.equal(resolveWorkerEntry(root).kind, 'ts');
    touch('src/errors.ts', 100);
    touch('lib/gone.js', 200);
    assert.match(resolveWorkerEntry(root).reason ?? '', /lib\/gone\.js/);
  });
});
