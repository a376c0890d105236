// Quiet logs: without a terminal, periodic events are summarised once a window (10 s),
// never a line each; slow ones still get their own line at once. Checked on a fake clock
// and on a real `connlab serve --broadcast-every 10ms` whose stderr is a pipe.

import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import net from 'node:net';
import { describe, it } from 'node:test';
import { LOG_WINDOW_MS, PeriodicLog } from '../../src/cli/render/periodic-log.ts';
import { freePort } from '../helpers/net.ts';

function sink(isTTY = false): { stream: { write(text: string): boolean; isTTY: boolean }; lines: string[] } {
  const lines: string[] = [];
  return { stream: { isTTY, write: (text: string) => (lines.push(...text.split('\n').filter(Boolean)), true) }, lines };
}

describe('periodic events in a log', () => {
  it('writes one summary per 10 s window for events every 10 ms', () => {
    let now = 0;
    const { stream, lines } = sink();
    const log = new PeriodicLog(stream, 'broadcast rounds', () => now);
    for (let i = 0; i < 4392; i++, now += 10) log.add({ line: `broadcast #${i}`, count: 1000 + (i % 3), durationMs: 1 + (i % 5) });
    log.flush();
    // 44 s of rounds: the first round's own line, then a summary per window
    assert.ok(lines.length <= Math.ceil(44_000 / LOG_WINDOW_MS) + 2, `${lines.length} lines:\n${lines.join('\n')}`);
    assert.equal(lines[0], 'broadcast #0');
    assert.match(lines[1] ?? '', /^\d+ broadcast rounds in 10\.0 s: 1,000-1,002 connections each, 1\.0-5\.0 ms \(median \d\.\d ms\)$/);
    const summarised = lines.slice(1).reduce((sum, l) => sum + Number(/^(\d+)/.exec(l)?.[1] ?? 0), 0);
    assert.equal(summarised + 1, 4392, 'every round is in a line or a summary');
  });

  it('writes each slow event at once', () => {
    let now = 0;
    const { stream, lines } = sink();
    const log = new PeriodicLog(stream, 'broadcast rounds', () => now);
    for (let i = 0; i < 5; i++, now += 30_000) log.add({ line: `broadcast #${i}`, count: 1, durationMs: 1 });
    log.flush();
    assert.deepEqual(lines, ['broadcast #0', 'broadcast #1', 'broadcast #2', 'broadcast #3', 'broadcast #4']);
  });
});

describe('connlab serve --broadcast-every 10ms without a terminal', () => {
  it('logs a handful of lines over 4 s, not one per round', { timeout: 60_000 }, async () => {
    const port = await freePort();
    const bin = new URL('../../bin/connlab.js', import.meta.url).pathname;
    const child = spawn(process.execPath, [bin, 'serve', '--listen', `127.0.0.1:${port}`, '--broadcast-every', '10ms', '--duration', '4s', '--workers', '1'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d));
    child.stdout.resume();
    const clients: net.Socket[] = [];
    const exited = once(child, 'exit');
    while (!stderr.includes('serving on') && child.exitCode === null) await new Promise((r) => setTimeout(r, 50));
    for (let i = 0; i < 20; i++) clients.push(net.connect({ host: '127.0.0.1', port }).on('error', () => {}).on('data', () => {}));
    const [code] = (await exited) as [number | null];
    for (const c of clients) c.destroy();
    assert.equal(code, 0, stderr);
    const rounds = stderr.split('\n').filter((l) => /broadcast/.test(l));
    const total = rounds.reduce((sum, l) => sum + (l.startsWith('broadcast #') ? 1 : Number(/^(\d+) broadcast rounds/.exec(l)?.[1] ?? 0)), 0);
    assert.ok(total >= 50, `rounds ran: ${total}\n${stderr}`);
    assert.ok(rounds.length <= 3, `${rounds.length} broadcast lines for ${total} rounds:\n${stderr}`);
  });
});
