// The C worker's input side under random bytes: the JSON reader, unescaping and base64
// fuzzed in-process under AddressSanitizer and UBSan (native/worker/fuzz.c, with its own
// invariants), and mutated messages sent to the real program, which must answer or leave
// with an exit code, never die of a signal.

import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { describe, it } from 'node:test';
import { rawWorker } from '../helpers/c-worker.ts';

const run = promisify(execFile);
const NATIVE = new URL('../../native/', import.meta.url).pathname;

describe('the C worker\'s JSON reader under a sanitizer', () => {
  it('survives 200,000 mutated messages with its invariants intact', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'connlab-fuzz-'));
    try {
      const bin = join(dir, 'fuzz');
      await run('cc', ['-std=gnu11', '-g', '-O1', '-fsanitize=address,undefined', '-fno-sanitize-recover=all', '-D_GNU_SOURCE',
        '-o', bin, ...['fuzz.c', 'json.c', 'base64.c'].map((f) => join(NATIVE, 'worker', f))]);
      const { stdout } = await run(bin, ['200000'], { timeout: 120_000 });
      assert.match(stdout, /fuzzed 200000 inputs/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

const SEEDS = [
  '{"type":"start","config":{"role":"client","holder":"native","ratePerSec":null,"maxPending":8,"connectTimeoutMs":1000,"reportIntervalMs":60000,"maxSamples":100000,"sendBufferBytes":65536,"stallTimeoutMs":30000,"churnPerSec":0,"protocol":null}}',
  '{"type":"start","config":{"role":"client","holder":"native","ratePerSec":10,"maxPending":8,"connectTimeoutMs":1000,"reportIntervalMs":60000,"maxSamples":100000,"sendBufferBytes":65536,"stallTimeoutMs":30000,"churnPerSec":2.5,"protocol":{"kind":2,"request":"R0VUIC8gSFRUUC8xLjENCg0K","clientIdPrefix":null,"username":"u\\u00e9","password":null,"keepaliveSeconds":0,"tcpKeepaliveSeconds":5}}}',
  '{"type":"start","config":{"role":"server","holder":"native","listen":[{"host":"127.0.0.1","port":1}],"backlog":8,"reportIntervalMs":60000,"maxSamples":100000,"sendBufferBytes":65536,"stallTimeoutMs":30000}}',
  // The IPv6 table (16-byte source base, then ::1): IPv6 tuples index it.
  '{"type":"start","config":{"role":"client","holder":"native","ratePerSec":null,"maxPending":8,"connectTimeoutMs":1000,"reportIntervalMs":60000,"maxSamples":100000,"sendBufferBytes":65536,"stallTimeoutMs":30000,"churnPerSec":0,"protocol":null,"addresses6":"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAE="}}',
  '{"type":"ping","seq":1,"timeoutMs":5}',
  '{"type":"tuples","data":"AgAAf0BOAAABAAB/KCMAAA==","last":true}',
];

/** A deterministic mutation: a few bytes replaced, inserted or dropped. */
function mutate(seed: string, n: number): string {
  let text = seed;
  let x = n * 2654435761 >>> 0;
  const rand = (): number => (x = (x ^ (x << 13)) >>> 0, x = (x ^ (x >>> 17)) >>> 0, x = (x ^ (x << 5)) >>> 0, x);
  for (let k = 0; k <= rand() % 3; k++) {
    const at = rand() % (text.length + 1);
    const op = rand() % 3;
    const ch = String.fromCharCode(rand() % 128);
    text = op === 0 ? text.slice(0, at) + ch + text.slice(at + 1) : op === 1 ? text.slice(0, at) + ch + text.slice(at) : text.slice(0, at) + text.slice(at + 1);
  }
  return text.replaceAll('\n', ' ');
}

describe('the C worker program under mutated messages', () => {
  it('answers or exits with a code for each, and is never killed by a signal', async () => {
    for (let n = 0; n < 60; n++) {
      const worker = await rawWorker();
      try {
        worker.write(`${mutate(SEEDS[n % SEEDS.length] as string, n)}\n`);
        worker.channel.end();
        const timer = setTimeout(() => worker.child.kill('SIGKILL'), 5_000);
        const code = await worker.done;
        clearTimeout(timer);
        assert.ok(code === 0 || code === 1, `input ${n}: exit ${code}, signal ${worker.child.signalCode}`);
        for (const line of await worker.lines()) JSON.parse(line); // every answer is valid JSON
      } finally {
        worker.cleanup();
      }
    }
  });
});
