// The live pages of `connlab serve --dashboard` and `connlab load --dashboard` in
// Debian's Chromium, read as a user reads them: serve's page says start before anyone
// connects, then counts accepts per second while load ramps, shows no load series and no
// verified count it cannot know; load's page shows no server series and charts its
// connect and ping latency. Values are read from the rendered page and the chart data.
// Missing chromium is a failure, not a skip: .ci/run installs it.

import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { chromium, type Page } from 'playwright-core';
import { main } from '../../src/cli/main.ts';
import { recordingIo } from '../helpers/io.ts';
import { freePort } from '../helpers/net.ts';

const CHROMIUM = '/usr/bin/chromium';
const ARGS = ['--headless=new', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync'];

/** The page's document, typed as little as these checks need (they run in the browser). */
interface Dom { document: { querySelector(selector: string): { textContent: string | null } | null } }
const live = (page: Page, field: string): Promise<string | null> => page.textContent(`[data-live="${field}"]`);

async function waitFor(io: ReturnType<typeof recordingIo>, text: string): Promise<void> {
  for (let i = 0; i < 100 && !io.err().includes(text); i++) await new Promise((r) => setTimeout(r, 100));
  assert.ok(io.err().includes(text), `${text} in ${io.err()}`);
}

const seriesIds = (page: Page): Promise<string[]> =>
  page.$$eval('path[data-series]', (paths) => paths.map((p) => p.getAttribute('data-series') ?? ''));

describe('serve and load live pages in Chromium', () => {
  it('show the phase, rate, verified count, series and latency each command really has', async () => {
    assert.ok(existsSync(CHROMIUM), `${CHROMIUM} is missing: apt-get install -y chromium`);
    const [port, servePage, loadPage] = [await freePort(), await freePort(), await freePort()];
    const serveIo = recordingIo();
    const serve = main(['serve', '--listen', `127.0.0.1:${port}`, '--workers', '1', '--duration', '30s', '--dashboard', String(servePage)], serveIo);
    const workDir = await mkdtemp(join(tmpdir(), 'connlab-pages-'));
    const context = await chromium.launchPersistentContext(join(workDir, 'profile'), { executablePath: CHROMIUM, args: ARGS, viewport: { width: 1100, height: 900 } });
    let load: Promise<number> | undefined;
    try {
      await waitFor(serveIo, 'dashboard at');
      const head = await fetch(`http://127.0.0.1:${servePage}/`, { method: 'HEAD' });
      assert.equal(head.status, 200, 'HEAD / answers 200 like GET');
      const serveView = await context.newPage();
      await serveView.goto(`http://127.0.0.1:${servePage}/`, { waitUntil: 'load' });
      // Wait for a sampled point: before any connection serve is starting, not holding.
      await serveView.waitForFunction(() => Number((globalThis as unknown as Dom).document.querySelector('[data-live="seq"]')?.textContent) >= 2, undefined, { timeout: 20_000 });
      assert.equal(await live(serveView, 'phase'), 'start');

      const loadIo = recordingIo();
      load = main(['load', `127.0.0.1:${port}`, '-c', '3000', '--rate', '1000', '--protocol', 'connlab', '--duration', '6s', '--ping', '2s', '--dashboard', String(loadPage)], loadIo);
      await waitFor(loadIo, 'dashboard at');
      const loadView = await context.newPage();
      await loadView.goto(`http://127.0.0.1:${loadPage}/`, { waitUntil: 'load' });

      // Serve while load ramps at 1,000/s: ramp, accepts per second counted, never "load connections".
      await serveView.waitForFunction(() => (globalThis as unknown as Dom).document.querySelector('[data-live="phase"]')?.textContent === 'ramp', undefined, { timeout: 20_000 });
      await serveView.waitForFunction(() => Number(((globalThis as unknown as Dom).document.querySelector('[data-live="connects_per_second"]')?.textContent ?? '').replace(/\D/g, '')) > 0, undefined, { timeout: 20_000 });
      assert.match(await serveView.textContent('header') ?? '', /accepts\/s/);
      assert.equal(await serveView.textContent('#sources tbody tr td:nth-child(3)'), '–', 'serve cannot know verified: a dash, not 0');
      const serveSeries = await seriesIds(serveView);
      assert.ok(serveSeries.includes('server_connections'));
      assert.ok(!serveSeries.some((id) => id.startsWith('load_')), serveSeries.join());
      assert.doesNotMatch(await serveView.textContent('#timeline') ?? '', /load connections/);

      // Load: holds, verifies by ping, charts its latency; no server series.
      await loadView.waitForFunction(() => (globalThis as unknown as Dom).document.querySelector('[data-live="verified"]')?.textContent === '3,000', undefined, { timeout: 40_000 });
      const loadSeries = await seriesIds(loadView);
      assert.ok(loadSeries.includes('load_connections'));
      assert.ok(!loadSeries.some((id) => id.startsWith('server_')), loadSeries.join());
      assert.ok(loadSeries.includes('connect_p50_ms') && loadSeries.includes('rtt_p99_ms'), loadSeries.join());
      const hover = await loadView.$$eval('svg[data-chart="latency"] g.hover', (groups) => groups.map((g) => g.textContent ?? '')) as string[];
      assert.ok(hover.some((text) => /^\d\d:\d\d:\d\d UTC · [\d.]+ s.*connect p99: [\d.,]+ ms/.test(text)), hover.slice(0, 3).join('\n'));

      // Serve once every connection is in: holding, the count read back.
      await serveView.waitForFunction(() => (globalThis as unknown as Dom).document.querySelector('[data-live="phase"]')?.textContent === 'hold', undefined, { timeout: 20_000 });
      assert.equal(await live(serveView, 'connections'), '3,000');
      assert.equal(await load, 0, loadIo.err());
      await serveView.waitForFunction(() => (globalThis as unknown as Dom).document.querySelector('[data-live="phase"]')?.textContent === 'teardown', undefined, { timeout: 20_000 });
    } finally {
      await context.close();
      await rm(workDir, { recursive: true, force: true });
      await load?.catch(() => 1);
    }
    assert.equal(await serve, 0, serveIo.err());
  });
});
