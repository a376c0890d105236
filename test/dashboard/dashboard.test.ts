import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { loadBenchFixture } from '../bench/report-fixture.ts';
import { renderDashboardBody } from '../../src/dashboard/render.ts';
import type { AddressInfo } from 'node:net';
import { parsePrometheusText, ScrapeSampler } from '../../src/dashboard/scrape.ts';
import { Dashboard } from '../../src/dashboard/server.ts';
import { startMetricsServer } from '../../src/metrics/http.ts';
import { ConnlabMetrics } from '../../src/metrics/registry.ts';
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
    for (const chart of ['connections', 'kernel_memory', 'ramp', 'latency']) assert.match(html, new RegExp(`data-chart="${chart}"`));
    assert.match(html, /<code>process_fds<\/code>/);
    assert.match(html, /id="limits"/);
  });

  it('draws only the sides a command runs, and counts connects or accepts for the side it holds', () => {
    const r = loadBenchFixture();
    const server = { role: 'server', shard: null, connections: 10, verified: 0, connected: 10, target: null, private_bytes: 1 };
    const serve = renderDashboardBody({ title: 'connlab serve', seq: 1, timeline: r.timeline, sources: [server], errors: [] });
    assert.doesNotMatch(serve, /data-series="load_|load connections/);
    assert.match(serve, /accepts\/s/);
    assert.match(serve, /–<\/span> verified/);
    // Bench before its load pool started: both sides already, so its header counts load's.
    const bench = renderDashboardBody({ title: 'connlab bench', seq: 1, timeline: r.timeline, sources: [server], errors: [], roles: ['server', 'load'] });
    assert.match(bench, /data-series="load_connections"/);
    assert.match(bench, /data-live="verified">0<\/span> verified · <span[^>]*>[\d,]+\/s<\/span> connects\/s/);
  });

  it('streams a snapshot a second of serve and a load shard, with a page that loads nothing else', async () => {
    const port = await freePort();
    const serve = await startServe({ listen: [{ host: '127.0.0.1', port }], workers: 1, fdSoftLimit: 20_000, reportIntervalMs: 100 });
    const dashboard = await Dashboard.start({ host: '127.0.0.1', port: 0, title: 'connlab test', intervalMs: 200 });
    const load = await startLoad({ destinations: [{ ip: 0x7f000001, port }], connections: 500, fdSoftLimit: 20_000, kernelPoolSize: 28_232, workers: 1, reportIntervalMs: 100, protocol: 'connlab' });
    dashboard.addPool(serve.pool, { role: 'server' });
    dashboard.addPool(load.pool, { role: 'load', shard: '1/1' }, 500);
    try {
      await load.rampDone();
      const head = await fetch(dashboard.url, { method: 'HEAD' });
      assert.equal(head.status, 200, 'HEAD / answers as GET / does');
      assert.equal(head.headers.get('content-type'), 'text/html; charset=utf-8');
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

describe('the dashboard over scraped metrics', () => {
  it('parses Prometheus text: names, labels with escapes, values; skips comments', () => {
    const text = '# HELP x y\n# TYPE x gauge\nconnlab_connections{role="load",shard="2/3"} 5000\nconnlab_errors_total{role="load",errno="E\\"X",limit="server"} 2\nup 1\n';
    assert.deepEqual(parsePrometheusText(text), [
      { name: 'connlab_connections', labels: { role: 'load', shard: '2/3' }, value: 5000 },
      { name: 'connlab_errors_total', labels: { role: 'load', errno: 'E"X', limit: 'server' }, value: 2 },
      { name: 'up', labels: {}, value: 1 },
    ]);
  });

  it('shows one row per shard from their /metrics endpoints, and survives one that is down', async () => {
    const port = await freePort();
    const serve = await startServe({ listen: [{ host: '127.0.0.1', port }], workers: 1, fdSoftLimit: 20_000, reportIntervalMs: 100 });
    const base = { destinations: [{ ip: 0x7f000001, port }], connections: 900, fdSoftLimit: 20_000, kernelPoolSize: 28_232, workers: 1, reportIntervalMs: 100 };
    const loads = await Promise.all([0, 1, 2].map((index) => startLoad({ ...base, shard: { index, count: 3 } })));
    const servers = await Promise.all(loads.map(async (load, i) => {
      const metrics = new ConnlabMetrics();
      metrics.addPool(load.pool, { role: 'load', shard: `${i + 1}/3` });
      return startMetricsServer(metrics.registry, '127.0.0.1', 0);
    }));
    const urls = servers.map((s) => `http://127.0.0.1:${(s.address() as AddressInfo).port}/metrics`);
    const sampler = new ScrapeSampler([...urls, `http://127.0.0.1:${await freePort()}/metrics`]);
    try {
      await Promise.all(loads.map((l) => l.rampDone()));
      await Promise.all(loads.map((l) => l.pool.refresh()));
      const point = await sampler.sample();
      assert.equal(point.load_connections, 900);
      assert.deepEqual(sampler.rows().map((r) => [r.role, r.shard, r.connections]), [['load', '1/3', 300], ['load', '2/3', 300], ['load', '3/3', 300]]);
      const html = renderDashboardBody({ title: 't', seq: 1, timeline: [point], sources: sampler.rows(), errors: sampler.errors() });
      assert.match(html, /<code>3\/3<\/code>/);
    } finally {
      for (const s of servers) s.close();
      await Promise.all(loads.map((l) => l.close()));
      await serve.close();
    }
  });
});
