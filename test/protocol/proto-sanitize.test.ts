// Builds native/test/proto-sanitize.c with AddressSanitizer and UBSan and runs it: the
// HTTP, WebSocket and MQTT parsers over 60,000 mutated streams in random cuts. Checked
// to fail: letting ws.c keep a whole payload in its 32-byte head is reported as a
// stack-buffer-overflow.

import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';

const root = new URL('../../', import.meta.url).pathname;

describe('protocol parsers under sanitizers', () => {
  it('survive mutated streams in random cuts with no memory or undefined-behaviour error', () => {
    const dir = mkdtempSync(join(tmpdir(), 'connlab-proto-sanitize-'));
    try {
      const bin = join(dir, 'proto-sanitize');
      const sources = ['native/test/proto-sanitize.c', 'native/proto/http.c', 'native/proto/ws.c', 'native/proto/mqtt.c'].map((f) => join(root, f));
      execFileSync('cc', ['-std=gnu11', '-g', '-O1', '-Wall', '-Wextra', '-Werror', '-fsanitize=address,undefined', '-fno-sanitize-recover=all', ...sources, '-o', bin]);
      const out = execFileSync(bin, ['60000'], { encoding: 'utf8', env: { ...process.env, ASAN_OPTIONS: 'detect_leaks=0' } });
      assert.match(out, /^ok 60000 iterations, \d+ events/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
