// bench's final table, in the spirit of the article: ESTAB, slab, memory per connection,
// the limit nearest to binding. A pure function of the result.

import type { BenchResult } from '../../bench/result.ts';
import { formatBytes, formatCount } from '../../units.ts';
import { renderTable } from './table.ts';

/** The requested hold, when the run held for less. */
function holdNote(r: BenchResult): string {
  const requested = r.hold_requested_seconds;
  return requested !== undefined && requested !== r.hold_seconds ? ` (of ${requested}s asked)` : '';
}

/** SO_REUSEPORT's spread: what the busiest and the idlest serve worker held. */
function heldNote(r: BenchResult): string {
  const held = r.processes.server_held;
  return held && r.processes.server > 1 ? ` (a serve worker held ${formatCount(held.min)}-${formatCount(held.max)})` : '';
}

/** One row per worker that died, serve side then load side; none when none did. */
function deathRows(r: BenchResult): [string, string][] {
  const sides = [['serve', r.deaths?.server ?? []], ['load', r.deaths?.load ?? []]] as const;
  return sides.flatMap(([side, deaths]) => deaths.map((d): [string, string] =>
    ['worker died', `${side} worker ${d.worker} (pid ${d.pid ?? '?'}): ${d.reason}; ${formatCount(d.lost_connections)} connection(s) lost${d.restarted ? '; restarted' : ''}`]));
}

export function renderBenchText(r: BenchResult, reportPath: string | undefined): string {
  const slab = Object.entries(r.memory.kernel_by_cache).sort((a, b) => b[1] - a[1]);
  const slabTotal = slab.reduce((sum, [, perConnection]) => sum + perConnection * r.connections.established, 0);
  const nearest = Object.entries(r.limits.headroom).sort((a, b) => (a[1] ?? 0) - (b[1] ?? 0))[0];
  const errors = Object.entries(r.errors);
  const rows: [string, string][] = [
    ['ESTAB', `${formatCount(r.connections.established)} of ${formatCount(r.connections.target)} connections (${formatCount(2 * r.connections.established)} sockets, both ends here)`],
    ['verified', `${formatCount(r.connections.verified)} answered a ping after a ${r.hold_seconds}s hold${holdNote(r)}`],
    ['kernel slab', `${formatBytes(slabTotal)}: ${slab.map(([name, b]) => `${name} ${formatCount(b)} B`).join(', ')} per connection`],
    ['per connection', `kernel ${formatCount(r.memory.kernel_bytes_per_connection)} B (slab sizes predict ${formatCount(r.memory.kernel_expected_bytes_per_connection)} B) · serve ${formatCount(r.memory.server_user_bytes_per_connection)} B · load ${formatCount(r.memory.load_user_bytes_per_connection)} B`],
    ['ramp', `${r.ramp.seconds} s, ${formatCount(r.ramp.per_second)} connects/s; connect p50 ${r.ramp.connect_ms.p50} ms, p99 ${r.ramp.connect_ms.p99} ms`],
    ['broadcast', `${formatCount(r.broadcast.delivered)} delivered; p50 ${r.broadcast.p50_ms} ms, p99 ${r.broadcast.p99_ms} ms`],
    ['nearest limit', nearest ? `${nearest[0]}, headroom ${formatCount(nearest[1] ?? 0)} connections` : 'unknown'],
    ['processes', `${r.processes.server} serve + ${r.processes.load} load workers${heldNote(r)}`],
    ['errors', errors.length ? errors.map(([errno, n]) => `${errno} × ${formatCount(n)}`).join(', ') : 'none'],
    ...(r.tls ? [['tls', `${formatCount(r.tls.handshakes.load)} handshakes, ${formatCount(r.tls.handshakes_per_second)}/s; CPU per handshake: serve ${formatCount(r.tls.cpu_us_per_handshake.server)} µs, load ${formatCount(r.tls.cpu_us_per_handshake.load)} µs (${r.tls.library ?? 'OpenSSL'})`] as [string, string]] : []),
    ...deathRows(r),
  ];
  const head = r.outcome === 'completed' ? 'connlab bench' : `connlab bench (stopped early: ${r.outcome}; partial result)`;
  return `${head}\n\n${renderTable([{ header: 'WHAT' }, { header: 'MEASURED', maxWidth: 100 }], rows)}\n${reportPath ? `\nReport: ${reportPath}\n` : ''}`;
}
