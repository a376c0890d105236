// The timeline as charts: connections, kernel memory, process memory, memory per
// connection, the ramp (connects per second and host CPU) and latency, each shaded by
// the phase the run was in. Every series is drawn at the time its value was measured
// (the socket slab figures are read in the background and may be a second old), and a
// value that was not measured is a gap, never a 0. A chart or series for a side the
// command does not run (serve has no load, load no server) is left out.

import type { LatencySummaryMs, LatencyWindowMs } from '../engine/latency.ts';
import type { BenchPhase, TimelinePoint } from './result.ts';
import type { ChartBand, ChartPoint, LineChart, LineSeries } from './svg-chart.ts';

/** The phases worth shading; start stays unshaded. */
export const PHASE_FILLS: Partial<Record<BenchPhase, string>> = {
  ramp: '#dbeafe',
  verify: '#ede9fe',
  hold: '#f3f4f6',
  broadcast: '#fef3c7',
  teardown: '#fee2e2',
};

const COLORS = { paleBlue: '#93c5fd', blue: '#2563eb', orange: '#ea580c', teal: '#0d9488', purple: '#7c3aed', gray: '#6b7280', green: '#16a34a' };

/** What the charts draw: which sides ran, and the wall clock at t = 0 for hover. */
export interface ChartOptions {
  /** Which pools the command runs; default: read from the timeline (any non-zero figure). */
  roles?: readonly ('server' | 'load')[];
  /** false when the kernel's figures are not visible (scraped endpoints on other hosts). */
  kernel?: boolean;
  startedAtMs?: number;
}

/**
 * One band per phase, from the moment it began to the moment the next one did. A phase
 * begins just after the previous phase's last sample (bench takes that sample at the
 * boundary itself), so a band starts there rather than at its own first sample, which
 * can come up to a sampling interval later.
 */
export function phaseBands(timeline: readonly TimelinePoint[]): ChartBand[] {
  const bands: ChartBand[] = [];
  timeline.forEach((point, i) => {
    const previous = timeline[i - 1];
    if (previous?.phase === point.phase) return;
    const from = previous?.t ?? point.t;
    const last = bands.at(-1);
    if (last) last.to = from;
    bands.push({ from, to: point.t, label: point.phase, fill: PHASE_FILLS[point.phase] ?? '' });
  });
  const end = timeline.at(-1);
  const last = bands.at(-1);
  if (end && last) last.to = end.t;
  return bands.filter((b) => b.fill !== '');
}

export function socketSlabBytes(point: TimelinePoint): number {
  return Object.values(point.slab_bytes).reduce((sum, bytes) => sum + bytes, 0);
}

/** When the point's slab figures were read, seconds: t less their age. */
export const slabTime = (point: TimelinePoint): number => point.t - (point.slab_age_ms ?? 0) / 1000;

/**
 * The socket slab caches at the times they were read, one point per read: samples that
 * reused one background read of /proc/slabinfo collapse into it, and a sample taken at a
 * phase boundary (read fresh) falls in its place among them instead of after a stale one.
 */
export function slabSeries(timeline: readonly TimelinePoint[]): ChartPoint[] {
  const byTime = new Map<number, number>();
  for (const p of timeline) if (Object.keys(p.slab_bytes).length > 0) byTime.set(Math.round(slabTime(p) * 1000) / 1000, socketSlabBytes(p));
  return [...byTime].sort((a, b) => a[0] - b[0]).map(([x, y]) => ({ x, y }));
}

/**
 * `f` at each of `ts` (ascending), linearly between the samples around it, the nearest
 * end outside them: one pass over both, so an hour of live points stays cheap to redraw.
 */
function interpolateAll(timeline: readonly TimelinePoint[], ts: readonly number[], f: (p: TimelinePoint) => number): number[] {
  let after = 0;
  return ts.map((t) => {
    while (after < timeline.length && (timeline[after] as TimelinePoint).t < t) after += 1;
    if (after === 0) return timeline[0] ? f(timeline[0]) : 0;
    if (after === timeline.length) return f(timeline[after - 1] as TimelinePoint);
    const a = timeline[after - 1] as TimelinePoint;
    const b = timeline[after] as TimelinePoint;
    return b.t === a.t ? f(b) : f(a) + ((f(b) - f(a)) * (t - a.t)) / (b.t - a.t);
  });
}

/** Connections the per-connection figures divide by: load's when load runs here, else the server's. */
const heldBy = (roles: readonly string[]) => (p: TimelinePoint): number => (roles.includes('load') ? p.load_connections : p.server_connections);

/** Below this many connections a per-connection figure is mostly the fixed base: drawn as a gap. */
const perConnectionFloor = (timeline: readonly TimelinePoint[], held: (p: TimelinePoint) => number): number =>
  Math.max(100, 0.05 * Math.max(0, ...timeline.map(held)));

/**
 * Kernel bytes per connection: the socket slab's growth since the first sample over the
 * connections held when it was read (the report's "kernel memory per connection").
 */
export function kernelPerConnection(timeline: readonly TimelinePoint[], roles: readonly string[]): ChartPoint[] {
  const held = heldBy(roles);
  const floor = perConnectionFloor(timeline, held);
  const slab = slabSeries(timeline);
  const base = slab[0]?.y ?? 0;
  const counts = interpolateAll(timeline, slab.map((p) => p.x), held);
  return slab.map(({ x, y }, i) => {
    const n = counts[i] ?? 0;
    return { x, y: n >= floor ? (y - base) / n : Number.NaN };
  });
}

/** A side's private bytes over its connections (the report's "server/load memory per connection"). */
function privatePerConnection(timeline: readonly TimelinePoint[], side: 'server' | 'load'): ChartPoint[] {
  const held = (p: TimelinePoint): number => (side === 'load' ? p.load_connections : p.server_connections);
  const floor = perConnectionFloor(timeline, held);
  return timeline.map((p) => {
    const bytes = side === 'load' ? p.load_private_bytes : p.server_private_bytes;
    return { x: p.t, y: held(p) >= floor && bytes > 0 ? bytes / held(p) : Number.NaN };
  });
}

/** The shortest span a rate is taken over: two samples 30 ms apart (a phase boundary) would turn one worker report into 300,000/s. */
const RATE_MIN_SPAN_S = 0.5;

/** Connections opened per second up to each sample, over at least half a second (load's, or the server's accepts alone); closes count as 0. */
export function connectsPerSecond(timeline: readonly TimelinePoint[], roles: readonly string[] = ['load']): ChartPoint[] {
  const held = heldBy(roles);
  return timeline.slice(1).map((point, i) => {
    let j = i;
    while (j > 0 && point.t - (timeline[j]?.t ?? 0) < RATE_MIN_SPAN_S) j -= 1;
    const before = timeline[j] ?? point;
    const dt = point.t - before.t;
    const rate = dt > 0 ? (held(point) - held(before)) / dt : 0;
    return { x: point.t, y: Math.max(0, rate) };
  });
}

const along = (timeline: readonly TimelinePoint[], y: (p: TimelinePoint) => number): ChartPoint[] =>
  timeline.map((p) => ({ x: p.t, y: y(p) }));

/** The roles a timeline shows: a side that never held a connection nor a byte did not run. */
export function rolesOf(timeline: readonly TimelinePoint[]): ('server' | 'load')[] {
  const ran = (f: (p: TimelinePoint) => number): boolean => timeline.some((p) => f(p) > 0);
  return [
    ...(ran((p) => p.server_connections + p.server_private_bytes) ? ['server' as const] : []),
    ...(ran((p) => p.load_connections + p.load_private_bytes) ? ['load' as const] : []),
  ];
}

const LATENCY_SERIES: [keyof LatencyWindowMs, string, string][] = [
  ['connect', 'connect', COLORS.purple],
  ['rtt', 'ping round trip', COLORS.blue],
  ['broadcast', 'broadcast', COLORS.orange],
];

/** p50 and p99 of each latency kind the timeline has; samples without that kind are gaps. */
export function latencySeries(timeline: readonly TimelinePoint[]): LineSeries[] {
  const out: LineSeries[] = [];
  for (const [kind, label, color] of LATENCY_SERIES) {
    if (!timeline.some((p) => p.latency_ms?.[kind])) continue;
    for (const q of ['p50', 'p99'] as const) {
      const y = (s: LatencySummaryMs | undefined): number => (s ? s[q] : Number.NaN);
      out.push({ id: `${kind}_${q}_ms`, label: `${label} ${q}`, color, dashed: q === 'p99', points: along(timeline, (p) => y(p.latency_ms?.[kind])) });
    }
  }
  return out;
}

function connectionSeries(timeline: readonly TimelinePoint[], roles: readonly string[], kernel: boolean): LineSeries[] {
  return [
    ...(kernel ? [{ id: 'kernel_sockets', label: 'kernel ESTAB sockets', color: COLORS.gray, points: along(timeline, (p) => p.kernel_sockets), dashed: true }] : []),
    ...(roles.includes('server') ? [{ id: 'server_connections', label: 'server connections', color: COLORS.paleBlue, points: along(timeline, (p) => p.server_connections), strokeWidth: 6 }] : []),
    ...(roles.includes('load') ? [{ id: 'load_connections', label: 'load connections', color: COLORS.orange, points: along(timeline, (p) => p.load_connections) }] : []),
  ];
}

/** Total bytes on the left axis, the same bytes per connection on the right. */
function memoryCharts(timeline: readonly TimelinePoint[], roles: readonly string[], kernel: boolean, common: Pick<LineChart, 'bands' | 'startedAtMs' | 'xRange'>): LineChart[] {
  const charts: LineChart[] = [];
  if (kernel) {
    charts.push({ id: 'kernel_memory', title: 'Kernel memory (whole host) and per connection', unit: 'bytes', rightUnit: 'bytes', ...common, series: [
      { id: 'slab_bytes', label: 'socket slab caches', color: COLORS.teal, points: slabSeries(timeline) },
      { id: 'meminfo_slab_bytes', label: 'all slab (meminfo)', color: COLORS.gray, points: along(timeline, (p) => p.meminfo_slab_bytes), dashed: true },
      { id: 'kernel_bytes_per_connection', label: 'slab growth per connection (right)', color: COLORS.green, points: kernelPerConnection(timeline, roles), axis: 'right' },
    ] });
  }
  const sides = (['server', 'load'] as const).filter((side) => roles.includes(side));
  const color = { server: COLORS.blue, load: COLORS.orange };
  if (sides.length > 0) {
    charts.push({ id: 'process_memory', title: 'Process memory (private, all workers of a side) and per connection', unit: 'bytes', rightUnit: 'bytes', ...common, series: [
      ...sides.map((side): LineSeries => ({ id: `${side}_private_bytes`, label: `${side} private`, color: color[side], points: along(timeline, (p) => (side === 'server' ? p.server_private_bytes : p.load_private_bytes)) })),
      ...sides.map((side): LineSeries => ({ id: `${side}_bytes_per_connection`, label: `${side} per conn. (right)`, color: color[side], dashed: true, axis: 'right', points: privatePerConnection(timeline, side) })),
    ] });
  }
  return charts;
}

export function benchCharts(timeline: readonly TimelinePoint[], options: ChartOptions = {}): LineChart[] {
  const roles = options.roles ?? rolesOf(timeline);
  const kernel = options.kernel ?? true;
  const xs = [...timeline.map((p) => p.t), ...slabSeries(timeline).map((p) => p.x)];
  const xRange = xs.length > 0 ? [Math.min(...xs), Math.max(...xs)] as const : undefined;
  const common = { bands: phaseBands(timeline), ...(xRange ? { xRange } : {}), ...(options.startedAtMs === undefined ? {} : { startedAtMs: options.startedAtMs }) };
  const latency = latencySeries(timeline);
  const connects = roles.includes('load') ? 'connects/s (left)' : 'accepts/s (left)';
  return [
    { id: 'connections', title: 'Connections held', unit: 'count', ...common, series: connectionSeries(timeline, roles, kernel) },
    ...memoryCharts(timeline, roles, kernel, common),
    {
      id: 'ramp', title: `Ramp: ${roles.includes('load') ? 'connects' : 'accepts'} per second and host CPU`, unit: 'rate', rightUnit: 'percent', ...common,
      series: [
        { id: 'connects_per_second', label: connects, color: COLORS.purple, points: connectsPerSecond(timeline, roles) },
        ...(kernel ? [{ id: 'cpu_busy', label: 'host CPU busy, all cores (right)', color: COLORS.gray, points: along(timeline, (p) => p.cpu_busy), axis: 'right' as const, dashed: true }] : []),
      ],
    },
    ...(latency.length > 0 ? [{ id: 'latency', title: 'Latency (percentiles of each second\'s samples)', unit: 'ms' as const, ...common, series: latency }] : []),
  ];
}
