// The HTML report of a load result (one host's, or a merge of many): one self-contained
// page, same style sheet and number formats as the bench report. A load result has no
// timeline (load alone does not sample the host), so this page is tables: what each
// part held, the exact merged latency percentiles, errors with the limit behind them, and
// closes by reason. Values the JSON holds carry `data-field` like the bench report's.

import { escapeHtml, formatCount, formatField } from '../bench/report-format.ts';
import { renderPage } from '../bench/report-page.ts';
import type { LatencySummaryMs } from '../engine/latency.ts';
import type { LoadResult } from '../load/load.ts';
import type { MergedLoadResult } from './merge.ts';

function field(path: string, value: unknown, className = 'num'): string {
  return `<span class="${className}" data-field="${escapeHtml(path)}">${escapeHtml(formatField(path, value))}</span>`;
}

const count = (path: string, value: number): string => `<span class="num" data-field="${escapeHtml(path)}">${escapeHtml(formatCount(value))}</span>`;

function table(id: string, title: string, head: string[], rows: string[][], empty: string): string {
  const th = head.map((h, i) => `<th${i > 0 ? ' class="num"' : ''}>${h}</th>`).join('');
  const body = rows.length
    ? rows.map((r) => `<tr>${r.map((c, i) => `<td${i > 0 ? ' class="num"' : ''}>${c}</td>`).join('')}</tr>`).join('\n')
    : `<tr><td colspan="${head.length}" class="note">${empty}</td></tr>`;
  return `<section id="${id}"><h2>${title}</h2><table><thead><tr>${th}</tr></thead><tbody>${body}</tbody></table></section>`;
}

function latencyRow(label: string, path: string, s: LatencySummaryMs): string[] {
  return [label, field(`${path}.p50`, s.p50), field(`${path}.p99`, s.p99), field(`${path}.max`, s.max), count(`${path}.count`, s.count)];
}

function parts(r: LoadResult | MergedLoadResult): string {
  if (!('merged' in r)) return '';
  const rows = r.merged.parts.map((p, i) => [
    escapeHtml(p.shard ? `shard ${p.shard}` : p.hostname ?? `input ${i + 1}`),
    count(`merged.parts.${i}.target`, p.target), count(`merged.parts.${i}.established`, p.established), count(`merged.parts.${i}.verified`, p.verified),
  ]);
  const missing = r.merged.missing_shards.length ? `<p class="note">Missing shards: ${r.merged.missing_shards.join(', ')}</p>` : '';
  return table('parts', `Merged from ${r.merged.inputs} result(s)`, ['Part', 'Target', 'Established', 'Verified'], rows, '') + missing;
}

/** Where the connections went: each destination (IPv4 or [IPv6]) and what names resolved to. */
function targets(r: LoadResult | MergedLoadResult): string {
  if (!r.targets || r.targets.destinations.length === 0) return '';
  const names = r.targets.resolved.map((n) => [`<code>${escapeHtml(n.name)}</code>`, escapeHtml(`${n.addresses.join(', ')} (${n.via})`)]);
  const list = r.targets.destinations.map((d, i) => `<code data-field="targets.destinations.${i}">${escapeHtml(d)}</code>`).join(' ');
  return `<section id="targets"><h2>Targets</h2><p>${formatCount(r.targets.destinations.length)} destination(s), each its own four-tuple pool: ${list}</p>` +
    (names.length ? table('resolved', 'Names resolved', ['Name', 'Addresses'], names, '') : '') + '</section>';
}

export function renderLoadReport(r: LoadResult | MergedLoadResult): string {
  const title = `connlab load: ${formatCount(r.connections.established)} connections`;
  const latency = table('latency', 'Latency (exact, from the histograms)', ['', 'p50', 'p99', 'max', 'samples'], [
    latencyRow('connect', 'ramp.connect_ms', r.ramp.connect_ms),
    latencyRow('ping round trip', 'ping.rtt_ms', r.ping.rtt_ms),
    latencyRow('broadcast delivery', 'broadcast.latency_ms', r.broadcast.latency_ms),
  ], '');
  const errors = table('errors', 'Errors', ['errno', 'Count', 'Limit'], r.explained.map((e) => [
    `<code>${escapeHtml(e.errno)}</code>`, count(`errors.${e.errno}`, e.count), `<code>${escapeHtml(e.cause)}</code>`,
  ]), 'no socket errors');
  const closed = table('closed', 'Closes by reason', ['Reason', 'Count'], Object.entries(r.closed).filter(([, n]) => n > 0).map(([reason, n]) => [
    `<code>${escapeHtml(reason)}</code>`, count(`closed.${reason}`, n),
  ]), 'nothing closed before the end');
  return renderPage(title, `
<header>
<p class="eyebrow">connlab load report</p>
<h1>${count('connections.established', r.connections.established)} connections established</h1>
<p class="lede">${count('connections.verified', r.connections.verified)} verified, of a target of ${count('connections.target', r.connections.target)}
 · ramp ${field('ramp.seconds', r.ramp.seconds)} at ${field('ramp.per_second', r.ramp.per_second)} · ${count('processes.load', r.processes.load)} load process(es)</p>
</header>
${parts(r)}
${targets(r)}
${latency}
<div class="tables">${errors}${closed}</div>
<footer>Rendered from <code>${escapeHtml(r.schema)}</code> by connlab.</footer>
`);
}
