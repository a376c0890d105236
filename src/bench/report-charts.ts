// The bench timeline as the report's three charts: connections, memory, and the ramp
// (connects per second and CPU), each shaded by the phase the run was in.

import type { BenchPhase, TimelinePoint } from './result.ts';
import type { ChartBand, ChartPoint, LineChart } from './svg-chart.ts';

/** The phases worth shading; start and teardown stay unshaded. */
export const PHASE_FILLS: Partial<Record<BenchPhase, string>> = {
  ramp: '#dbeafe',
  verify: '#ede9fe',
  hold: '#f3f4f6',
  broadcast: '#fef3c7',
};

const COLORS = { paleBlue: '#93c5fd', orange: '#ea580c', teal: '#0d9488', purple: '#7c3aed', gray: '#6b7280' };

/** One band per run of consecutive samples in a shaded phase, up to the next run's first sample. */
export function phaseBands(timeline: readonly TimelinePoint[]): ChartBand[] {
  const bands: ChartBand[] = [];
  timeline.forEach((point, i) => {
    const previous = timeline[i - 1];
    if (previous?.phase === point.phase) return;
    const last = bands.at(-1);
    if (last) last.to = point.t;
    bands.push({ from: point.t, to: point.t, label: point.phase, fill: PHASE_FILLS[point.phase] ?? '' });
  });
  const end = timeline.at(-1);
  const last = bands.at(-1);
  if (end && last) last.to = end.t;
  return bands.filter((b) => b.fill !== '');
}

export function socketSlabBytes(point: TimelinePoint): number {
  return Object.values(point.slab_bytes).reduce((sum, bytes) => sum + bytes, 0);
}

/** Connections load opened per second between samples; closes (negative deltas) count as 0. */
export function connectsPerSecond(timeline: readonly TimelinePoint[]): ChartPoint[] {
  return timeline.slice(1).map((point, i) => {
    const before = timeline[i] ?? point;
    const dt = point.t - before.t;
    const rate = dt > 0 ? (point.load_connections - before.load_connections) / dt : 0;
    return { x: point.t, y: Math.max(0, rate) };
  });
}

const along = (timeline: readonly TimelinePoint[], y: (p: TimelinePoint) => number): ChartPoint[] =>
  timeline.map((p) => ({ x: p.t, y: y(p) }));

export function benchCharts(timeline: readonly TimelinePoint[]): LineChart[] {
  const bands = phaseBands(timeline);
  return [
    {
      id: 'connections', title: 'Connections held', unit: 'count', bands,
      series: [
        { id: 'kernel_sockets', label: 'kernel ESTAB sockets', color: COLORS.gray, points: along(timeline, (p) => p.kernel_sockets), dashed: true },
        { id: 'server_connections', label: 'server connections', color: COLORS.paleBlue, points: along(timeline, (p) => p.server_connections), strokeWidth: 6 },
        { id: 'load_connections', label: 'load connections', color: COLORS.orange, points: along(timeline, (p) => p.load_connections) },
      ],
    },
    {
      id: 'memory', title: 'Memory', unit: 'bytes', bands,
      series: [
        { id: 'slab_bytes', label: 'socket slab caches', color: COLORS.teal, points: along(timeline, socketSlabBytes) },
        { id: 'meminfo_slab_bytes', label: 'all slab (meminfo)', color: COLORS.gray, points: along(timeline, (p) => p.meminfo_slab_bytes), dashed: true },
        { id: 'server_private_bytes', label: 'server private', color: COLORS.paleBlue, points: along(timeline, (p) => p.server_private_bytes), strokeWidth: 6 },
        { id: 'load_private_bytes', label: 'load private', color: COLORS.orange, points: along(timeline, (p) => p.load_private_bytes) },
      ],
    },
    {
      id: 'ramp', title: 'Ramp: connects per second and CPU', unit: 'rate', rightUnit: 'percent', bands,
      series: [
        { id: 'connects_per_second', label: 'connects/s (left)', color: COLORS.purple, points: connectsPerSecond(timeline) },
        { id: 'cpu_busy', label: 'CPU busy (right)', color: COLORS.gray, points: along(timeline, (p) => p.cpu_busy), axis: 'right', dashed: true },
      ],
    },
  ];
}
