// The native parsers under ASan and UBSan (native/fuzz): the harness is built with gcc
// into a temporary directory and runs for a bounded time against the real holder code:
// connlab frames (frames_parse and the connection state machine) and the client protocol
// parsers of native/proto/ (HTTP/1.1 responses, WebSocket frames, MQTT packets), the
// HTTP limits (8 KiB lines, 64 KiB header blocks, 4 MiB bodies) and RFC 6455 close codes
// included (docs/protocol-edges.md), and tls13.c's TLS 1.3 record path after the
// handshake (records sealed with known keys; libcrypto from the system's libssl3, loaded
// at run time as the C worker loads it).
// A missing compiler or sanitizer runtime fails here, loudly: skipping would let the
// issue-8 class of bug come back unnoticed. A second build with the answer buffer sized
// like a read (the bug itself, planted in a copy) must be caught, and so must the real
// pre-fix code, kept in native/fuzz/pre-fix/ and built by native/fuzz/prove-issue-8.sh
// (no git history needed).

import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { cp, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';

const NATIVE = new URL('../../native/', import.meta.url).pathname;
const BUILD = path.join(NATIVE, 'fuzz', 'build.sh');
const PROVE_ISSUE_8 = path.join(NATIVE, 'fuzz', 'prove-issue-8.sh');
const RUN_SECONDS = 18;
// Every target, each with its own model; the proto ones are cheap, so most of the time
// still goes to the frame targets' socket cases.
const TARGETS = ['frames-parse', 'frames-conn', 'proto-http', 'proto-ws', 'proto-mqtt', 'proto-conn', 'tls13-records'];
const MISSING_TOOLCHAIN =
  'the sanitizer fuzz harness needs gcc with AddressSanitizer and UBSan: on Debian 12, ' +
  'build-essential (gcc-12 brings libgcc-12-dev, libasan8 and libubsan1); .ci/run installs it';

interface Run {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

function run(file: string, args: string[], timeoutMs: number): Promise<Run> {
  return new Promise((resolve) => {
    execFile(file, args, { timeout: timeoutMs, maxBuffer: 16 << 20 }, (error, stdout, stderr) => {
      const failure = error as (Error & { code?: number | string; signal?: NodeJS.Signals | null }) | null;
      if (!failure) return resolve({ code: 0, signal: null, stdout, stderr });
      const code = typeof failure.code === 'number' ? failure.code : null;
      // A string code (ENOENT) means it never ran: keep why.
      const why = code === null && !failure.signal ? `${failure.message}\n` : '';
      resolve({ code, signal: failure.signal ?? null, stdout, stderr: why + stderr });
    });
  });
}

/** Builds the harness from `holderDir`'s sources into `outDir`; fails with what is missing. */
async function build(outDir: string, holderDir = NATIVE): Promise<string> {
  const built = await run('sh', [BUILD, outDir, holderDir], 120_000);
  assert.equal(built.code, 0, `${MISSING_TOOLCHAIN}\nbuild.sh said:\n${built.stderr}`);
  return built.stdout.trim();
}

describe('the native fuzz harness under AddressSanitizer and UBSan', () => {
  let dir = '';
  before(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'connlab-fuzz-'));
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it(`finds no mismatch, memory error or undefined behaviour in ${RUN_SECONDS} s of every case`, async () => {
    const gcc = await run('gcc', ['--version'], 10_000);
    assert.equal(gcc.code, 0, `${MISSING_TOOLCHAIN}\n(gcc --version: ${gcc.stderr.trim()})`);
    const bin = await build(path.join(dir, 'current'));
    const list = await run(bin, ['--list'], 10_000);
    const cases: Array<{ target: string; name: string }> = [];
    let target = '';
    for (const line of list.stdout.split('\n')) {
      if (line.startsWith('  ')) cases.push({ target, name: line.trim() });
      else if (line.includes(':')) target = line.slice(0, line.indexOf(':'));
    }
    assert.deepEqual([...new Set(cases.map((c) => c.target))], TARGETS, `the harness lists its targets:\n${list.stdout}`);
    assert.ok(cases.length >= 30, `the harness lists its cases:\n${list.stdout}`);

    const fuzz = await run(bin, ['--seconds', String(RUN_SECONDS)], (RUN_SECONDS + 60) * 1000);
    const report = `${fuzz.stdout}\n${fuzz.stderr}`;
    assert.equal(fuzz.signal, null, `the harness died of ${fuzz.signal}:\n${report}`);
    assert.equal(fuzz.code, 0, `the harness failed (replay with the seed it printed):\n${report}`);
    const totals = /(\d+) iterations and (\d+) exhaustive splits/.exec(fuzz.stdout);
    assert.ok(totals, `no totals line:\n${report}`);
    assert.ok(Number(totals[1]) >= 1000, `only ${totals[1]} random iterations ran:\n${report}`);
    // The sweeps are deterministic: 13,824 frame splits, some 590,000 protocol ones and
    // 9,162 of TLS 1.3 records.
    assert.ok(Number(totals[2]) >= 500_000, `only ${totals[2]} exhaustive splits ran:\n${report}`);
    const perTarget = new Map<string, number>();
    for (const { target, name } of cases) {
      const ran = new RegExp(`\\s${target}\\s+${name}\\s+(\\d+)\\n`).exec(fuzz.stdout);
      assert.ok(ran && Number(ran[1]) >= 1, `case ${target} ${name} never ran:\n${report}`);
      perTarget.set(target, (perTarget.get(target) ?? 0) + Number(ran[1]));
    }
    // On this 2-core machine each protocol target runs some 15,000 iterations in 18 s;
    // tls13-records, whose iterations seal and open up to a megabyte, a few hundred.
    for (const target of TARGETS.filter((t) => t.startsWith('proto-'))) {
      assert.ok((perTarget.get(target) ?? 0) >= 1000, `only ${perTarget.get(target)} iterations of ${target}:\n${report}`);
    }
    assert.ok((perTarget.get('tls13-records') ?? 0) >= 100, `only ${perTarget.get('tls13-records')} iterations of tls13-records:\n${report}`);
  });

  it('catches an answer buffer sized like a read, the issue-8 bug', async () => {
    const planted = path.join(dir, 'planted');
    await cp(NATIVE, planted, { recursive: true, filter: (source) => !path.relative(NATIVE, source).startsWith('fuzz') });
    const header = path.join(planted, 'holder.h');
    const text = await readFile(header, 'utf8');
    const fixed = '#define OUT_BYTES (SCRATCH_BYTES + FRAME_HEADER_BYTES)';
    assert.ok(text.includes(fixed), 'holder.h sizes the answer buffer as OUT_BYTES (update this test if it moved)');
    await writeFile(header, text.replace(fixed, '#define OUT_BYTES SCRATCH_BYTES'));
    const bin = await build(path.join(planted, 'out'), planted);

    const fuzz = await run(bin, ['--seconds', '10'], 70_000);
    assert.ok(fuzz.code !== 0 || fuzz.signal !== null, `the planted bug went unnoticed:\n${fuzz.stdout}`);
    assert.match(fuzz.stderr, /connlab-fuzz: in target frames-\w+, case [\w-]+/, 'the failure names the target and case');
  });

  it('catches the issue-8 bug in the pre-fix code (native/fuzz/pre-fix/), and passes the same run on today\'s (prove-issue-8.sh)', async () => {
    // The script builds twice (the old tree, then today's) and checks the sanitizer's
    // verdict itself; here its exit status and its words.
    const proof = await run('sh', [PROVE_ISSUE_8, '--case', 'socketpair-attack', '--seconds', '5'], 240_000);
    const report = `${proof.stdout}\n${proof.stderr}`;
    assert.equal(proof.code, 0, `prove-issue-8.sh failed:\n${report}`);
    assert.match(proof.stderr, /AddressSanitizer: heap-buffer-overflow/, 'the old code dies of the overflow');
    assert.match(proof.stderr, /failed on the pre-fix code with a heap-buffer-overflow/);
    assert.match(proof.stderr, /and passed on the current code/);
  });
});
