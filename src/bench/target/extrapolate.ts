// doctor's model, asked about the user's server instead of connlab's: the server role
// (one socket per connection, clients elsewhere), as many processes as hold its
// connections, its own descriptor limit, and the user bytes per connection the fit
// measured. Its answer becomes one sentence: "holds ~N connections here, bound by X;
// to go further: …". connlab's own flags (--processes) mean nothing to someone else's
// server, so that advice becomes words.

import type { Advice } from '../../limits/advice.ts';
import { diagnose } from '../../limits/diagnose.ts';
import { defaultShape } from '../../limits/shape.ts';
import type { HostSnapshot } from '../../limits/snapshot.ts';
import type { TargetExtrapolation } from './target-result.ts';

export interface MeasuredServer {
  userBytesPerConnection: number;
  /** Processes that hold the connections (nginx's workers, not its master). */
  processes: number;
  fdSoftLimit: number | undefined;
  fdHardLimit: number | undefined;
}

/** A server is usually a service: its unit's setting first, then the shell's, then the kernel's. */
const ADVICE_ORDER: readonly Advice['kind'][] = ['systemd', 'ulimit', 'sysctl', 'hardware', 'firewall'];

const fmt = (n: number): string => Math.round(n).toLocaleString('en-US');

/** doctor's answer for the measured server; `where` names the host in the line ("here", "on that host"). */
export function extrapolate(host: HostSnapshot, server: MeasuredServer, where = 'here'): TargetExtrapolation {
  const fds = { ...host.fds, processSoft: server.fdSoftLimit ?? host.fds.processSoft, processHard: server.fdHardLimit ?? host.fds.processHard };
  // A fit on a noisy server can come out slightly negative: the model needs a cost, not a refund.
  const userBytes = Math.max(0, Math.round(server.userBytesPerConnection));
  const shape = defaultShape({ role: 'server', processes: Math.max(1, server.processes), userBytesPerConnection: userBytes });
  const report = diagnose({ ...host, fds }, shape);
  const binding = report.binding;
  const limit = report.limits.find((l) => l.name === binding?.name);
  const next = report.after_spreading?.binding ?? null;
  const advice = report.advice
    .filter((a) => a.kind !== 'flag' && a.kind !== 'limits.conf' && !a.line.startsWith('echo '))
    .sort((a, b) => ADVICE_ORDER.indexOf(a.kind) - ADVICE_ORDER.indexOf(b.kind))
    .map((a) => a.line)
    .slice(0, 2);
  if (binding?.name === 'process_fds' || binding?.name === 'user_fds') advice.unshift(`more server processes (${report.after_spreading?.processes ?? '?'} at this limit)`);
  const further = [advice.join('; '), next ? `then ${next.name} binds at ~${fmt(next.allows)}` : ''].filter(Boolean).join('; ');
  return {
    connections: binding?.allows ?? null,
    binding: binding?.name ?? null,
    binding_value: limit?.value ?? null,
    after_binding: next ? { name: next.name, allows: next.allows } : null,
    advice,
    user_bytes_per_connection: userBytes,
    kernel_bytes_per_socket: host.socketCost.kernelBytesPerSocket,
    processes: shape.processes,
    fd_soft_limit: fds.processSoft ?? null,
    line: binding
      ? `holds ~${fmt(binding.allows)} connections ${where}, bound by ${binding.name} (${limit?.value ?? '?'}); to go further: ${further || 'nothing doctor knows of'}`
      : `no limit doctor knows caps this server ${where}`,
  };
}
