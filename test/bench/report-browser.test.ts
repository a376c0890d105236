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
import { formatField } from '../../src/bench/report-format.ts';
import { renderBenchReport } from '../../src/bench/report-html.ts';
import { CHART_SERIES, loadBenchFixture, valueAt } from './report-fixture.ts';

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
      for (const s of box.series) assert.ok(s.length > 100, `${box.chart}/${s.id} is drawn (length ${s.length})`);
    }
  });

  it('shows every marked number as the JSON value, formatted', async () => {
    const fields = await page.$$eval('[data-field]', (elements) =>
      elements.map((el) => ({ path: el.getAttribute('data-field') ?? '', text: el.textContent ?? '' })));
    assert.ok(fields.length > 40, `${fields.length} marked fields`);
    for (const { path, text } of fields) assert.equal(text, formatField(path, valueAt(result, path)), path);
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
