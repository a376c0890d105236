// The live dashboard of a real `connlab bench --dashboard` in Debian's Chromium: the page
// loads from the dashboard alone, receives snapshots while the run goes on, and its
// charts (the bench report's own renderer) draw. Any request elsewhere is aborted and
// counted as a failure. Missing chromium is a failure, not a skip: .ci/run installs it.

import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { chromium } from 'playwright-core';
import { main } from '../../src/cli/main.ts';
import { recordingIo } from '../helpers/io.ts';
import { freePort } from '../helpers/net.ts';

const CHROMIUM = '/usr/bin/chromium';

/** The page's document, typed as little as these checks need (they run in the browser). */
interface Dom { document: { querySelector(selector: string): { dataset: Record<string, string | undefined>; textContent: string | null } | null } }
const ARGS = ['--headless=new', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync'];

describe('bench --dashboard in Chromium', () => {
  it('updates live over server-sent events, draws the report\'s charts, fetches nothing else', async () => {
    assert.ok(existsSync(CHROMIUM), `${CHROMIUM} is missing: apt-get install -y chromium`);
    const port = await freePort();
    const origin = `http://127.0.0.1:${port}`;
    const io = recordingIo();
    const bench = main(['bench', '--connections', '4000', '--hold', '6s', '--no-report', '--dashboard', String(port)], io);
    const workDir = await mkdtemp(join(tmpdir(), 'connlab-dashboard-'));
    const context = await chromium.launchPersistentContext(join(workDir, 'profile'), { executablePath: CHROMIUM, args: ARGS, viewport: { width: 1100, height: 900 } });
    const foreign: string[] = [];
    const consoleErrors: string[] = [];
    try {
      await context.route('**/*', (route) => {
        if (route.request().url().startsWith(origin)) return route.continue();
        foreign.push(route.request().url());
        return route.abort();
      });
      const page = context.pages()[0] ?? (await context.newPage());
      page.on('console', (m) => { if (m.type() === 'error') consoleErrors.push(m.text()); });
      page.on('pageerror', (e) => consoleErrors.push(e.message));
      // The dashboard listens before the bench starts its workers.
      for (let i = 0; i < 50 && !io.err().includes('dashboard at'); i++) await new Promise((r) => setTimeout(r, 100));
      await page.goto(`${origin}/`, { waitUntil: 'load' });
      const first = Number(await page.getAttribute('main', 'data-seq'));
      // Two fresh snapshots arrive by the stream, and the run's connections show up in them.
      // Functions, not strings: the page's CSP forbids eval. This tsconfig has no DOM types.
      await page.waitForFunction((seq) => Number((globalThis as unknown as Dom).document.querySelector('main')?.dataset['seq']) >= seq + 2, first, { timeout: 20_000 });
      await page.waitForFunction(() => (globalThis as unknown as Dom).document.querySelector('[data-live="connections"]')?.textContent === '4,000', undefined, { timeout: 60_000 });
      const charts = await page.$$eval('svg[data-chart]', (svgs) => svgs.map((svg) => ({
        chart: svg.dataset['chart'] ?? '',
        width: svg.getBoundingClientRect().width,
        drawn: [...svg.querySelectorAll('path[data-series]')].map((p) => ({ id: p.dataset['series'] ?? '', length: p.getTotalLength() })),
      }))) as { chart: string; width: number; drawn: { id: string; length: number }[] }[];
      assert.deepEqual(charts.map((c) => c.chart).slice(0, 4), ['connections', 'kernel_memory', 'process_memory', 'ramp']);
      // Bench's page: connect latency charted once the ramp's reports are in, times in UTC on hover.
      await page.waitForFunction(() => (globalThis as unknown as Dom).document.querySelector('svg[data-chart="latency"]') !== null, undefined, { timeout: 30_000 });
      const hover = await page.$$eval('svg[data-chart="latency"] g.hover', (groups) => groups.map((g) => g.textContent ?? '')) as string[];
      assert.ok(hover.some((text) => /^\d\d:\d\d:\d\d UTC · [\d.]+ s.*connect p50: [\d.,]+ ms/.test(text)), hover.slice(0, 3).join('\n'));
      for (const c of charts) assert.ok(c.width > 300, `${c.chart} laid out`);
      const connections = charts[0]!.drawn.find((s) => s.id === 'load_connections');
      assert.ok(connections && connections.length > 50, `load connections drawn: ${JSON.stringify(connections)}`);
      assert.equal(await page.textContent('#sources tbody tr:nth-child(1) td'), 'server');
      assert.deepEqual(foreign, [], 'nothing fetched from anywhere but the dashboard');
      assert.deepEqual(consoleErrors, []);
    } finally {
      await context.close();
      await rm(workDir, { recursive: true, force: true });
    }
    assert.equal(await bench, 0, io.err());
    await assert.rejects(fetch(`${origin}/`), 'the dashboard closes with the command');
  });
});
