// Nothing the dashboards serve or scrape grows without bound, whoever is on the other
// end: live-page subscribers that never read are capped and dropped (the bound is read
// from the streams' writableLength, not from RSS); `connlab dashboard` against an
// endless /metrics body, a slow one and 200,000 label sets cuts each endpoint with its
// reason, keeps its event loop free and ends on time, on --duration and on SIGTERM.

import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { createServer, type Server } from 'node:http';
import net from 'node:net';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { setTimeout as delay } from 'node:timers/promises';
import { loadBenchFixture } from '../bench/report-fixture.ts';
import { renderDashboardBody } from '../../src/dashboard/render.ts';
import { ScrapeSampler } from '../../src/dashboard/scrape.ts';
import { Dashboard, MAX_SUBSCRIBERS, SUBSCRIBER_STALL_TICKS } from '../../src/dashboard/server.ts';
import { waitFor } from '../helpers/wait.ts';

const BIN = new URL('../../bin/connlab.js', import.meta.url).pathname;

/** A client that sends GET /events and never reads a byte of the answer. */
function neverReader(port: number): net.Socket {
  const socket = net.connect({ host: '127.0.0.1', port });
  socket.on('connect', () => {
    socket.write('GET /events HTTP/1.1\r\nHost: x\r\n\r\n');
    socket.pause();
  });
  socket.on('error', () => {});
  return socket;
}

describe('the live page with subscribers that never read', () => {
  it(`serves at most ${MAX_SUBSCRIBERS}, holds at most a frame each, and drops the stalled`, { timeout: 120_000 }, async () => {
    const dashboard = await Dashboard.start({ host: '127.0.0.1', port: 0, title: 'bounded', intervalMs: 200 });
    const fixture = loadBenchFixture();
    // A full hour of points: each frame (about 1 MB, as the page draws bench: both sides, the
    // kernel, wall-clock times) is then the heaviest the page sends.
    const timeline = Array.from({ length: 3600 }, (_, i) => ({ ...(fixture.timeline[i % fixture.timeline.length]!), t: i }));
    for (const point of timeline) dashboard.pushPoint(point);
    const frameBytes = Buffer.byteLength(JSON.stringify({ seq: 1_000_000, html: renderDashboardBody({ title: 'bounded', seq: 1_000_000, timeline, sources: [], errors: [], roles: ['server', 'load'], kernel: true, startedAtMs: Date.now() }) })) + 64;
    const port = Number(new URL(dashboard.url).port);
    const sockets = Array.from({ length: MAX_SUBSCRIBERS + 8 }, () => neverReader(port));
    try {
      await waitFor(() => dashboard.subscriberStats().subscribers + dashboard.subscriberStats().refused === sockets.length, { timeoutMs: 20_000 });
      assert.equal(dashboard.subscriberStats().refused, 8);
      let most = 0;
      await waitFor(() => {
        const s = dashboard.subscriberStats();
        most = Math.max(most, s.buffered_bytes);
        return s.dropped === MAX_SUBSCRIBERS && s.subscribers === 0;
      }, { timeoutMs: 90_000, describe: () => JSON.stringify(dashboard.subscriberStats()) });
      // each stream holds at most the one frame its socket did not take
      assert.ok(most > 0 && most <= MAX_SUBSCRIBERS * frameBytes, `the streams held ${most} bytes at most (a frame: ${frameBytes})`);
      assert.ok(SUBSCRIBER_STALL_TICKS > 1);
      // The cap frees up again once they are gone: a reader is served.
      const answer = await fetch(`${dashboard.url}events`);
      assert.equal(answer.status, 200);
      await answer.body?.cancel();
    } finally {
      for (const s of sockets) s.destroy();
      await dashboard.close();
    }
  });
});

type Handler = Parameters<typeof createServer>[1];

async function serveMetrics(handler: NonNullable<Handler>): Promise<{ server: Server; url: string }> {
  const server = createServer(handler);
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return { server, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/metrics` };
}

const HUGE_SERIES = 200_000;
function hugeLabelSet(): string {
  const lines = ['connlab_connections{role="load",shard="1/2"} 10'];
  // short lines: 200,000 series in 3 MiB, under the body cap, so the series cap is what cuts
  for (let i = 0; i < HUGE_SERIES; i++) lines.push(`c{e="${i}"} 1`);
  return `${lines.join('\n')}\n`;
}

describe('connlab dashboard against hostile /metrics endpoints', () => {
  let endless: { server: Server; url: string };
  let slow: { server: Server; url: string };
  let huge: { server: Server; url: string };
  let good: { server: Server; url: string };
  before(async () => {
    endless = await serveMetrics((_req, res) => {
      res.writeHead(200, { 'content-type': 'text/plain' });
      const chunk = Buffer.alloc(64 * 1024, 'connlab_connections{role="load"} 1\n');
      const pump = (): void => {
        while (!res.destroyed && res.write(chunk));
        if (!res.destroyed) res.once('drain', pump);
      };
      pump();
    });
    slow = await serveMetrics((_req, res) => {
      res.writeHead(200, { 'content-type': 'text/plain' });
      const timer = setInterval(() => res.write('# still here\n'), 50);
      res.on('close', () => clearInterval(timer));
    });
    const body = hugeLabelSet();
    huge = await serveMetrics((_req, res) => res.writeHead(200, { 'content-type': 'text/plain' }).end(body));
    good = await serveMetrics((_req, res) => res.writeHead(200).end('connlab_connections{role="server"} 5\nconnlab_connections_verified{role="load",shard="2/2"} 3\nconnlab_connections{role="load",shard="2/2"} 4\n'));
  });
  after(() => {
    for (const s of [endless, slow, huge, good]) s.server.closeAllConnections(), s.server.close();
  });

  it('cuts each hostile endpoint with its reason and keeps the good ones', async () => {
    const changes: string[] = [];
    const sampler = new ScrapeSampler([endless.url, slow.url, huge.url, good.url], { timeoutMs: 600 }, (s) => changes.push(`${s.url} ${s.cut}`));
    const started = performance.now();
    const point = await sampler.sample();
    assert.ok(performance.now() - started < 5_000, 'one scrape ends within its timeout, whatever the endpoints do');
    assert.deepEqual(sampler.status().map((s) => s.cut), ['body_too_large', 'timeout', 'too_many_series', null]);
    assert.deepEqual(changes, [`${endless.url} body_too_large`, `${slow.url} timeout`, `${huge.url} too_many_series`]);
    // only the good endpoint counts, in its rows and the point
    assert.deepEqual(sampler.rows().map((r) => [r.role, r.shard, r.connections, r.verified]), [['load', '2/2', 4, 3], ['server', null, 5, 0]]);
    assert.equal(point.server_connections, 5);
    sampler.close();
  });

  it('ends on --duration and on SIGTERM while scraping them, saying which endpoint was cut', { timeout: 60_000 }, async () => {
    const runFor = async (args: string[], signalAfterMs?: number): Promise<{ code: number | null; ms: number; stderr: string }> => {
      const started = performance.now();
      const child = spawn(process.execPath, [BIN, 'dashboard', endless.url, huge.url, slow.url, '--listen', '127.0.0.1:0', ...args], { stdio: ['ignore', 'ignore', 'pipe'] });
      let stderr = '';
      child.stderr.on('data', (d: Buffer) => (stderr += d));
      const exited = once(child, 'exit');
      // the signal goes once the page is up (its handlers installed), then after signalAfterMs
      const killer = signalAfterMs === undefined ? undefined : setTimeout(() => child.kill('SIGTERM'), signalAfterMs);
      if (killer) killer.unref();
      let signalledAt = 0;
      if (signalAfterMs !== undefined) {
        clearTimeout(killer);
        child.stderr.on('data', () => {
          if (signalledAt === 0 && stderr.includes('dashboard at')) {
            signalledAt = performance.now();
            setTimeout(() => child.kill('SIGTERM'), signalAfterMs);
          }
        });
      }
      const hard = setTimeout(() => child.kill('SIGKILL'), 30_000);
      const [code] = (await exited) as [number | null];
      clearTimeout(killer);
      clearTimeout(hard);
      return { code, ms: performance.now() - (signalledAt || started), stderr };
    };
    const timed = await runFor(['--duration', '3s']);
    assert.equal(timed.code, 0, timed.stderr);
    assert.ok(timed.ms < 15_000, `--duration 3s took ${Math.round(timed.ms)} ms`);
    for (const reason of ['body_too_large', 'too_many_series', 'timeout']) assert.match(timed.stderr, new RegExp(`cut \\(${reason}\\)`));
    const signalled = await runFor([], 2_000);
    assert.equal(signalled.code, 0, `SIGTERM is handled, not fatal: ${signalled.stderr}`);
    assert.ok(signalled.ms < 2_000 + 5_000, `SIGTERM 2 s after the page was up: ended ${Math.round(signalled.ms)} ms after the page was up`);
    await delay(0);
  });
});
