// doctor's cgroup block for people: where the server runs, the limit that binds on the
// path, what the kernel charges there per socket against what the host pays, the OOM
// counters, pids.max, the CPU quota note, and the target's own descriptor limit.

import type { DoctorReport } from '../../limits/diagnose.ts';
import { formatBytes, formatCount } from '../../units.ts';

const bytes = (n: number | null): string => (n === null ? 'none' : formatBytes(n));

function memoryLines(report: DoctorReport): string[] {
  const c = report.cgroup;
  const m = c?.memory;
  if (!c || !m) return [];
  const limit = m.limit_bytes === null ? 'no memory limit' : `memory limit ${formatBytes(m.limit_bytes)}${m.limit_path === c.path ? '' : ` (set on ${m.limit_path})`}`;
  const kernel = m.kernel_bytes === null ? '' : `, kernel ${formatBytes(m.kernel_bytes)}`;
  const events = [m.failcnt === null ? '' : `failcnt ${formatCount(m.failcnt)}`, m.oom_kills === null ? '' : `OOM kills ${formatCount(m.oom_kills)}`]
    .filter(Boolean).join(', ');
  const lines = [`  ${limit}; usage ${bytes(m.usage_bytes)}${kernel}${events ? `; ${events}` : ''}`];
  if (c.charged) {
    lines.push(`  charged to this cgroup per socket: ${formatCount(c.charged.kernel_bytes_per_socket)} B kernel (the host pays ${formatCount(report.host.socketCost.kernelBytesPerSocket)} B); ${c.charged.basis}`);
  }
  return lines;
}

/** The block under doctor's table; empty when no cgroup, process or unit was read. */
export function renderCgroupText(report: DoctorReport): string[] {
  const c = report.cgroup;
  const lines: string[] = [];
  if (c) {
    lines.push('', `In cgroup ${c.path} (v${c.version}, ${formatCount(c.members.length)} process(es)):`, ...memoryLines(report));
    if (c.pids && c.pids.max !== null) lines.push(`  pids.max ${c.pids.max === null ? 'none' : formatCount(c.pids.max)}${c.pids.max_path && c.pids.max_path !== c.path ? ` (set on ${c.pids.max_path})` : ''}, ${formatCount(c.pids.current ?? 0)} task(s) now`);
    if (c.cpu_note) lines.push(`  ${c.cpu_note}`);
  }
  const p = report.process;
  if (p) lines.push(`Process ${p.pid}: open files ${p.nofile_soft === null ? 'unknown' : formatCount(p.nofile_soft)} (hard ${p.nofile_hard === null ? 'unknown' : formatCount(p.nofile_hard)}), used for process_fds.`);
  const u = report.unit;
  if (u) {
    lines.push(u.known
      ? `Unit ${u.unit}: LimitNOFILE ${u.nofile_hard === null ? 'infinity' : formatCount(u.nofile_hard)}, MemoryMax ${u.memory_max_bytes === null ? 'infinity' : formatBytes(u.memory_max_bytes)}, TasksMax ${u.tasks_max === null ? 'infinity' : formatCount(u.tasks_max)}, cgroup ${u.control_group ?? 'unknown'}.`
      : `Unit ${u.unit}: unknown (${u.reason}).`);
  }
  return lines;
}
