// `connlab doctor`: flags → traffic shape → report → table or JSON; `--apply` writes the
// sysctl part of the advice after showing it, and only with `--yes`.

import { ConnlabError } from '../../errors.ts';
import { applySysctlChanges, planSysctlChanges, type SysctlChange } from '../../limits/apply.ts';
import { diagnose, type DoctorReport } from '../../limits/diagnose.ts';
import { createHostReader } from '../../limits/host-reader.ts';
import { doctorReportJson } from '../../limits/report-json.ts';
import { defaultShape, ROLES, validateShape, type TrafficShape } from '../../limits/shape.ts';
import { readHostSnapshot } from '../../limits/snapshot.ts';
import { parseIpList, parsePortRange, parseTargets } from '../../tuple/address.ts';
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
  --source-ips LIST           client source addresses: 127.0.0.2-127.0.0.40,10.0.0.0/24
  --targets LIST              destinations: 127.0.0.1:9000-9003,127.0.0.2:80
  --source-ports RANGE|kernel planned source ports (10000-65000) or kernel-chosen (default)
  --user-bytes SIZE           user-space bytes per connection per side (default 1000)

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
  connlab doctor --role client --connections 200k --source-ips 127.0.0.2-127.0.0.9 --json
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
} as const;

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
  if (sourceIps !== undefined) shape.sourceIps = parseIpList(sourceIps, '--source-ips');
  const targets = text('targets');
  if (targets !== undefined) shape.targets = parseTargets(targets, '--targets');
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
  const reader = createHostReader(root);
  const report: DoctorReport = diagnose(readHostSnapshot(reader, { user: io.user }), shape);

  if (!values.apply) {
    io.stdout.write(values.json ? `${JSON.stringify(doctorReportJson(report), null, 2)}\n` : renderDoctorText(report));
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
