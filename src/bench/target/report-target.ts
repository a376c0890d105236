// The `bench --target` section of the HTML report: doctor's extrapolation for the user's
// server, the fits as charts (measured points and the fitted line, on svg-chart.ts), and
// the steps. Numbers the JSON holds carry `data-field` paths, like the rest of the page.

import { escapeHtml, formatField } from '../report-format.ts';
import type { BenchResult } from '../result.ts';
import { renderLineChart, type LineChart } from '../svg-chart.ts';
import type { TargetFit, TargetSection } from './target-result.ts';

function field(path: string, value: unknown, tag = 'span'): string {
  return `<${tag} class="num" data-field="${escapeHtml(path)}">${escapeHtml(formatField(path, value))}</${tag}>`;
}

const derived = (text: string): string => `<span class="num" data-derived>${escapeHtml(text)}</span>`;

/** Measured points (the baseline at 0, then each step that held) and the fitted line under them. */
export function fitChart(id: string, title: string, measured: { x: number; y: number }[], fit: TargetFit, color: string, per = 'connection', offsetBytes = 0): LineChart {
  const maxX = Math.max(1, ...measured.map((p) => p.x));
  const minX = Math.min(maxX, ...measured.map((p) => p.x));
  const line = [minX, maxX].map((x) => ({ x, y: fit.intercept_bytes - offsetBytes + fit.bytes_per_connection * x }));
  // Sorted by x: host-wide socket counts can fall between steps when other processes close theirs.
  measured = measured.map((p) => ({ x: p.x, y: p.y - offsetBytes })).sort((a, b) => a.x - b.x);
  return {
    id, title, unit: 'bytes', xUnit: 'count',
    series: [
      { id: `${id}_measured`, label: 'measured at each step', color, points: measured, strokeWidth: 3 },
      { id: `${id}_fit`, label: `fit: ${fit.bytes_per_connection} B/${per}, r² ${fit.r2}`, color: '#6b7280', points: line, dashed: true },
    ],
  };
}

export function targetCharts(t: TargetSection): LineChart[] {
  const held = t.steps.filter((s) => s.ok);
  return [
    // Above the idle baseline: the axis starts at 0, and 8 MB of growth on 130 MB of fixed
    // memory would draw as a flat line.
    fitChart('server_fit', `Server ${t.remote ? t.remote.memory_metric : 'private dirty memory'} above its idle baseline, against connections held`,
      [{ x: 0, y: t.baseline.server_private_dirty_bytes }, ...held.map((s) => ({ x: s.established, y: s.server_private_dirty_bytes }))],
      t.fit, '#2563eb', 'connection', t.baseline.server_private_dirty_bytes),
    fitChart('kernel_fit', 'Socket slab caches against TCP sockets in use (host-wide)', [{ x: t.baseline.kernel_sockets, y: t.baseline.slab_bytes }, ...held.map((s) => ({ x: s.kernel_sockets, y: s.slab_bytes }))], t.kernel_fit, '#0d9488', 'socket'),
  ];
}

function stepsTable(t: TargetSection): string {
  const rows = t.steps.map((s, i) => `<tr${s.ok ? '' : ' class="binding"'}><td class="num">${s.step}</td>`
    + `<td class="num">${field(`target.steps.${i}.target`, s.target)}</td><td class="num">${field(`target.steps.${i}.established`, s.established)}</td>`
    + `<td class="num">${field(`target.steps.${i}.verified`, s.verified)}</td><td class="num">${field(`target.steps.${i}.server_private_dirty_bytes`, s.server_private_dirty_bytes)}</td>`
    + `<td class="num">${field(`target.steps.${i}.slab_bytes`, s.slab_bytes)}</td><td class="num">${field(`target.steps.${i}.server_cpu_seconds`, s.server_cpu_seconds)}</td>`
    + `<td>${s.ok ? 'held' : 'failed'}</td></tr>`);
  return `<table><thead><tr><th class="num">Step</th><th class="num">Asked</th><th class="num">Held</th><th class="num">Verified</th>`
    + `<th class="num">Server private dirty</th><th class="num">Socket slab</th><th class="num">Server CPU</th><th></th></tr></thead><tbody>${rows.join('\n')}</tbody></table>`;
}

/** A server on another host: where it was read from, and what those endpoints could not show. */
function remoteRows(t: TargetSection): string {
  const r = t.remote;
  if (!r) return '';
  const endpoints = r.endpoints.map((e) => `${escapeHtml(e.url)} (${escapeHtml(e.role)}${e.error ? `: ${escapeHtml(e.error)}` : ''})`).join(', ');
  return `<tr><th scope="row">Read from</th><td class="num">${derived(String(r.endpoints.length))}</td><td class="note">${endpoints}; descriptor limit ${field('target.server.fd_soft_limit', t.server.fd_soft_limit)}</td></tr>
<tr><th scope="row">Not seen</th><td></td><td class="note">${r.unseen.map(escapeHtml).join('; ')}</td></tr>`;
}

export function renderTargetSection(r: BenchResult): string {
  const t = r.target;
  if (!t) return '';
  const x = t.extrapolation;
  const figures = targetCharts(t).map((c) => `<figure><figcaption>${escapeHtml(c.title)}</figcaption>${renderLineChart(c)}</figure>`).join('\n');
  const failure = t.failure
    ? `<p class="lede">Failed at <span data-field="target.failure.line">${escapeHtml(t.failure.line)}</span></p>`
    : '<p class="note">Every step held and verified.</p>';
  return `<section id="target"><h2>Your server: ${escapeHtml(t.addresses.join(', '))} (${escapeHtml(t.protocol)})</h2>
<p class="lede"><span data-field="target.extrapolation.line">${escapeHtml(x.line)}</span></p>
<table class="summary"><tbody>
<tr><th scope="row">User memory per connection</th><td class="num">${field('target.fit.bytes_per_connection', t.fit.bytes_per_connection)}</td><td class="note">slope over ${field('target.fit.points', t.fit.points)} points, r² ${derived(t.fit.r2.toFixed(4))}; fixed ${field('target.fit.intercept_bytes', t.fit.intercept_bytes)} (idle before the ramp: ${field('target.baseline.server_private_dirty_bytes', t.baseline.server_private_dirty_bytes)})</td></tr>
<tr><th scope="row">Kernel memory per socket</th><td class="num">${field('target.kernel_bytes_per_server_socket', t.kernel_bytes_per_server_socket)}</td><td class="note">socket slab against TCP sockets in use, r² ${derived(t.kernel_fit.r2.toFixed(4))}; ${field('target.kernel_bytes_per_connection', t.kernel_bytes_per_connection)} per connection with both ends here</td></tr>
${t.remote ? remoteRows(t) : `<tr><th scope="row">Server processes</th><td class="num">${derived(String(t.server.pids.length))}</td><td class="note">${field('target.server.holders', t.server.holders)} holding connections; descriptor limit ${field('target.server.fd_soft_limit', t.server.fd_soft_limit)}</td></tr>`}
</tbody></table>
${failure}
${figures}
${stepsTable(t)}
</section>`;
}
