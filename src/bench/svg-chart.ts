// Line charts as static inline SVG: series over x seconds, shaded bands, a y axis in
// counts, bytes, rates or percent (optionally a second one on the right), and a legend.
// Pure strings and no script, so a report opens offline, prints as vectors, and a test
// can read every series as a `<path data-series>` without a browser. A point whose y is
// not finite is a gap: the line stops there and starts again at the next finite point.
// Hovering a sample shows its time (wall clock when the chart knows the start) and every
// series' value there: CSS :hover over one transparent column per sample, no script.

import { escapeHtml, formatBytes, formatCount, formatMs, formatRate } from './report-format.ts';

export type AxisUnit = 'count' | 'bytes' | 'rate' | 'percent' | 'ms';

export interface ChartPoint {
  x: number;
  y: number;
}

export interface LineSeries {
  /** Stable name, written as `data-series` on the path. */
  id: string;
  label: string;
  color: string;
  points: readonly ChartPoint[];
  /** Which y axis the series is read against; `right` needs `LineChart.rightUnit`. */
  axis?: 'left' | 'right';
  dashed?: boolean;
  /** Stroke width in px (default 2): a wide pale line stays visible under one it equals. */
  strokeWidth?: number;
}

export interface ChartBand {
  from: number;
  to: number;
  label: string;
  fill: string;
}

export interface LineChart {
  /** Written as `data-chart` on the svg. */
  id: string;
  title: string;
  unit: AxisUnit;
  rightUnit?: AxisUnit;
  /** What x counts: seconds (the timeline, the default) or connections (a fit over steps). */
  xUnit?: 'seconds' | 'count';
  series: readonly LineSeries[];
  bands?: readonly ChartBand[];
  width?: number;
  height?: number;
  /** The x range to draw (charts stacked over one timeline share it); default: the data's. */
  xRange?: readonly [number, number];
  /** Wall clock (ms since the epoch) at x = 0: hover shows each sample's UTC time. */
  startedAtMs?: number;
}

export interface Axis {
  /** Domain top; the domain always starts at 0. */
  max: number;
  ticks: number[];
  label: (value: number) => string;
}

interface Frame {
  left: number;
  top: number;
  width: number;
  height: number;
  xMin: number;
  xMax: number;
}

const LEGEND_HEIGHT = 26;
const CHAR_WIDTH_PX = 6.4;
const MUTED = '#6b7280';
const GRID = '#e5e7eb';

/** The smallest step of 1, 2, 2.5 or 5 × 10ⁿ that cuts `[0, max]` into at most `count` parts. */
export function niceStep(max: number, count = 5): number {
  if (!(max > 0)) return 1;
  const raw = max / count;
  const magnitude = 10 ** Math.floor(Math.log10(raw));
  const factor = [1, 2, 2.5, 5, 10].find((f) => f * magnitude >= raw) ?? 10;
  return factor * magnitude;
}

/**
 * Ticks from 0 through the first multiple of the nice step above `max`, one step higher
 * when `max` lands within 2% of it, so a line at its maximum does not run along the frame.
 */
export function niceTicks(max: number, count = 5): number[] {
  const step = niceStep(max, count);
  const ceiling = Math.max(step, Math.ceil(max / step - 1e-9) * step);
  const top = max > 0 && ceiling - max < ceiling * 0.02 ? ceiling + step : ceiling;
  const ticks: number[] = [];
  for (let i = 0; i * step <= top + step * 1e-9; i++) ticks.push(Number((i * step).toPrecision(12)));
  return ticks;
}

const trim = (n: number): string => Number(n.toFixed(2)).toString();

function countLabel(v: number): string {
  if (Math.abs(v) >= 1e6) return `${trim(v / 1e6)}M`;
  if (Math.abs(v) >= 1e3) return `${trim(v / 1e3)}k`;
  return trim(v);
}

const BYTE_SCALES = [
  ['GiB', 1024 ** 3],
  ['MiB', 1024 ** 2],
  ['KiB', 1024],
  ['B', 1],
] as const;

/** Bytes tick in one unit for the whole axis (chosen by its top), so ticks stay evenly spaced. */
function bytesAxis(max: number): Axis {
  const [unit, size] = BYTE_SCALES.find(([, s]) => max >= s) ?? BYTE_SCALES[3];
  const ticks = niceTicks(max / size).map((t) => t * size);
  return { max: ticks.at(-1) ?? size, ticks, label: (v) => (v === 0 ? '0' : `${trim(v / size)} ${unit}`) };
}

export function axisFor(unit: AxisUnit, dataMax: number): Axis {
  if (unit === 'percent') return { max: 1, ticks: [0, 0.25, 0.5, 0.75, 1], label: (v) => `${Math.round(v * 100)}%` };
  if (unit === 'bytes') return bytesAxis(dataMax);
  const ticks = niceTicks(dataMax);
  const label = unit === 'rate' ? (v: number) => (v === 0 ? '0' : `${countLabel(v)}/s`)
    : unit === 'ms' ? (v: number) => (v === 0 ? '0' : `${trim(v)} ms`) : countLabel;
  return { max: ticks.at(-1) ?? 1, ticks, label };
}

function seriesMax(series: readonly LineSeries[], axis: 'left' | 'right'): number {
  let max = 0;
  for (const s of series) {
    if ((s.axis ?? 'left') !== axis) continue;
    for (const p of s.points) if (Number.isFinite(p.y) && p.y > max) max = p.y;
  }
  return max;
}

function xDomain(chart: LineChart): [number, number] {
  if (chart.xRange && chart.xRange[1] > chart.xRange[0]) return [chart.xRange[0], chart.xRange[1]];
  const xs = chart.series.flatMap((s) => s.points.map((p) => p.x)).filter(Number.isFinite);
  const min = xs.length ? Math.min(...xs) : 0;
  const max = xs.length ? Math.max(...xs) : 1;
  return [min, max > min ? max : min + 1];
}

const px = (n: number): string => (Math.round(n * 10) / 10).toString();
const sx = (f: Frame, x: number): number => f.left + ((x - f.xMin) / (f.xMax - f.xMin)) * f.width;
const sy = (f: Frame, axis: Axis, y: number): number => f.top + f.height - (Math.min(y, axis.max) / axis.max) * f.height;

/** `M x,y L x,y …` through the finite points, in frame pixels; a non-finite y starts a new subpath. */
function linePath(points: readonly ChartPoint[], frame: Frame, axis: Axis): string {
  const parts: string[] = [];
  let run = 0;
  // A point alone between gaps: a zero-length segment, which a round cap draws as a dot.
  const endRun = (): void => {
    if (run === 1) parts.push('l0,0');
    run = 0;
  };
  for (const p of points) {
    if (!Number.isFinite(p.x) || !Number.isFinite(p.y)) {
      endRun();
      continue;
    }
    parts.push(`${run === 0 ? 'M' : 'L'}${px(sx(frame, p.x))},${px(sy(frame, axis, p.y))}`);
    run += 1;
  }
  endRun();
  return parts.join(' ');
}

function renderBands(bands: readonly ChartBand[], f: Frame): string {
  return bands
    .map((b) => {
      const x0 = sx(f, Math.max(b.from, f.xMin));
      const w = sx(f, Math.min(b.to, f.xMax)) - x0;
      if (w <= 0) return '';
      const text = w > b.label.length * CHAR_WIDTH_PX + 6
        ? `<text x="${px(x0 + 4)}" y="${px(f.top + 12)}" fill="${MUTED}" font-size="10">${escapeHtml(b.label)}</text>`
        : '';
      return `<g class="band"><rect x="${px(x0)}" y="${f.top}" width="${px(w)}" height="${f.height}" fill="${b.fill}"/>${text}</g>`;
    })
    .join('');
}

function renderYAxis(axis: Axis, f: Frame, side: 'left' | 'right'): string {
  const x = side === 'left' ? f.left - 6 : f.left + f.width + 6;
  const anchor = side === 'left' ? 'end' : 'start';
  return axis.ticks
    .map((t) => {
      const y = px(sy(f, axis, t));
      const grid = side === 'left' ? `<line x1="${f.left}" x2="${f.left + f.width}" y1="${y}" y2="${y}" stroke="${GRID}"/>` : '';
      return `${grid}<text x="${x}" y="${y}" dy="0.32em" text-anchor="${anchor}" fill="${MUTED}" font-size="11">${escapeHtml(axis.label(t))}</text>`;
    })
    .join('');
}

function renderXAxis(f: Frame, unit: LineChart['xUnit'] = 'seconds'): string {
  const step = niceStep(f.xMax - f.xMin, 8);
  const bottom = f.top + f.height;
  const parts = [`<line x1="${f.left}" x2="${f.left + f.width}" y1="${bottom}" y2="${bottom}" stroke="${MUTED}"/>`];
  for (let t = Math.ceil(f.xMin / step) * step; t <= f.xMax + 1e-9; t += step) {
    const x = px(sx(f, t));
    parts.push(`<line x1="${x}" x2="${x}" y1="${bottom}" y2="${bottom + 4}" stroke="${MUTED}"/>`);
    parts.push(`<text x="${x}" y="${bottom + 16}" text-anchor="middle" fill="${MUTED}" font-size="11">${unit === 'count' ? countLabel(t) : `${trim(t)} s`}</text>`);
  }
  return parts.join('');
}

const LEGEND_ROW_PX = 18;

/** Legend items left to right, wrapping to another row before `right`: each item's x and row. */
function legendLayout(series: readonly LineSeries[], left: number, right: number): { x: number; row: number }[] {
  let x = left;
  let row = 0;
  return series.map((s) => {
    const width = 24 + s.label.length * CHAR_WIDTH_PX + 18;
    if (x > left && x + width - 18 > right) {
      x = left;
      row += 1;
    }
    const at = { x, row };
    x += width;
    return at;
  });
}

function renderLegend(series: readonly LineSeries[], layout: readonly { x: number; row: number }[]): string {
  return series
    .map((s, i) => {
      const { x, row } = layout[i] ?? { x: 0, row: 0 };
      const y = 10 + row * LEGEND_ROW_PX;
      const dash = s.dashed ? ' stroke-dasharray="5 3"' : '';
      return `<g class="legend-item"><line x1="${px(x)}" x2="${px(x + 18)}" y1="${y}" y2="${y}" stroke="${s.color}" stroke-width="${s.strokeWidth ?? 2.5}"${dash}/>`
        + `<text x="${px(x + 24)}" y="${y}" dy="0.32em" fill="#374151" font-size="12">${escapeHtml(s.label)}</text></g>`;
    })
    .join('');
}

function renderSeries(s: LineSeries, f: Frame, axis: Axis): string {
  const dash = s.dashed ? ' stroke-dasharray="5 3"' : '';
  return `<path data-series="${escapeHtml(s.id)}" d="${linePath(s.points, f, axis)}" fill="none" stroke="${s.color}" `
    + `stroke-width="${s.strokeWidth ?? 2}" stroke-linejoin="round" stroke-linecap="round"${dash}><title>${escapeHtml(s.label)}</title></path>`;
}

const VALUE_FORMATS: Record<AxisUnit, (v: number) => string> = {
  count: formatCount, bytes: formatBytes, rate: formatRate, ms: formatMs, percent: (v) => `${Math.round(v * 100)}%`,
};

/** At most this many hover columns a chart: a live hour of samples stays a small page. */
const MAX_HOVER_COLUMNS = 120;

function hoverTime(x: number, chart: LineChart): string {
  if (chart.xUnit === 'count') return `${formatCount(x)} connections`;
  const wall = chart.startedAtMs === undefined || !Number.isFinite(chart.startedAtMs) ? '' : `${new Date(chart.startedAtMs + x * 1000).toISOString().slice(11, 19)} UTC · `;
  return `${wall}${trim(x)} s`;
}

/** One column per sample x: transparent until hovered, then a rule and the values there. */
function renderHover(chart: LineChart, f: Frame): string {
  const xs = [...new Set(chart.series.flatMap((s) => s.points.map((p) => p.x)).filter(Number.isFinite))].sort((a, b) => a - b);
  const stride = Math.ceil(xs.length / MAX_HOVER_COLUMNS);
  const picked = xs.filter((_, i) => i % stride === 0);
  const byX = chart.series.map((s) => new Map(s.points.map((p) => [p.x, p.y])));
  return picked.map((x, i) => {
    const left = i === 0 ? f.left : (sx(f, x) + sx(f, picked[i - 1] ?? x)) / 2;
    const right = i === picked.length - 1 ? f.left + f.width : (sx(f, x) + sx(f, picked[i + 1] ?? x)) / 2;
    const lines = [hoverTime(x, chart)];
    for (const [k, s] of chart.series.entries()) {
      const y = byX[k]?.get(x);
      const unit = s.axis === 'right' && chart.rightUnit ? chart.rightUnit : chart.unit;
      if (y !== undefined && Number.isFinite(y)) lines.push(`${s.label}: ${VALUE_FORMATS[unit](y)}`);
    }
    const boxX = sx(f, x) > f.left + f.width / 2 ? sx(f, x) - 8 : sx(f, x) + 8;
    const anchor = boxX < sx(f, x) ? 'end' : 'start';
    const text = lines.map((line, j) => `<tspan x="${px(boxX)}" dy="${j === 0 ? 0 : 14}">${escapeHtml(line)}</tspan>`).join('');
    return `<g class="hover" data-x="${x}"><rect x="${px(left)}" y="${f.top}" width="${px(Math.max(1, right - left))}" height="${f.height}" fill="transparent"/>`
      + `<line x1="${px(sx(f, x))}" x2="${px(sx(f, x))}" y1="${f.top}" y2="${f.top + f.height}" stroke="${MUTED}"/>`
      + `<text class="hover-text" x="${px(boxX)}" y="${f.top + 14}" text-anchor="${anchor}" font-size="11" fill="#111827">${text}</text></g>`;
  }).join('');
}

export function renderLineChart(chart: LineChart): string {
  const width = chart.width ?? 720;
  const left = axisFor(chart.unit, seriesMax(chart.series, 'left'));
  const right = chart.rightUnit ? axisFor(chart.rightUnit, seriesMax(chart.series, 'right')) : null;
  const [xMin, xMax] = xDomain(chart);
  const legend = legendLayout(chart.series, 64, width - 8);
  const legendRows = Math.max(0, ...legend.map((item) => item.row));
  const height = (chart.height ?? 260) + legendRows * LEGEND_ROW_PX;
  const margin = { left: 64, right: right ? 52 : 20, top: LEGEND_HEIGHT + 8 + legendRows * LEGEND_ROW_PX, bottom: 28 };
  const f: Frame = { left: margin.left, top: margin.top, width: width - margin.left - margin.right, height: height - margin.top - margin.bottom, xMin, xMax };
  const title = escapeHtml(chart.title);
  return [
    `<svg data-chart="${escapeHtml(chart.id)}" viewBox="0 0 ${width} ${height}" width="${width}" height="${height}" role="img" aria-label="${title}">`,
    `<title>${title}</title>`,
    renderBands(chart.bands ?? [], f),
    renderYAxis(left, f, 'left'),
    right ? renderYAxis(right, f, 'right') : '',
    renderXAxis(f, chart.xUnit),
    chart.series.map((s) => renderSeries(s, f, s.axis === 'right' && right ? right : left)).join(''),
    renderLegend(chart.series, legend),
    renderHover(chart, f),
    '</svg>',
  ].join('');
}
