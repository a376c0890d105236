// The bench report in a real browser (Debian's chromium, driven by playwright-core), with
// every non-file request aborted: the charts must lay out and draw, the numbers must
// read back equal to the JSON, and nothing may be fetched or logged as an error.
// Missing chromium is a failure, not a skip: .ci/run installs it.

import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { copyFile, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { pathToFileURL } from 'node:url';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { formatBytes, formatField } from '../../src/bench/report-format.ts';
import { renderBenchReport } from '../../src/bench/report-html.ts';
import { CHART_SERIES, loadBenchFixture, SPARSE_SERIES, valueAt } from './report-fixture.ts';

const CHROMIUM = '/usr/bin/chromium';
const ARGS = ['--headless=new', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync'];
const ARTIFACTS = new URL('../artifacts/', import.meta.url).pathname;
const DOCS_SCREENSHOT = new URL('../../docs/bench-report.png', import.meta.url).pathname;

interface ChartBox {
  chart: string;
  width: number;
  height: number;
  series: { id: string; length: number }[];
}

const MISSING = `${CHROMIUM} is missing: install Debian's chromium (apt-get install -y chromium); .ci/run does`;

it('finds Debian\'s chromium to drive', () => {
  assert.ok(existsSync(CHROMIUM), MISSING);
});

describe('bench HTML report in Chromium', () => {
  const result = loadBenchFixture();
  const requests: string[] = [];
  const consoleErrors: string[] = [];
  let workDir = '';
  let context: BrowserContext | undefined;
  let page: Page;

  before(async () => {
    assert.ok(existsSync(CHROMIUM), MISSING);
    workDir = await mkdtemp(join(tmpdir(), 'connlab-report-'));
    const file = join(workDir, 'bench-report.html');
    await writeFile(file, renderBenchReport(result));
    context = await chromium.launchPersistentContext(join(workDir, 'profile'), {
      executablePath: CHROMIUM, args: ARGS, viewport: { width: 1100, height: 900 }, offline: true,
    });
    await context.route('**/*', (route) => (route.request().url().startsWith('file:') ? route.continue() : route.abort()));
    page = context.pages()[0] ?? (await context.newPage());
    page.on('request', (request) => requests.push(request.url()));
    page.on('console', (message) => { if (message.type() === 'error') consoleErrors.push(message.text()); });
    page.on('pageerror', (error) => consoleErrors.push(error.message));
    await page.goto(pathToFileURL(file).href, { waitUntil: 'load' });
  });

  after(async () => {
    await context?.close();
    if (workDir) await rm(workDir, { recursive: true, force: true });
  });

  it('loads from file:// without requesting anything else', () => {
    assert.deepEqual(requests.filter((url) => !url.startsWith('file:')), []);
    assert.equal(requests.length, 1);
  });

  it('lays out every chart and draws every series with a visible length', async () => {
    // Runs in the page; tsconfig has no DOM lib, so the elements are untyped there.
    const boxes = await page.$$eval('svg[data-chart]', (svgs) => svgs.map((svg) => {
      const box = svg.getBoundingClientRect();
      const series = [...svg.querySelectorAll('path[data-series]')]
        .map((path) => ({ id: path.dataset['series'] ?? '', length: path.getTotalLength() }));
      return { chart: svg.dataset['chart'] ?? '', width: box.width, height: box.height, series };
    })) as ChartBox[];
    assert.deepEqual(boxes.map((b) => b.chart), Object.keys(CHART_SERIES));
    for (const box of boxes) {
      assert.ok(box.width > 300 && box.height > 100, `${box.chart} is ${box.width}×${box.height}`);
      assert.deepEqual(box.series.map((s) => s.id), CHART_SERIES[box.chart]);
      for (const s of box.series) if (!SPARSE_SERIES.has(s.id)) assert.ok(s.length > 100, `${box.chart}/${s.id} is drawn (length ${s.length})`);
    }
  });

  it('shows every marked number as the JSON value, formatted', async () => {
    const fields = await page.$$eval('[data-field]', (elements) =>
      elements.map((el) => ({ path: el.getAttribute('data-field') ?? '', text: el.textContent ?? '' })));
    assert.ok(fields.length > 40, `${fields.length} marked fields`);
    for (const { path, text } of fields) assert.equal(text, formatField(path, valueAt(result, path)), path);
  });

  /** A series' vertices as drawn, in the chart's viewBox pixels, in order (the browser's own parse of `d`). */
  const vertices = (chart: string, series: string): Promise<{ x: number; y: number }[]> =>
    page.$eval(`svg[data-chart="${chart}"] path[data-series="${series}"]`, (path) => {
      const d = path.getAttribute('d') ?? '';
      return [...d.matchAll(/[ML]([\d.]+),([\d.]+)/g)].map((m) => ({ x: Number(m[1]), y: Number(m[2]) }));
    });

  it('shades each phase from where it began: the ramp band starts before the connections rise, teardown is drawn', async () => {
    const bands = await page.$$eval('svg[data-chart="connections"] g.band', (groups) => groups.map((g) => {
      const rect = g.querySelector('rect');
      return { label: g.querySelector('text')?.textContent ?? '', x: Number(rect?.getAttribute('x')), w: Number(rect?.getAttribute('width')) };
    })) as { label: string; x: number; w: number }[];
    assert.deepEqual(bands.map((b) => b.label), ['ramp', 'verify', 'hold', 'broadcast', 'teardown']);
    const load = await vertices('connections', 'load_connections');
    const firstRise = load.find((v, i) => i > 0 && v.y < (load[0]?.y ?? 0));
    const ramp = bands[0]!;
    assert.ok(firstRise && ramp.x < firstRise.x && firstRise.x <= ramp.x + ramp.w, `first rise at ${firstRise?.x} within the ramp band ${ramp.x}..${ramp.x + ramp.w}`);
    const teardown = bands.at(-1)!;
    const lastFall = load.findLast((v, i) => i > 0 && v.y > (load[i - 1]?.y ?? 0));
    assert.ok(lastFall && lastFall.x > teardown.x, 'connections fall inside the teardown band');
  });

  it('draws the socket slab without a dip: it never falls during the ramp', async () => {
    const slab = await vertices('kernel_memory', 'slab_bytes');
    const peak = slab.reduce((best, v, i) => (v.y < (slab[best]?.y ?? Infinity) ? i : best), 0);
    // SVG y grows downwards: rising bytes are falling y, up to the peak.
    for (let i = 1; i <= peak; i++) assert.ok((slab[i]?.y ?? 0) <= (slab[i - 1]?.y ?? 0), `slab vertex ${i} does not dip`);
  });

  it('puts private memory on an axis of its own where it is not flat, with per-connection lines', async () => {
    const heights = await page.$eval('svg[data-chart="process_memory"]', (svg) => {
      const ys = (id: string): number[] => [...(svg.querySelector(`path[data-series="${id}"]`)?.getAttribute('d') ?? '').matchAll(/[ML][\d.]+,([\d.]+)/g)].map((m) => Number(m[1]));
      const span = (v: number[]): number => Math.max(...v) - Math.min(...v);
      return { server: span(ys('server_private_bytes')), load: span(ys('load_private_bytes')), frame: Number(svg.querySelector('g.band rect')?.getAttribute('height')) };
    }) as { server: number; load: number; frame: number };
    assert.ok(heights.server > heights.frame * 0.3 && heights.load > heights.frame * 0.3, JSON.stringify(heights));
    const hover = await page.$$eval('svg[data-chart="process_memory"] g.hover', (groups) => groups.map((g) => g.textContent ?? '')) as string[];
    // In the hold the per-connection line reads the sample's private bytes over its connections.
    const hold = result.timeline.find((p) => p.phase === 'hold')!;
    const perConnection = `server per conn. (right): ${formatBytes(hold.server_private_bytes / hold.server_connections)}`;
    assert.ok(hover.some((text) => text.includes(perConnection)), `${perConnection} in some hover`);
  });

  it('labels CPU as the whole host\'s', async () => {
    assert.match(await page.textContent('svg[data-chart="ramp"]') ?? '', /host CPU busy, all cores/);
  });

  it('charts connect, ping and broadcast percentiles where samples arrived', async () => {
    const connect = await vertices('latency', 'connect_p99_ms');
    const rtt = await vertices('latency', 'rtt_p50_ms');
    const broadcast = await vertices('latency', 'broadcast_p99_ms');
    const samples = (kind: 'connect' | 'rtt' | 'broadcast'): number => result.timeline.filter((p) => p.latency_ms?.[kind]).length;
    assert.equal(connect.length, samples('connect'));
    assert.equal(rtt.length, samples('rtt'));
    assert.equal(broadcast.length, samples('broadcast'));
    const hover = await page.$$eval('svg[data-chart="latency"] g.hover', (groups) => groups.map((g) => g.textContent ?? '')) as string[];
    assert.ok(hover.some((text) => text.includes('broadcast p99: 1,240 ms')), 'broadcast p99 read back on hover');
  });

  it('shows a sample\'s UTC time and values when the pointer is over it', async () => {
    // Runs in the page; tsconfig has no DOM lib.
    const getComputedStyle = (el: unknown): { visibility: string } =>
      (globalThis as unknown as { getComputedStyle(e: unknown): { visibility: string } }).getComputedStyle(el);
    const column = page.locator('svg[data-chart="connections"] g.hover[data-x="12"]');
    const text = column.locator('text');
    assert.equal(await text.evaluate((el) => getComputedStyle(el).visibility), 'hidden');
    await column.locator('rect').hover({ force: true });
    assert.equal(await text.evaluate((el) => getComputedStyle(el).visibility), 'visible');
    const wall = new Date(Date.parse(result.started_at) + 12_000).toISOString().slice(11, 19);
    assert.equal(await text.locator('tspan').first().textContent(), `${wall} UTC · 12 s`);
    assert.match(await text.textContent() ?? '', /load connections: 99,998/);
  });

  it('logs no console errors', () => {
    assert.deepEqual(consoleErrors, []);
  });

  it('saves a full-page screenshot to test/artifacts (and docs/ when CONNLAB_UPDATE_DOCS=1)', async () => {
    await mkdir(ARTIFACTS, { recursive: true });
    const shot = join(ARTIFACTS, 'bench-report.png');
    await page.screenshot({ path: shot, fullPage: true });
    assert.ok(existsSync(shot));
    if (process.env['CONNLAB_UPDATE_DOCS'] === '1') await copyFile(shot, DOCS_SCREENSHOT);
  });
});
