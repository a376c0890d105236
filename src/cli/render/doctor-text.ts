// doctor's report for people: the limits table in the spirit of the article's closing
// table (resource, setting, what it allows, what happens when it is full), then what
// binds, what binds next once spread over processes, and the lines that lift it.

import type { DoctorReport } from '../../limits/diagnose.ts';
import type { Limit } from '../../limits/model.ts';
import { renderCgroupText } from './cgroup-text.ts';
import { renderTable } from './table.ts';

const count = (n: number | null): string => (n === null ? '—' : n.toLocaleString('en-US'));
const signed = (n: number | null): string => (n === null ? '' : `${n >= 0 ? '+' : ''}${n.toLocaleString('en-US')}`);

function row(limit: Limit, report: DoctorReport): string[] {
  const marker = report.binding?.name === limit.name ? ' ◀ binds' : limit.active ? '' : ' (inactive)';
  const advice = report.advice.find((a) => a.limit === limit.name);
  return [
    `${limit.name}${marker}`,
    limit.value,
    limit.allows === null ? 'no cap' : count(limit.allows),
    signed(limit.headroom),
    `${limit.error}: ${limit.symptom}`,
    advice ? advice.line.split('\n')[0] ?? '' : '',
  ];
}

function shapeLine(report: DoctorReport): string {
  const s = report.shape;
  const target = s.connections === null ? 'how many can this host hold?' : `target ${count(s.connections)} connections`;
  return `Role ${s.role} (${s.sockets_per_connection} socket(s) per connection), ${s.processes} process(es) per side, source ports ${s.source_ports}: ${target}`;
}

function verdict(report: DoctorReport): string[] {
  const lines: string[] = [];
  const b = report.binding;
  if (b) {
    lines.push(report.shape.connections === null
      ? `Binds first: ${b.name} at ${count(b.allows)} connections (${b.error}).`
      : `${report.reaches_target ? 'Reaches the target' : 'Falls short'}: ${b.name} binds first at ${count(b.allows)} connections (${b.error}).`);
  }
  if (report.processes_needed !== null) {
    lines.push(`Processes needed at the per-process descriptor limit: ${count(report.processes_needed)} in all.`);
  }
  const next = report.after_spreading;
  if (next?.binding) {
    const headroom = report.shape.connections === null ? '' : `, headroom ${signed(next.headroom[next.binding.name] ?? null)}`;
    lines.push(`Spread over ${count(next.processes)} processes, the next limit is ${next.binding.name} at ${count(next.binding.allows)} (${next.binding.error}${headroom}).`);
  }
  return lines;
}

function adviceLines(report: DoctorReport): string[] {
  if (report.advice.length === 0) return [];
  const out = ['', 'To lift it:'];
  for (const a of report.advice) {
    const [first, ...rest] = a.line.split('\n');
    out.push(`  [${a.limit}] ${first}`, ...rest.map((l) => `  ${' '.repeat(a.limit.length + 3)}${l}`), `      ${a.why}`);
  }
  return out;
}

export function renderDoctorText(report: DoctorReport): string {
  const table = renderTable(
    [
      { header: 'LIMIT' },
      { header: 'SETTING', maxWidth: 28 },
      { header: 'ALLOWS', align: 'right' },
      { header: 'HEADROOM', align: 'right' },
      { header: 'WHEN FULL', maxWidth: 30 },
      { header: 'FIRST FIX', maxWidth: 30 },
    ],
    report.limits.map((l) => row(l, report)),
  );
  const socket = report.host.socketCost;
  return [
    shapeLine(report),
    '',
    table,
    '',
    ...verdict(report),
    `Kernel memory per socket: ${count(socket.kernelBytesPerSocket)} B (${socket.source === 'slabinfo' ? 'from /proc/slabinfo' : 'fallback estimate: /proc/slabinfo unreadable'}).`,
    ...renderCgroupText(report),
    ...adviceLines(report),
    '',
  ].join('\n');
}
