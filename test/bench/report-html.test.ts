import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { renderBenchReport } from '../../src/bench/report-html.ts';
import { formatField } from '../../src/bench/report-format.ts';
import { CHART_SERIES, loadBenchFixture, markedFields, SPARSE_SERIES, valueAt } from './report-fixture.ts';

const REQUIRED_FIELDS = [
  'connections.established', 'connections.verified', 'connections.target', 'outcome', 'started_at', 'command',
  'machine.hostname', 'machine.kernel', 'machine.cpus', 'machine.memory_bytes', 'machine.node', 'machine.fd_limit',
  'memory.kernel_bytes_per_connection', 'memory.server_user_bytes_per_connection', 'memory.load_user_bytes_per_connection',
  'memory.kernel_expected_bytes_per_connection', 'memory.server_private_bytes', 'memory.load_private_bytes',
  'memory.kernel_by_cache.TCP', 'memory.kernel_by_cache.sock_inode_cache',
  'ramp.seconds', 'ramp.per_second', 'ramp.connect_ms.p50', 'ramp.connect_ms.p99',
  'broadcast.delivered', 'broadcast.p50_ms', 'broadcast.p99_ms', 'hold_seconds',
  'limits.binding', 'limits.headroom.process_fds', 'limits.headroom.memory', 'errors.ETIMEDOUT',
];

function chartSvg(html: string, id: string): string {
  const match = new RegExp(`<svg data-chart="${id}"[\\s\\S]*?</svg>`).exec(html);
  assert.ok(match, `chart ${id} is on the page`);
  return match[0];
}

describe('bench HTML report', () => {
  const result = loadBenchFixture();
  const html = renderBenchReport(result);

  it('is one self-contained document that references nothing outside itself', () => {
    assert.match(html, /^<!doctype html>/);
    assert.doesNotMatch(html, /https?:\/\//i);
    assert.doesNotMatch(html, /\b(src|href|xlink:href)\s*=/i);
    assert.doesNotMatch(html, /<(script|link|img|iframe|object)\b|@import|url\(/i);
  });

  it('marks every field it shows with its JSON path and the value formatted from the JSON', () => {
    const fields = markedFields(html);
    assert.ok(fields.length >= REQUIRED_FIELDS.length);
    for (const { path, text } of fields) {
      const value = valueAt(result, path);
      assert.notEqual(value, undefined, `${path} exists in the result`);
      assert.equal(text, formatField(path, value), path);
    }
    const shown = new Set(fields.map((f) => f.path));
    for (const path of REQUIRED_FIELDS) assert.ok(shown.has(path), `${path} is shown`);
  });

  it('writes the headline numbers the way a reader expects them', () => {
    const text = new Map(markedFields(html).map((f) => [f.path, f.text]));
    assert.equal(text.get('connections.established'), '99,998');
    assert.equal(text.get('connections.target'), '100,000');
    assert.equal(text.get('memory.kernel_bytes_per_connection'), '7,812 B');
    assert.equal(text.get('memory.server_private_bytes'), '147 MiB');
    assert.equal(text.get('machine.memory_bytes'), '24.0 GiB');
    assert.equal(text.get('ramp.seconds'), '4.0 s');
    assert.equal(text.get('ramp.per_second'), '24,875/s');
    assert.equal(text.get('ramp.connect_ms.p50'), '0.412 ms');
    assert.equal(text.get('ramp.connect_ms.p99'), '3.87 ms');
    assert.equal(text.get('limits.headroom.process_fds'), '+19,400');
    assert.equal(text.get('started_at'), '2026-11-21 11:20:03 UTC');
  });

  it('draws each chart with every series as a non-empty line', () => {
    for (const [chart, series] of Object.entries(CHART_SERIES)) {
      const svg = chartSvg(html, chart);
      for (const id of series) {
        const d = new RegExp(`<path data-series="${id}" d="([^"]*)"`).exec(svg)?.[1] ?? '';
        if (SPARSE_SERIES.has(id)) assert.match(d, /^M[\d.]+,[\d.]+( [LM][\d.]+,[\d.]+| l0,0)+$/, `${chart}/${id} has path data`);
        else assert.match(d, /^M[\d.]+,[\d.]+( L[\d.]+,[\d.]+){10,}$/, `${chart}/${id} has path data`);
      }
    }
  });

  it('shades the ramp, verify, hold, broadcast and teardown phases', () => {
    const svg = chartSvg(html, 'connections');
    for (const phase of ['ramp', 'verify', 'hold', 'broadcast', 'teardown']) assert.match(svg, new RegExp(`<g class="band">[^]*?>${phase}</text>`));
  });

  it('says a ping, as the CLI does', () => {
    assert.match(html, /99,998<\/span> answered a ping/);
    assert.doesNotMatch(html, /echo/);
  });

  it('never prints NaN, undefined or Infinity', () => {
    assert.doesNotMatch(html, /NaN|undefined|Infinity/);
  });

  it('escapes the command, the hostname and every key it interpolates', () => {
    const hostile = loadBenchFixture();
    hostile.command = 'connlab bench --label "</code><script>alert(1)</script>"';
    hostile.machine.hostname = 'evil<img src=x onerror=alert(1)>&co';
    hostile.errors = { 'E"><b>X': 1 };
    const page = renderBenchReport(hostile);
    assert.doesNotMatch(page, /<script|<img|<b>/i);
    assert.ok(page.includes('&lt;/code&gt;&lt;script&gt;alert(1)&lt;/script&gt;'));
    assert.ok(page.includes('evil&lt;img src=x onerror=alert(1)&gt;&amp;co'));
    const text = new Map(markedFields(page).map((f) => [f.path, f.text]));
    assert.equal(text.get('command'), hostile.command);
    assert.equal(text.get('errors.E"><b>X'), '1');
  });

  it('renders a run that ended before any sample, error or limit', () => {
    const empty = loadBenchFixture();
    Object.assign(empty, { timeline: [], errors: {}, outcome: 'SIGINT', limits: { binding: null, headroom: {} } });
    const page = renderBenchReport(empty);
    assert.doesNotMatch(page, /NaN|undefined|Infinity/);
    assert.match(page, /no socket errors/);
    assert.equal(new Map(markedFields(page).map((f) => [f.path, f.text])).get('limits.binding'), 'none');
  });
});
