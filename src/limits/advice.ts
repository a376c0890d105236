// Tuning advice: for a limit that stops the target, the exact lines that lift it and one
// line on why. Sysctl advice carries the setting and value so `doctor --apply` can write
// exactly what was printed.

import { formatIpv4, type Range } from '../tuple/address.ts';
import { ephemeralPortsLimit, FD_RESERVE_PER_PROCESS, sourceIpsNeeded, type Limit } from './model.ts';
import type { HostSnapshot } from './snapshot.ts';
import { destinationCount, socketsPerConnection, type TrafficShape } from './shape.ts';

export type AdviceKind = 'sysctl' | 'limits.conf' | 'systemd' | 'ulimit' | 'flag' | 'hardware' | 'firewall';

export interface Advice {
  limit: Limit['name'];
  kind: AdviceKind;
  /** The exact line to run or write. */
  line: string;
  why: string;
  /** For kind `sysctl`: what `--apply` writes. */
  sysctl?: { name: string; value: string };
}

/** The file advice suggests for settings that should survive a reboot. */
export const SYSCTL_FILE = '/etc/sysctl.d/90-connlab.conf';

function sysctl(limitName: Limit['name'], name: string, value: string, why: string): Advice[] {
  return [
    { limit: limitName, kind: 'sysctl', line: `sysctl -w ${name}="${value}"`, why, sysctl: { name, value } },
    { limit: limitName, kind: 'sysctl', line: `echo '${name} = ${value}' >> ${SYSCTL_FILE}`, why: 'keeps it after a reboot' },
  ];
}

const limitAllows = (host: HostSnapshot, shape: TrafficShape): number | null => ephemeralPortsLimit(host, shape).allows;

const roundUp = (n: number, step: number): number => Math.ceil(n / step) * step;

function ephemeralAdvice(host: HostSnapshot, shape: TrafficShape, target: number): Advice[] {
  const out: Advice[] = [];
  const first = shape.sourceIps?.[0]?.first ?? 0x7f000002;
  const ips = sourceIpsNeeded(host, shape, target);
  if (Number.isFinite(ips)) {
    const last: Range = { first, last: first + ips - 1 };
    out.push({
      limit: 'ephemeral_ports', kind: 'flag', line: `--source-ips ${formatIpv4(last.first)}-${formatIpv4(last.last)}`,
      why: `each source IP has its own port pool; ${ips} of them cover ${target.toLocaleString('en-US')} (on loopback every 127.x.y.z works; elsewhere add them with \`ip addr add\`)`,
    });
  }
  const destinations = destinationCount(shape);
  const perDestination = (limitAllows(host, shape) ?? 0) / destinations;
  if (perDestination > 0) {
    const needed = Math.ceil(target / perDestination);
    const spec = shape.targets?.[0];
    const ip = spec ? formatIpv4(spec.ips.first) : '<server>';
    const port = spec?.ports.first ?? 9000;
    out.push({
      limit: 'ephemeral_ports', kind: 'flag', line: `--targets ${ip}:${port}-${Math.min(65535, port + needed - 1)}`,
      why: `or more destinations: the pool is per destination, ${needed} of them cover the target`,
    });
  }
  if (shape.sourcePorts === 'kernel') {
    out.push(...sysctl('ephemeral_ports', 'net.ipv4.ip_local_port_range', '1024 65535',
      'widens every pool from the default 28,232 to 64,512 ports (keep listening ports out of it, or reserve them in ip_local_reserved_ports)'));
  }
  return out;
}

function processFdsAdvice(host: HostSnapshot, shape: TrafficShape, target: number, limit: Limit): Advice[] {
  const perProcess = Math.ceil(target / shape.processes) + FD_RESERVE_PER_PROCESS;
  const spread = Math.ceil(target / Math.max(1, (host.fds.processSoft ?? 1024) - FD_RESERVE_PER_PROCESS));
  const hard = host.fds.processHard;
  const aboveHard = hard !== null && hard !== undefined && perProcess > hard;
  // Order matters: no RLIMIT_NOFILE can exceed fs.nr_open, so a `ulimit -n` past it fails
  // until the sysctl is raised. The advice is read top to bottom, so the sysctl goes first.
  const nrOpen = (host.fds.nrOpen ?? Infinity) < perProcess
    ? sysctl(limit.name, 'fs.nr_open', String(roundUp(perProcess, 1024)), `no process limit can exceed fs.nr_open (${host.fds.nrOpen}): raise it before the lines below`)
    : [];
  return [
    { limit: limit.name, kind: 'flag', line: `--processes ${spread}`, why: `spread the sockets: ${spread} process(es) per side at the current limit` },
    ...nrOpen,
    {
      limit: limit.name, kind: 'ulimit', line: `ulimit -n ${perProcess}`,
      why: aboveHard
        ? `above the hard limit (${hard}): only root can raise it, in a root shell (bash sets soft and hard), for the processes that shell starts`
        : 'raises this shell\'s soft limit (up to the hard limit) for the processes it starts',
    },
    { limit: limit.name, kind: 'limits.conf', line: `* soft nofile ${perProcess}\n* hard nofile ${perProcess}\nroot soft nofile ${perProcess}\nroot hard nofile ${perProcess}`, why: 'pam_limits gives new sessions this limit (`*` does not cover root)' },
    { limit: limit.name, kind: 'systemd', line: `LimitNOFILE=${perProcess}`, why: 'services started by systemd ignore limits.conf; set it in the unit' },
  ];
}

function systemFdsAdvice(host: HostSnapshot, shape: TrafficShape, target: number): Advice[] {
  const needed = roundUp((host.fds.inUse ?? 0) + target * socketsPerConnection(shape) * 1.1, 1000);
  return sysctl('system_fds', 'fs.file-max', String(needed), 'every socket is an open file host-wide; 10% above the target leaves room for everything else');
}

function memoryAdvice(shape: TrafficShape): Advice[] {
  return [
    { limit: 'memory', kind: 'hardware', line: 'add RAM, or cut per-connection bytes (fewer buffers, a leaner holder)', why: 'kernel socket objects are fixed cost; only user-space bytes per connection are yours to shrink' },
    ...(shape.role === 'both'
      ? [{ limit: 'memory' as const, kind: 'flag' as const, line: 'put the client on another host (--role server here)', why: 'both ends on one host pay for two sockets per connection' }]
      : []),
  ];
}

function conntrackAdvice(target: number): Advice[] {
  return [
    ...sysctl('conntrack', 'net.netfilter.nf_conntrack_max', String(roundUp(target * 1.1, 1024)), 'one table entry per tracked connection'),
    { limit: 'conntrack', kind: 'firewall', line: 'nft add rule inet raw prerouting tcp dport <port> notrack', why: 'or skip tracking for this traffic altogether' },
  ];
}

function backlogAdvice(): Advice[] {
  return [
    ...sysctl('backlog', 'net.core.somaxconn', '65535', 'caps every listen() backlog; a fast ramp needs a deep accept queue'),
    ...sysctl('backlog', 'net.ipv4.tcp_max_syn_backlog', '65535', 'half-open handshakes waiting for the final ACK'),
  ];
}

/** Advice for one limit that falls short of `target` connections. */
export function adviseFor(limit: Limit, host: HostSnapshot, shape: TrafficShape, target: number): Advice[] {
  switch (limit.name) {
    case 'ephemeral_ports': return ephemeralAdvice(host, shape, target);
    case 'process_fds':
    case 'user_fds': return processFdsAdvice(host, shape, target, limit);
    case 'system_fds': return systemFdsAdvice(host, shape, target);
    case 'memory': return memoryAdvice(shape);
    case 'conntrack': return conntrackAdvice(target);
    case 'backlog': return backlogAdvice();
    case 'tasks': return sysctl('tasks', 'kernel.threads-max', String(roundUp((host.tasks.threadsMax ?? 0) * 2, 1024)), 'each worker process needs its threads');
  }
}

/** somaxconn below the modern default of 4096 is worth raising for any fast ramp. */
export function backlogNeedsAdvice(host: HostSnapshot): boolean {
  return (host.backlog.somaxconn ?? 4096) < 4096;
}
