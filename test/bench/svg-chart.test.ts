import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { connectsPerSecond, phaseBands, socketSlabBytes } from '../../src/bench/report-charts.ts';
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
    assert.deepEqual(phaseBands(timeline).map((b) => [b.label, b.from, b.to]), [['ramp', 1, 4], ['hold', 4, 5]]);
    assert.deepEqual(connectsPerSecond(timeline).map((p) => [p.x, p.y]), [[1, 0], [2, 500], [4, 500], [5, 0]]);
    assert.equal(socketSlabBytes(timeline[0] ?? point(0, 'start', 0)), 120);
  });
});
