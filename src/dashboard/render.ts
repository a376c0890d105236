// The live dashboard's HTML, a pure function of one snapshot. The charts are the bench
// report's own (renderCharts over the same timeline shape): no second charting code.
// Sent whole every second; the page swaps it in.

import { connectsPerSecond } from '../bench/report-charts.ts';
import { renderCharts, renderLimits } from '../bench/report-html.ts';
import { escapeHtml, formatBytes, formatCount, formatRate } from '../bench/report-format.ts';
import type { BenchResult, TimelinePoint } from '../bench/result.ts';
import type { ErrorRow, SourceRow } from './sampler.ts';
import type { EndpointStatus } from './scrape.ts';

export interface DashboardSnapshot {
  /** Which command: "connlab load", "connlab bench" … */
  title: string;
  seq: number;
  timeline: TimelinePoint[];
  sources: readonly SourceRow[];
  errors: readonly ErrorRow[];
  /** Bench: doctor's limits for the run (binding limit and headroom). */
  limits?: BenchResult['limits'];
  /** `connlab dashboard`: each scraped endpoint, and why one was cut. */
  endpoints?: readonly EndpointStatus[];
  /** Wall clock at t = 0, ms since the epoch: hover shows UTC times. */
  startedAtMs?: number;
  /** false when the page cannot see the kernel (scraped endpoints): no kernel series. */
  kernel?: boolean;
  /** The sides the command runs, when known before their pools start (bench: both). */
  roles?: readonly ('server' | 'load')[];
}

/** The sides this page watches, from its rows: a chart draws no series for a side that is not there. */
const rolesOf = (s: DashboardSnapshot): ('server' | 'load')[] =>
  (['server', 'load'] as const).filter((role) => s.roles?.includes(role) ?? s.sources.some((r) => r.role === role));

/** The server cannot tell a verified connection (load pings, serve echoes): shown as a dash, not 0. */
const UNKNOWN_VERIFIED = '<span class="num" title="the server echoes pings; load counts the answers">–</span>';

const num = (text: string, field: string): string => `<span class="num" data-live="${escapeHtml(field)}">${escapeHtml(text)}</span>`;

function sourcesTable(s: DashboardSnapshot): string {
  // A stalled worker's count is its last report's: say so beside the number.
  const stalled = (r: SourceRow): string => (r.stalled_workers?.length ? ` <em class="stalled">stalled: worker ${escapeHtml(r.stalled_workers.join(', '))}</em>` : '');
  const rows = s.sources.map((r, i) => `<tr><td>${escapeHtml(r.role)}${r.shard ? ` <code>${escapeHtml(r.shard)}</code>` : ''}${stalled(r)}</td>`
    + `<td class="num">${num(formatCount(r.connections), `sources.${i}.connections`)}${r.target ? ` / ${formatCount(r.target)}` : ''}</td>`
    + `<td class="num">${r.role === 'server' ? UNKNOWN_VERIFIED : num(formatCount(r.verified), `sources.${i}.verified`)}</td>`
    + `<td class="num">${escapeHtml(formatBytes(r.private_bytes))}</td>`
    + `<td class="num">${r.connections > 0 ? escapeHtml(formatBytes(r.private_bytes / r.connections)) : '–'}</td></tr>`);
  return `<section id="sources"><h2>By role and shard</h2><table><thead><tr><th>Source</th><th class="num">Connections</th>`
    + `<th class="num">Verified</th><th class="num">Private memory</th><th class="num">Per connection</th></tr></thead><tbody>${rows.join('\n')}</tbody></table></section>`;
}

function errorsTable(s: DashboardSnapshot): string {
  const rows = s.errors.map((e) => `<tr><td><code>${escapeHtml(e.errno)}</code></td><td><code>${escapeHtml(e.limit)}</code></td><td class="num">${escapeHtml(formatCount(e.count))}</td></tr>`);
  const body = rows.length ? rows.join('\n') : '<tr><td colspan="3" class="note">no socket errors</td></tr>';
  return `<section id="errors"><h2>Errors by limit</h2><table><thead><tr><th>errno</th><th>Limit</th><th class="num">Count</th></tr></thead><tbody>${body}</tbody></table></section>`;
}

function endpointsTable(s: DashboardSnapshot): string {
  if (!s.endpoints) return '';
  const rows = s.endpoints.map((e) => `<tr><td><code>${escapeHtml(e.url)}</code></td><td>${e.cut ? `<code>${escapeHtml(e.cut)}</code>` : 'read whole'}</td>`
    + `<td>${escapeHtml(e.detail)}</td><td class="num">${escapeHtml(formatCount(e.series))}</td></tr>`);
  return `<section id="endpoints"><h2>Endpoints</h2><table><thead><tr><th>URL</th><th>Scrape</th><th>Why</th><th class="num">Series</th></tr></thead><tbody>${rows.join('\n')}</tbody></table></section>`;
}

export function renderDashboardBody(s: DashboardSnapshot): string {
  const last = s.timeline.at(-1);
  const roles = rolesOf(s);
  // A connection with both ends here is two sockets: count it once, at load when there is one.
  const side = roles.includes('load') ? 'load' : 'server';
  const mine = s.sources.filter((r) => r.role === side);
  const held = mine.reduce((sum, r) => sum + r.connections, 0);
  const verified = side === 'load' ? num(formatCount(mine.reduce((sum, r) => sum + r.verified, 0)), 'verified') : UNKNOWN_VERIFIED;
  const rate = connectsPerSecond(s.timeline, roles).at(-1)?.y ?? 0;
  const rateLabel = side === 'load' ? 'connects/s' : 'accepts/s';
  return `<header><p class="eyebrow">${escapeHtml(s.title)} · live</p>
<h1>${num(formatCount(held), 'connections')} connections held</h1>
<p class="lede">phase ${num(last?.phase ?? 'start', 'phase')} · ${verified} verified · ${num(formatRate(rate), 'connects_per_second')} ${rateLabel}
 · ${num(String(last?.t ?? 0), 't')} s · update ${num(String(s.seq), 'seq')}</p></header>
${sourcesTable(s)}
${endpointsTable(s)}
${renderCharts({ timeline: s.timeline }, { roles, kernel: s.kernel ?? true, ...(s.startedAtMs === undefined ? {} : { startedAtMs: s.startedAtMs }) })}
<div class="tables">${errorsTable(s)}${s.limits ? renderLimits({ limits: s.limits }) : ''}</div>`;
}
