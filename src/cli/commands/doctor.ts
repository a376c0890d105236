// `connlab doctor`: flags → traffic shape → report → table or JSON; `--apply` writes the
// sysctl part of the advice after showing it, and only with `--yes`.

import { describeLeftover, ownerAlive, SettingsJournal, type JournalEntry, type Leftover } from '../../demo/settings-journal.ts';
import { ConnlabError, invalidArgument } from '../../errors.ts';
import { applySysctlChanges, planSysctlChanges, type SysctlChange } from '../../limits/apply.ts';
import { diagnose, type DoctorReport } from '../../limits/diagnose.ts';
import { readProcessNofile, readSlabObjectBytes, type CgroupContext } from '../../limits/cgroup-context.ts';
import { readCgroupSnapshot, type CgroupTarget } from '../../limits/cgroup-reader.ts';
import { readUnitLimits } from '../../limits/systemd-unit.ts';
import type { HostReader } from '../../limits/host-reader.ts';
import { createHostReader } from '../../limits/host-reader.ts';
import { doctorReportJson } from '../../limits/report-json.ts';
import { defaultShape, ROLES, validateShape, type TrafficShape } from '../../limits/shape.ts';
import { readHostSnapshot } from '../../limits/snapshot.ts';
import { parseTargetList } from '../../target/parse-target.ts';
import { parsePortRange, type Range, type TargetSpec } from '../../tuple/address.ts';
import { parseSourceList } from '../../tuple/source-list.ts';
import { parseBytes, parseCount } from '../../units.ts';
import { oneOf, parseCommandArgs } from '../args.ts';
import type { Io } from '../io.ts';
import { renderDoctorText } from '../render/doctor-text.ts';

export const summary = 'read this host\'s limits, predict capacity, name the limit that binds first';

export const help = `Usage: connlab doctor [options]

Reads every Linux limit that caps concurrent TCP connections (descriptors, ephemeral
ports, memory, backlog, conntrack, tasks), predicts how many connections a shape of
traffic can reach, names the limit that binds first with the error you would see, and
prints the exact settings that lift it. Changes nothing unless you pass --apply --yes.

Shape of traffic (the same flags load and bench take):
  --role server|client|both   which ends run here; both = a loopback bench (default server)
  --connections N             the target, e.g. 100k or 1m (default: what the host can hold)
  --processes N               processes on each side (default 1)
  --source-ips LIST           client source addresses: 127.0.0.2-127.0.0.40,10.0.0.0/24,
                              fd00:18::/64 (IPv6 sources pair with IPv6 targets)
  --targets LIST              destinations: 127.0.0.1:9000-9003,127.0.0.2:80,[fd00::1]:9000
                              (each address and port is a port pool of its own)
  --source-ports RANGE|kernel planned source ports (10000-65000) or kernel-chosen (default)
  --user-bytes SIZE           user-space bytes per connection per side (default 1000)

Where the server runs (default: doctor's own cgroup):
  --cgroup PATH               read this cgroup (v1 or v2): /sys/fs/cgroup/memory/a/b or a/b
  --pid PID                   read the cgroup and the open-file limit of this process
  --unit NAME                 read a systemd unit's LimitNOFILE, MemoryMax, TasksMax and its
                              cgroup (via systemctl show; "unknown" without systemd)
  The smallest memory.max / memory.limit_in_bytes and pids.max on the path to the root
  bind; cgroup_memory and cgroup_pids join the table. The cgroup is charged less per
  socket than the host pays (docs/containers.md): pass --user-bytes for your server.

Output and actions:
  --json                      the report as JSON (schema connlab.doctor/1)
  --apply                     show the sysctl changes the advice asks for (root only)
  --yes                       with --apply: write them to /proc/sys
  --root DIR                  read a captured tree (DIR/proc, DIR/etc) instead of this host
  -h, --help                  this help

Examples:
  connlab doctor                                   how far can a server here go?
  connlab doctor --role client --targets 127.0.0.1:9000
                                                   one source, one destination: the port range binds
  connlab doctor --connections 1m --role both      the million on one host: processes needed, what binds next
  connlab doctor --pid $(pgrep -o nginx) --user-bytes 600
                                                   the cgroup nginx runs in: where it is OOM-killed
  connlab doctor --cgroup kubepods.slice/... --connections 100k --json
  connlab doctor --role client --connections 200k --source-ips 127.0.0.2-127.0.0.9 --json
  connlab doctor --role client --connections 1m --targets [fd00:18::ffff:0:0:1]:9000 \
                 --source-ips fd00:18::/64 --source-ports 10000-10000
  sudo connlab doctor --connections 1m --role both --apply --yes

Exit status: 0 when read (even if the target is out of reach), 2 for bad input or an
unreadable /proc, 1 when applying a setting failed.
`;

const options = {
  role: { type: 'string' },
  connections: { type: 'string' },
  processes: { type: 'string' },
  'source-ips': { type: 'string' },
  targets: { type: 'string' },
  'source-ports': { type: 'string' },
  'user-bytes': { type: 'string' },
  json: { type: 'boolean' },
  apply: { type: 'boolean' },
  yes: { type: 'boolean' },
  root: { type: 'string' },
  cgroup: { type: 'string' },
  pid: { type: 'string' },
  unit: { type: 'string' },
} as const;

/** `--targets` in both families: IPv4 (ranges) and [IPv6] literals; doctor resolves no names. */
function shapeTargets(text: string): Pick<TrafficShape, 'targets' | 'targets6'> {
  const parsed = parseTargetList([text]);
  const targets: TargetSpec[] = [];
  const targets6: { address: string; ports: Range }[] = [];
  for (const t of parsed) {
    if (t.host.kind === 'ipv4') targets.push({ ips: t.host.ips, ports: t.ports });
    else if (t.host.kind === 'ipv6') targets6.push({ address: t.host.address, ports: t.ports });
    else if (t.host.name === 'localhost') targets.push({ ips: { first: 0x7f000001, last: 0x7f000001 }, ports: t.ports });
    else throw invalidArgument('--targets', t.text, 'addresses (doctor resolves no names: one address per A/AAAA record, e.g. from getent ahosts)');
  }
  return { targets: targets.length > 0 ? targets : undefined, ...(targets6.length > 0 ? { targets6 } : {}) };
}

/** Flags shared by every command that plans traffic; exported for load and bench. */
export function shapeFromFlags(values: Record<string, string | boolean | undefined>, defaults: Partial<TrafficShape>): TrafficShape {
  const text = (name: string): string | undefined => {
    const v = values[name];
    return typeof v === 'string' ? v : undefined;
  };
  const shape = defaultShape(defaults);
  const role = text('role');
  if (role !== undefined) shape.role = oneOf('--role', role, ROLES);
  const connections = text('connections');
  if (connections !== undefined) shape.connections = parseCount(connections, '--connections', { min: 1 });
  const processes = text('processes');
  if (processes !== undefined) shape.processes = parseCount(processes, '--processes', { min: 1 });
  const sourceIps = text('source-ips');
  if (sourceIps !== undefined) {
    const { v4, v6 } = parseSourceList(sourceIps, '--source-ips');
    shape.sourceIps = v4;
    if (v6) shape.sourceIps6 = v6;
  }
  const targets = text('targets');
  if (targets !== undefined) Object.assign(shape, shapeTargets(targets));
  const sourcePorts = text('source-ports');
  if (sourcePorts !== undefined) shape.sourcePorts = sourcePorts === 'kernel' ? 'kernel' : parsePortRange(sourcePorts, '--source-ports');
  const userBytes = text('user-bytes');
  if (userBytes !== undefined) shape.userBytesPerConnection = parseBytes(userBytes, '--user-bytes');
  return validateShape(shape);
}

function renderChanges(changes: readonly SysctlChange[], written: boolean): string {
  if (changes.length === 0) return 'Every sysctl the advice names already has its value: nothing to apply.\n';
  const lines = changes.map((c) => `  ${c.name}: ${c.from ?? '(unreadable)'} → ${c.to}`);
  const tail = written
    ? `Wrote ${changes.length} setting(s). They last until reboot; the advice shows the sysctl.d lines that keep them.`
    : `Nothing written: run again with --apply --yes to write ${changes.length} setting(s).`;
  return `Sysctl changes:\n${lines.join('\n')}\n${tail}\n`;
}

/** Leftovers restored now, and changes a running connlab holds (restored when it ends). */
export function settingsJournalReport(root: string): { leftovers: Leftover[]; in_use: JournalEntry[] } {
  const journal = new SettingsJournal(root);
  const leftovers = journal.recover();
  return { leftovers, in_use: journal.entries().filter(ownerAlive) };
}

function renderJournal(j: { leftovers: Leftover[]; in_use: JournalEntry[] }): string {
  const lines = [
    ...j.leftovers.map((l) => `Leftover: ${describeLeftover(l)}`),
    ...j.in_use.map((e) => `In use: ${e.name} is ${e.value} (was ${e.original}) while connlab pid ${e.owner_pid} runs; it restores it when it ends`),
  ];
  return lines.length ? `${lines.join('\n')}\n\n` : '';
}

type Values = { cgroup?: string; pid?: string; unit?: string };

function cgroupTarget(values: Values, pid: number | undefined, unitGroup: string | null): CgroupTarget {
  if (values.cgroup !== undefined) return { kind: 'path', path: values.cgroup };
  if (pid !== undefined) return { kind: 'pid', pid };
  return unitGroup !== null ? { kind: 'path', path: unitGroup } : { kind: 'self' };
}

/** --cgroup / --pid / --unit → what doctor reads besides the host. */
export async function cgroupContextFromFlags(values: Values, reader: HostReader): Promise<CgroupContext> {
  if (values.cgroup !== undefined && values.pid !== undefined) {
    throw new ConnlabError('CONNLAB_ERR_USAGE', '--cgroup and --pid both name the cgroup to read', { hint: 'pass one of them (--pid also reads that process\'s open-file limit)' });
  }
  const pid = values.pid === undefined ? undefined : parseCount(values.pid, '--pid', { min: 1 });
  const process = pid === undefined ? null : readProcessNofile(reader, pid);
  if (pid !== undefined && reader.readText(`/proc/${pid}/cgroup`) === undefined) {
    throw new ConnlabError('CONNLAB_ERR_INVALID_ARGUMENT', `--pid ${pid}: no such process`, { hint: 'pass the PID of the running server: pgrep -o nginx' });
  }
  const unit = values.unit === undefined ? null : await readUnitLimits(values.unit);
  const cgroup = readCgroupSnapshot(reader, cgroupTarget(values, pid, unit?.control_group ?? null));
  if (values.cgroup !== undefined && (cgroup === undefined || reader.readText(`${cgroup.dir}/cgroup.procs`) === undefined)) {
    throw new ConnlabError('CONNLAB_ERR_INVALID_ARGUMENT', `--cgroup ${values.cgroup}: no such cgroup`, {
      hint: 'give the path inside the hierarchy (system.slice/nginx.service) or the directory (/sys/fs/cgroup/memory/...); see /proc/PID/cgroup',
    });
  }
  return { cgroup, objectBytes: readSlabObjectBytes(reader), process, unit };
}

export async function run(argv: string[], io: Io): Promise<number> {
  const { values } = parseCommandArgs('doctor', argv, options);
  if (values.help) {
    io.stdout.write(help);
    return 0;
  }
  if (values.yes && !values.apply) {
    throw new ConnlabError('CONNLAB_ERR_USAGE', '--yes only makes sense with --apply', { hint: 'use --apply --yes to write sysctl changes' });
  }
  const root = values.root ?? '/';
  if (root === '/' && io.platform !== 'linux') {
    throw new ConnlabError('CONNLAB_ERR_NOT_LINUX', `doctor reads Linux /proc and this is ${io.platform}`, {
      hint: 'run it on the Linux host you want to measure, or pass --root with a captured tree',
    });
  }
  const shape = shapeFromFlags(values, { role: 'server' });
  // A setting a killed connlab left changed is restored before the host is read.
  const journal = settingsJournalReport(root);
  const reader = createHostReader(root);
  const ctx = await cgroupContextFromFlags(values, reader);
  const report: DoctorReport = diagnose(readHostSnapshot(reader, { user: io.user }), shape, ctx);

  if (!values.apply) {
    io.stdout.write(values.json ? `${JSON.stringify({ ...doctorReportJson(report), settings_journal: journal }, null, 2)}\n` : renderJournal(journal) + renderDoctorText(report));
    return 0;
  }
  if (io.uid !== 0 && root === '/') {
    throw new ConnlabError('CONNLAB_ERR_NOT_ROOT', '--apply changes kernel settings and this is not root', {
      hint: 'run it with sudo, or drop --apply and copy the advice lines',
    });
  }
  const changes = planSysctlChanges(report.advice, reader);
  // The diff is printed before anything is written, so a failed write still showed it.
  (values.json ? io.stderr : io.stdout).write(renderChanges(changes, false).replace(/Nothing written.*\n$/, ''));
  if (values.yes) applySysctlChanges(changes, root);
  if (values.json) io.stdout.write(`${JSON.stringify({ ...doctorReportJson(report), applied: { changes, written: Boolean(values.yes) } }, null, 2)}\n`);
  else io.stdout.write(renderChanges(changes, Boolean(values.yes)).split('\n').slice(changes.length + 1).join('\n'));
  return 0;
}
