import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { loadBenchFixture } from '../bench/report-fixture.ts';
import { renderDashboardBody } from '../../src/dashboard/render.ts';
import { Dashboard } from '../../src/dashboard/server.ts';
import { startLoad } from '../../src/load/load.ts';
import { startServe } from '../../src/server/serve.ts';
import { freePort } from '../helpers/net.ts';

/** Reads the event stream until `count` data frames arrived; returns them parsed. */
async function frames(url: string, count: number): Promise<{ seq: number; html: string }[]> {
  const response = await fetch(url);
  assert.equal(response.headers.get('content-type'), 'text/event-stream');
  const reader = response.body!.getReader();
  const decoder = new TextDecoder();
  let text = '';
  const out: { seq: number; html: string }[] = [];
  while (out.length < count) {
    const { value, done } = await reader.read();
    if (done) break;
    text += decoder.decode(value, { stream: true });
    let end: number;
    while ((end = text.indexOf('\n\n')) >= 0) {
      const event = text.slice(0, end);
      text = text.slice(end + 2);
      if (event.startsWith('data: ')) out.push(JSON.parse(event.slice(6)));
    }
  }
  await reader.cancel();
  return out;
}

describe('the live dashboard', () => {
  it('renders the bench report\'s charts and tables from a snapshot', () => {
    const r = loadBenchFixture();
    const html = renderDashboardBody({ title: 'connlab bench', seq: 3, timeline: r.timeline, sources: [], errors: [{ errno: 'EMFILE', limit: 'process_fds', count: 2 }], limits: r.limits });
    for (const chart of ['connections', 'memory', 'ramp']) assert.match(html, new RegExp(`data-chart="${chart}"`));
    assert.match(html, /<code>process_fds<\/code>/);
    assert.match(html, /id="limits"/);
  });

  it('streams a snapshot a second of serve and a load shard, with a page that loads nothing else', async () => {
    const port = await freePort();
    const serve = await startServe({ listen: [{ host: '127.0.0.1', port }], workers: 1, fdSoftLimit: 20_000, reportIntervalMs: 100 });
    const dashboard = await Dashboard.start({ host: '127.0.0.1', port: 0, title: 'connlab test', intervalMs: 200 });
    const load = await startLoad({ destinations: [{ ip: 0x7f000001, port }], connections: 500, fdSoftLimit: 20_000, kernelPoolSize: 28_232, workers: 1, reportIntervalMs: 100 });
    dashboard.addPool(serve.pool, { role: 'server' });
    dashboard.addPool(load.pool, { role: 'load', shard: '1/1' }, 500);
    try {
      await load.rampDone();
      const page = await fetch(dashboard.url);
      assert.match(page.headers.get('content-security-policy') ?? '', /default-src 'none'/);
      const html = await page.text();
      assert.doesNotMatch(html, /(src|href)="?https?:/, 'no external resource');
      const got = await frames(`${dashboard.url}events`, 3);
      assert.ok(got[2]!.seq > got[0]!.seq);
      assert.match(got[2]!.html, /<code>1\/1<\/code>/);
      assert.match(got[2]!.html, /data-chart="connections"/);
    } finally {
      await load.close();
      await serve.close();
      await dashboard.close();
    }
  });
});
