// `connlab bench`'s HTML report: one self-contained file (inline CSS, inline SVG, no
// script, nothing fetched) rendered from the bench result alone. Every number the page
// shows that the JSON also holds sits in an element with `data-field="dotted.path"`, so a
// test can compare the page with the result it came from.

import { benchCharts, PHASE_FILLS, socketSlabBytes, type ChartOptions } from './report-charts.ts';
import { escapeHtml, formatBytes, formatCount, formatField, formatPercent } from './report-format.ts';
import { renderPage } from './report-page.ts';
import type { BenchResult, TimelinePoint } from './result.ts';
import { renderLineChart } from './svg-chart.ts';
import { renderTargetSection } from './target/report-target.ts';
import { renderThresholdsSection } from './report-thresholds.ts';

/** A value of the result, formatted the one way its path says, tagged with that path. */
function field(path: string, value: unknown, tag = 'span', className = 'num'): string {
  return `<${tag} class="${className}" data-field="${escapeHtml(path)}">${escapeHtml(formatField(path, value))}</${tag}>`;
}

/** A number computed for the page that the JSON does not hold as such. */
const derived = (text: string): string => `<span class="num" data-derived>${escapeHtml(text)}</span>`;

/** The sample with the most connections: the state the run held at its peak. */
function peakIndex(timeline: readonly TimelinePoint[]): number {
  let best = 0;
  timeline.forEach((p, i) => {
    if (p.kernel_sockets > (timeline[best]?.kernel_sockets ?? -1)) best = i;
  });
  return best;
}

function renderHeader(r: BenchResult): string {
  const m = r.machine;
  const meta: [string, string][] = [
    ['Started', field('started_at', r.started_at, 'time', '')],
    ['Host', field('machine.hostname', m.hostname, 'span', '')],
    ['Kernel', field('machine.kernel', m.kernel, 'span', '')],
    ['CPUs', field('machine.cpus', m.cpus)],
    ['Memory', field('machine.memory_bytes', m.memory_bytes)],
    ['Node.js', field('machine.node', m.node, 'span', '')],
    ['Descriptors per process', field('machine.fd_limit', m.fd_limit)],
    ['Processes (server / load)', `${field('processes.server', r.processes.server)} / ${field('processes.load', r.processes.load)}`],
  ];
  return `<header>
<p class="eyebrow">connlab bench report</p>
<h1>${field('connections.established', r.connections.established)} connections established</h1>
<p class="lede">${field('connections.verified', r.connections.verified)} verified, of a target of ${field('connections.target', r.connections.target)}
 · ${field('outcome', r.outcome, 'span', `outcome outcome-${escapeHtml(r.outcome)}`)}</p>
<dl class="meta">${meta.map(([k, v]) => `<div><dt>${k}</dt><dd>${v}</dd></div>`).join('')}</dl>
${field('command', r.command, 'code', 'command')}
</header>`;
}

function summaryRows(r: BenchResult): [string, string, string][] {
  const i = peakIndex(r.timeline);
  const peak = r.timeline[i];
  const mem = r.memory;
  const total = mem.kernel_bytes_per_connection + mem.server_user_bytes_per_connection + mem.load_user_bytes_per_connection;
  const rows: [string, string, string][] = [
    ['Connections', `${field('connections.established', r.connections.established)} of ${field('connections.target', r.connections.target)}`, `${field('connections.verified', r.connections.verified)} answered a ping`],
  ];
  if (peak) {
    rows.push(['Kernel ESTAB sockets at peak', field(`timeline.${i}.kernel_sockets`, peak.kernel_sockets), 'both ends on this host: two sockets per connection']);
    rows.push(['Kernel slab at peak', `${derived(formatBytes(socketSlabBytes(peak)))} in socket caches`, `${field(`timeline.${i}.meminfo_slab_bytes`, peak.meminfo_slab_bytes)} all slab (meminfo)`]);
  }
  rows.push(
    ['Kernel memory per connection', field('memory.kernel_bytes_per_connection', mem.kernel_bytes_per_connection), `object sizes predict ${field('memory.kernel_expected_bytes_per_connection', mem.kernel_expected_bytes_per_connection)}`],
    ['Server memory per connection', field('memory.server_user_bytes_per_connection', mem.server_user_bytes_per_connection), `${field('memory.server_private_bytes', mem.server_private_bytes)} private over ${field('processes.server', r.processes.server)} processes`],
    ['Load memory per connection', field('memory.load_user_bytes_per_connection', mem.load_user_bytes_per_connection), `${field('memory.load_private_bytes', mem.load_private_bytes)} private over ${field('processes.load', r.processes.load)} processes`],
    ['All memory per connection', derived(formatBytes(total)), 'kernel + server + load'],
    ['Ramp', field('ramp.seconds', r.ramp.seconds), `${field('ramp.per_second', r.ramp.per_second)} connects`],
    ['Connect time', `p50 ${field('ramp.connect_ms.p50', r.ramp.connect_ms.p50)} · p99 ${field('ramp.connect_ms.p99', r.ramp.connect_ms.p99)}`, `max ${field('ramp.connect_ms.max', r.ramp.connect_ms.max)} over ${field('ramp.connect_ms.count', r.ramp.connect_ms.count)} connects`],
    ['Hold', field('hold_seconds', r.hold_seconds), 'every connection idle and open'],
    ['Broadcast delivered', field('broadcast.delivered', r.broadcast.delivered), `to ${field('connections.established', r.connections.established)} connections`],
    ['Broadcast latency', `p50 ${field('broadcast.p50_ms', r.broadcast.p50_ms)} · p99 ${field('broadcast.p99_ms', r.broadcast.p99_ms)}`, `max ${field('broadcast.max_ms', r.broadcast.max_ms)}`],
    ['Binding limit', field('limits.binding', r.limits.binding, 'code', ''), bindingNote(r)],
  );
  return rows;
}

function bindingNote(r: BenchResult): string {
  const name = r.limits.binding;
  const headroom = name === null ? undefined : r.limits.headroom[name];
  if (name === null || headroom === undefined) return 'no limit caps this shape';
  return `${field(`limits.headroom.${name}`, headroom)} connections of headroom`;
}

function renderSummary(r: BenchResult): string {
  const rows = summaryRows(r)
    // Against a user's server nothing is broadcast: those rows would only show zeros.
    .filter(([label]) => !(r.target && label.startsWith('Broadcast')))
    .map(([label, value, note]) => `<tr><th scope="row">${label}</th><td class="num">${value}</td><td class="note">${note}</td></tr>`)
    .join('\n');
  return `<section id="summary"><h2>Summary</h2>
<table class="summary"><colgroup><col style="width:32%"><col style="width:28%"><col></colgroup>
<tbody>${rows}</tbody></table></section>`;
}

/** The timeline charts; the live dashboard (src/dashboard/) renders through this too. */
export function renderCharts(r: Pick<BenchResult, 'timeline'>, options: ChartOptions = {}): string {
  const seen = new Set(r.timeline.map((p) => p.phase));
  const phases = Object.entries(PHASE_FILLS)
    .filter(([phase]) => seen.has(phase as BenchResult['timeline'][number]['phase']))
    .map(([phase, fill]) => `<span><i class="swatch" style="background:${fill}"></i>${phase}</span>`)
    .join('');
  const figures = benchCharts(r.timeline, options)
    .map((chart) => `<figure><figcaption>${escapeHtml(chart.title)}</figcaption>${renderLineChart(chart)}</figure>`)
    .join('\n');
  return `<section id="timeline"><h2>Over time</h2><div class="phases">${phases}</div>${figures}</section>`;
}

export function renderLimits(r: Pick<BenchResult, 'limits'>): string {
  const entries = Object.entries(r.limits.headroom) as [string, number][];
  entries.sort(([a, x], [b, y]) => Number(b === r.limits.binding) - Number(a === r.limits.binding) || x - y);
  const rows = entries.map(([name, headroom]) => {
    const binding = name === r.limits.binding;
    const cls = headroom < 0 ? 'num neg' : 'num';
    return `<tr${binding ? ' class="binding"' : ''}><td class="nowrap"><code>${escapeHtml(name)}</code>${binding ? ' ◀ binds' : ''}</td>`
      + `<td class="num">${field(`limits.headroom.${name}`, headroom, 'span', cls)}</td></tr>`;
  });
  const body = rows.length ? rows.join('\n') : '<tr><td colspan="2" class="note">no limit was evaluated</td></tr>';
  return `<section id="limits"><h2>Limits</h2>
<table><thead><tr><th>Limit</th><th class="num">Headroom (connections)</th></tr></thead><tbody>${body}</tbody></table></section>`;
}

export function renderErrors(r: Pick<BenchResult, 'errors'>): string {
  const entries = Object.entries(r.errors).sort(([, a], [, b]) => b - a);
  const rows = entries.map(([errno, n]) => `<tr><td><code>${escapeHtml(errno)}</code></td><td class="num">${field(`errors.${errno}`, n)}</td></tr>`);
  const body = rows.length ? rows.join('\n') : '<tr><td colspan="2" class="note">no socket errors</td></tr>';
  return `<section id="errors"><h2>Errors</h2>
<table><thead><tr><th>errno</th><th class="num">Count</th></tr></thead><tbody>${body}</tbody></table></section>`;
}

const signedPercent = (ratio: number): string => `${ratio > 0 ? '+' : ''}${(ratio * 100).toFixed(1)}%`;

function renderSlab(r: BenchResult): string {
  const mem = r.memory;
  const entries = Object.entries(mem.kernel_by_cache).sort(([, a], [, b]) => b - a);
  const largest = Math.max(1, ...entries.map(([, n]) => n));
  const rows = entries.map(([cache, bytes]) =>
    `<tr><td><code>${escapeHtml(cache)}</code></td><td class="num">${field(`memory.kernel_by_cache.${cache}`, bytes)}</td>`
    + `<td><i class="bar" style="width:${Math.round((bytes / largest) * 120)}px"></i> ${derived(formatPercent(bytes / Math.max(1, mem.kernel_bytes_per_connection)))}</td></tr>`);
  const expected = mem.kernel_expected_bytes_per_connection;
  const drift = expected > 0 ? signedPercent((mem.kernel_bytes_per_connection - expected) / expected) : '';
  return `<section id="slab"><h2>Kernel slab growth by cache</h2>
<table><thead><tr><th>Cache</th><th class="num">Bytes per connection</th><th>Share</th></tr></thead><tbody>${rows.join('\n')}
<tr><th scope="row">measured</th><td class="num">${field('memory.kernel_bytes_per_connection', mem.kernel_bytes_per_connection)}</td><td></td></tr>
<tr><th scope="row">expected from object sizes</th><td class="num">${field('memory.kernel_expected_bytes_per_connection', expected)}</td>`
    + `<td class="note">${drift ? `measured is ${derived(drift)} off` : ''}</td></tr></tbody></table></section>`;
}

export function renderBenchReport(result: BenchResult): string {
  const title = `connlab bench: ${formatCount(result.connections.established)} connections on ${result.machine.hostname}`;
  return renderPage(title, `
${renderHeader(result)}
${renderThresholdsSection(result)}
${renderTargetSection(result)}
${renderSummary(result)}
${renderCharts(result, { startedAtMs: Date.parse(result.started_at) })}
<div class="tables">${renderLimits(result)}${renderErrors(result)}</div>
${renderSlab(result)}
<footer>Rendered from <code>${escapeHtml(result.schema)}</code> by connlab. Samples: ${derived(formatCount(result.timeline.length))}, one a second plus one at each phase boundary. Hover a chart for a sample's UTC time and values.</footer>
`);
}
