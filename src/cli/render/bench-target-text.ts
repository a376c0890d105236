// `bench --target`'s final text: one row per step (TCP sockets and socket slab are
// host-wide, as the kernel fit reads them), then the fits, the failure if any, and
// doctor's extrapolation for that server. A pure function of the result.

import type { BenchResult } from '../../bench/result.ts';
import type { TargetSection } from '../../bench/target/target-result.ts';
import { formatBytes, formatCount } from '../../units.ts';
import { renderTable } from './table.ts';

function stepRows(t: TargetSection): string[][] {
  return t.steps.map((s) => [
    String(s.step), formatCount(s.target), formatCount(s.established), formatCount(s.verified),
    formatBytes(s.server_private_dirty_bytes), formatCount(s.kernel_sockets), formatBytes(s.slab_bytes), `${s.server_cpu_seconds.toFixed(2)} s`, s.ok ? 'held' : 'FAILED',
  ]);
}

export function renderTargetText(r: BenchResult, reportPath: string | undefined): string {
  const t = r.target;
  if (!t) return '';
  const steps = renderTable([
    { header: 'STEP', align: 'right' }, { header: 'ASKED', align: 'right' }, { header: 'HELD', align: 'right' }, { header: 'VERIFIED', align: 'right' },
    { header: t.remote ? 'SERVER MEMORY' : 'SERVER DIRTY', align: 'right' }, { header: 'TCP SOCKETS', align: 'right' }, { header: 'SOCKET SLAB', align: 'right' }, { header: 'SERVER CPU', align: 'right' }, { header: '' },
  ], stepRows(t));
  const x = t.extrapolation;
  const r2 = t.remote;
  const rows: [string, string][] = [
    r2 ? ['server', `on another host, read from ${r2.endpoints.map((e) => `${e.url} (${e.role}${e.error ? `: ${e.error}` : ''})`).join(', ')}; descriptor limit ${t.server.fd_soft_limit === null ? 'unknown' : formatCount(t.server.fd_soft_limit)}`]
      : ['server', `${t.server.pid !== null ? `pid ${t.server.pid}` : `cgroup ${t.server.cgroup}`}: ${t.server.pids.length} process(es), ${t.server.holders} holding connections, descriptor limit ${t.server.fd_soft_limit === null ? 'unknown' : formatCount(t.server.fd_soft_limit)}`],
    ['user bytes/conn', `${t.fit.bytes_per_connection} B (slope of ${r2 ? r2.memory_metric : 'server private dirty memory'} over ${t.fit.points} points, r² ${t.fit.r2}); fixed ${formatBytes(t.fit.intercept_bytes)}${r2 ? '' : ` over ${t.server.pids.length} process(es)`} (idle before the ramp: ${formatBytes(t.baseline.server_private_dirty_bytes)})`],
    ['kernel bytes/socket', `${formatCount(t.kernel_bytes_per_server_socket)} B (${r2?.kernel_source === 'meminfo_slab' ? 'meminfo Slab' : 'socket slab'} against TCP sockets in use, r² ${t.kernel_fit.r2}); ${formatCount(t.kernel_bytes_per_connection)} B per connection ${r2 ? 'on the server\'s host' : 'with both ends here'}`],
    ['failed', t.failure ? t.failure.line : 'no: every step held and verified'],
    ['extrapolation', x.line],
    ...(r2 ? [['not seen', r2.unseen.join('; ')] as [string, string]] : []),
  ];
  const head = `connlab bench --target ${t.addresses.join(',')} (${t.protocol})${r.outcome === 'completed' || r.outcome === 'failed' ? '' : ` (stopped early: ${r.outcome}; partial result)`}`;
  return `${head}\n\n${steps}\n${renderTable([{ header: 'WHAT' }, { header: 'MEASURED', maxWidth: 100 }], rows)}\n${reportPath ? `\nReport: ${reportPath}\n` : ''}`;
}
