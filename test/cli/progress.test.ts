import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { formatProgress, formatSeconds, ProgressLine } from '../../src/cli/render/progress.ts';
import { startServe } from '../../src/server/serve.ts';
import { freePort } from '../helpers/net.ts';

const BIN = fileURLToPath(new URL('../../bin/connlab.js', import.meta.url));

/** A stream that says it is (or is not) a terminal and records what was drawn. */
function fakeStream(isTTY: boolean) {
  const chunks: string[] = [];
  return { isTTY, chunks, write: (s: string) => (chunks.push(s), true) };
}

describe('progress line: what it says', () => {
  it('ramping: phase, bar, held/target, rate and an ETA from that rate', () => {
    const line = formatProgress({ phase: 'ramp', held: 40_000, target: 100_000 }, 20_000, 0);
    assert.match(line, /^ramp +\[█+░+\]  40% 40,000\/100,000 · 20,000\/s · ETA 3s$/);
  });

  it('holding: a countdown and verified once known, no rate', () => {
    const line = formatProgress({ phase: 'hold', held: 10_000, target: 10_000, verified: 9_998, holdEndsAtMs: 65_000 }, 0, 1_000);
    assert.match(line, /^hold .* 100% 10,000\/10,000 · verified 9,998 · 1m04s left$/);
    assert.doesNotMatch(line, /\/s/);
  });

  it('never counts below zero, and formats long durations', () => {
    assert.match(formatProgress({ phase: 'hold', held: 1, target: 1, holdEndsAtMs: 0 }, 0, 5_000), / 0s left$/);
    assert.equal(formatSeconds(3725), '1h02m');
    assert.equal(formatSeconds(0.2), '1s');
  });
});

describe('progress line: the rate is over the last second of what it was shown', () => {
  it('uses the counts it saw, not a rate kept elsewhere', () => {
    let now = 0;
    const stream = fakeStream(true);
    const line = new ProgressLine(stream, () => now);
    for (let i = 0; i <= 20; i++) {
      now = i * 250;
      line.update({ phase: 'ramp', held: i * 2_500, target: 100_000 });
    }
    // 2,500 per 250 ms = 10,000/s, whatever came before the last second.
    assert.equal(Math.round(line.ratePerSec(now)), 10_000);
    assert.match(stream.chunks.at(-1) ?? '', /10,000\/s · ETA 5s/);
  });

  it('starts over at each phase and goes to zero when updates stop', () => {
    let now = 0;
    const line = new ProgressLine(fakeStream(true), () => now);
    line.update({ phase: 'ramp', held: 0, target: 10 });
    now = 500;
    line.update({ phase: 'ramp', held: 5, target: 10 });
    assert.equal(line.ratePerSec(now), 10);
    now = 600;
    line.update({ phase: 'hold', held: 10, target: 10 });
    assert.equal(line.ratePerSec(now), 0);
    assert.equal(line.ratePerSec(10_000), 0);
  });

  it('draws nothing when the stream is not a terminal', () => {
    const stream = fakeStream(false);
    const line = new ProgressLine(stream);
    line.update({ phase: 'ramp', held: 1, target: 2 });
    line.clear();
    line.done();
    assert.deepEqual(stream.chunks, []);
  });
});

/** Runs `connlab ARGS` under a pseudo-terminal (util-linux `script`), returns what the terminal got. */
async function underPty(args: string[]): Promise<{ status: number | null; screen: string }> {
  const command = [process.execPath, BIN, ...args].map((a) => `'${a}'`).join(' ');
  const child = spawn('script', ['-qfec', command, '/dev/null'], { stdio: ['ignore', 'pipe', 'inherit'], env: { ...process.env, COLUMNS: '160' } });
  let screen = '';
  child.stdout.setEncoding('utf8').on('data', (d: string) => (screen += d));
  const [status] = await once(child, 'exit') as [number | null];
  return { status, screen };
}

describe('progress line under a pseudo-terminal: connlab load', () => {
  it('redraws in place, never leaves a stale bar above the summary, and counts the hold down', async () => {
    const port = await freePort();
    const serve = await startServe({ listen: [{ host: '127.0.0.1', port }], workers: 1, fdSoftLimit: 20_000 });
    try {
      const { status, screen } = await underPty(['load', `127.0.0.1:${port}`, '-c', '2000', '--workers', '2', '--duration', '3s', '--ping', '1s']);
      assert.equal(status, 0, screen);
      // Each redraw starts with a carriage return and an erase-line.
      const frames = screen.split('\r\x1b[2K').map((f) => f.replace(/\r?\n[\s\S]*$/, ''));
      const hold = frames.filter((f) => f.startsWith('hold '));
      assert.ok(hold.length >= 2, `expected a hold countdown, got:\n${JSON.stringify(screen)}`);
      // Counts are current from the first hold frame on (reports are refreshed at the ramp's end).
      for (const frame of hold) assert.match(frame, /100% 2,000\/2,000 · verified 2,000 · \ds left/);
      // The ramp summary stands on a line of its own, not after a bar frozen at 0%.
      assert.match(screen, /(^|\n|\x1b\[2K)ramped; 2,000 of 2,000 verified; holding for 3s/);
      assert.doesNotMatch(screen, / 0% 0\/2,000[^\r]*\r?\nramped/);
    } finally {
      await serve.close();
    }
  });
});
