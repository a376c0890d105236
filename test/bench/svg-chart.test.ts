import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { benchCharts, connectsPerSecond, kernelPerConnection, latencySeries, phaseBands, slabSeries, socketSlabBytes } from '../../src/bench/report-charts.ts';
import type { BenchPhase, TimelinePoint } from '../../src/bench/result.ts';
import { axisFor, niceStep, niceTicks, renderLineChart } from '../../src/bench/svg-chart.ts';

function point(t: number, phase: BenchPhase, load: number): TimelinePoint {
  return {
    t, phase, kernel_sockets: 2 * load, server_connections: load, load_connections: load,
    slab_bytes: { TCP: 100, filp: 20 }, meminfo_slab_bytes: 0, mem_available_bytes: 0,
    server_private_bytes: 0, load_private_bytes: 0, server_heap_bytes: 0, load_heap_bytes: 0, cpu_busy: 0, netstat: {},
  };
}

describe('SVG line charts', () => {
  it('steps axes by 1, 2, 2.5 or 5 × 10ⁿ and ends at or above the data', () => {
    assert.equal(niceStep(200_010), 50_000);
    assert.deepEqual(niceTicks(200_010), [0, 50_000, 100_000, 150_000, 200_000, 250_000]);
    assert.deepEqual(niceTicks(0.9), [0, 0.2, 0.4, 0.6, 0.8, 1]);
    assert.deepEqual(niceTicks(0), [0, 1]);
    assert.deepEqual(niceTicks(20_000), [0, 5_000, 10_000, 15_000, 20_000, 25_000], 'a line at its maximum keeps clear of the frame');
  });

  it('labels counts with k and M, rates per second, bytes in one binary unit per axis', () => {
    assert.deepEqual(axisFor('count', 1_400_000).ticks.map(axisFor('count', 1_400_000).label), ['0', '500k', '1M', '1.5M']);
    const bytes = axisFor('bytes', 780 * 1024 ** 2);
    assert.deepEqual(bytes.ticks.map(bytes.label), ['0', '200 MiB', '400 MiB', '600 MiB', '800 MiB']);
    assert.equal(axisFor('rate', 25_000).label(10_000), '10k/s');
    assert.deepEqual(axisFor('percent', 0.3).ticks.map(axisFor('percent', 0.3).label), ['0%', '25%', '50%', '75%', '100%']);
  });

  it('draws each series as a path in the frame, a band per phase run and a legend entry per series', () => {
    const svg = renderLineChart({
      id: 'c', title: 'T', unit: 'count',
      bands: [{ from: 1, to: 2, label: 'ramp', fill: '#eee' }],
      series: [{ id: 'a', label: 'A <1>', color: '#000', points: [{ x: 0, y: 0 }, { x: 2, y: 10 }] }],
    });
    assert.match(svg, /^<svg data-chart="c" viewBox="0 0 720 260"/);
    assert.match(svg, /<path data-series="a" d="M64,232 L700,[\d.]+"/);
    assert.match(svg, /<rect x="382" y="34" width="318" height="198" fill="#eee"\/>/);
    assert.match(svg, />A &lt;1&gt;<\/text>/);
  });

  it('turns the timeline into phase bands, connect rates and socket slab totals', () => {
    const timeline = [point(0, 'start', 0), point(1, 'ramp', 0), point(2, 'ramp', 500), point(4, 'hold', 1500), point(5, 'teardown', 0)];
    // A phase began just after the previous one's last sample (bench samples at the boundary).
    assert.deepEqual(phaseBands(timeline).map((b) => [b.label, b.from, b.to]), [['ramp', 0, 2], ['hold', 2, 4], ['teardown', 4, 5]]);
    assert.deepEqual(connectsPerSecond(timeline).map((p) => [p.x, p.y]), [[1, 0], [2, 500], [4, 500], [5, 0]]);
    assert.equal(socketSlabBytes(timeline[0] ?? point(0, 'start', 0)), 120);
  });

  it('takes a connect rate over half a second at least, so a boundary sample 30 ms after a tick adds no spike', () => {
    const timeline = [point(0, 'ramp', 0), point(1, 'ramp', 1000), point(1.03, 'hold', 2000), point(2, 'hold', 2000)];
    assert.deepEqual(connectsPerSecond(timeline).map((p) => Math.round(p.y)), [1000, 1942, 0]);
  });

  it('wraps a legend too wide for one row onto another, and grows the chart to keep the frame', () => {
    const series = Array.from({ length: 8 }, (_, i) => ({ id: `s${i}`, label: `a rather long label ${i}`, color: '#000', points: [{ x: 0, y: 1 }, { x: 1, y: 2 }] }));
    const svg = renderLineChart({ id: 'w', title: 'W', unit: 'count', series });
    assert.match(svg, /viewBox="0 0 720 (\d+)"/);
    assert.ok(Number(/viewBox="0 0 720 (\d+)"/.exec(svg)?.[1]) > 260);
    const xs = [...svg.matchAll(/<g class="legend-item"><line x1="([\d.]+)"/g)].map((m) => Number(m[1]));
    assert.ok(xs.every((x) => x < 720 - 100), xs.join());
  });

  it('draws a gap where a value was not measured, and a lone value as a dot', () => {
    const svg = renderLineChart({
      id: 'g', title: 'G', unit: 'ms',
      series: [{ id: 'a', label: 'A', color: '#000', points: [{ x: 0, y: 1 }, { x: 1, y: 2 }, { x: 2, y: Number.NaN }, { x: 3, y: 2 }, { x: 4, y: Number.NaN }, { x: 5, y: 1 }, { x: 6, y: 1 }] }],
    });
    const d = /data-series="a" d="([^"]*)"/.exec(svg)?.[1] ?? '';
    assert.equal(d.match(/M/g)?.length, 3, d);
    assert.match(d, /^M[\d.]+,[\d.]+ L[\d.]+,[\d.]+ M[\d.]+,[\d.]+ l0,0 M[\d.]+,[\d.]+ L[\d.]+,[\d.]+$/);
    assert.doesNotMatch(svg, /NaN/);
  });

  it('draws each slab value at the time it was read, so a stale read never dips below a fresh one', () => {
    const slab = (t: number, bytes: number, ageMs: number): TimelinePoint => ({ ...point(t, 'ramp', bytes), slab_bytes: { TCP: bytes }, slab_age_ms: ageMs });
    // 3 s: the boundary sample, read fresh; 3.5 s: the thread's tick, its read from 2.4 s.
    const timeline = [slab(1, 100, 1000), slab(2, 200, 1000), slab(3, 400, 0), slab(3.5, 300, 1100), slab(4.5, 400, 1000)];
    assert.deepEqual(slabSeries(timeline).map((p) => [p.x, p.y]), [[0, 100], [1, 200], [2.4, 300], [3, 400], [3.5, 400]]);
  });

  it('divides the slab growth by the connections held when it was read; too few held is a gap', () => {
    const timeline = [0, 1, 2, 3].map((t) => ({ ...point(t, 'ramp', t * 1000), slab_bytes: { TCP: 5000 + t * 1000 * 800 }, slab_age_ms: 0 }));
    assert.deepEqual(kernelPerConnection(timeline, ['server', 'load']).map((p) => p.y), [Number.NaN, 800, 800, 800]);
  });

  it('charts latency percentiles per sample, with gaps where no sample arrived, and only kinds that exist', () => {
    const timeline = [point(0, 'ramp', 0), { ...point(1, 'ramp', 10), latency_ms: { connect: { p50: 0.5, p99: 3, max: 9, count: 10 } } }, point(2, 'hold', 10)];
    const series = latencySeries(timeline);
    assert.deepEqual(series.map((s) => s.id), ['connect_p50_ms', 'connect_p99_ms']);
    assert.deepEqual(series[1]?.points.map((p) => p.y), [Number.NaN, 3, Number.NaN]);
    assert.equal(benchCharts([point(0, 'ramp', 0)]).some((c) => c.id === 'latency'), false);
  });

  it('leaves out the side a command does not run: serve has no load series, load no server series', () => {
    const timeline = [point(0, 'ramp', 0), point(1, 'ramp', 10)];
    const ids = (roles: ('server' | 'load')[]): string[] => benchCharts(timeline, { roles }).flatMap((c) => c.series.map((s) => s.id));
    assert.ok(!ids(['server']).some((id) => id.startsWith('load_')), ids(['server']).join());
    assert.ok(!ids(['load']).some((id) => id.startsWith('server_')), ids(['load']).join());
    assert.equal(benchCharts(timeline, { roles: ['server'] }).find((c) => c.id === 'ramp')?.series[0]?.label, 'accepts/s (left)');
  });

  it('shows the UTC wall-clock time and each value of a sample on hover', () => {
    const svg = renderLineChart({
      id: 'h', title: 'H', unit: 'count', startedAtMs: Date.parse('2026-12-03T09:00:00Z'),
      series: [{ id: 'a', label: 'held', color: '#000', points: [{ x: 0, y: 0 }, { x: 61.5, y: 12_345 }] }],
    });
    assert.match(svg, /<g class="hover" data-x="61.5">[^]*?09:01:01 UTC · 61.5 s<\/tspan><tspan[^>]*>held: 12,345<\/tspan>/);
  });
});
