// Every socket error load sees is data: counted by errno and explained as the limit
// behind it, in words a user understands. The names match doctor's limit names so a
// load result and a doctor report point at the same thing.

import type { LimitName } from '../limits/model.ts';

export type Cause = LimitName | 'server' | 'network' | 'permission' | 'tuple_collision' | 'unknown';

export interface Classification {
  errno: string;
  cause: Cause;
  explanation: string;
}

/** What the kernel's listen-queue counters did during the run; they decide ambiguous errnos. */
export interface ClassifyContext {
  listenOverflowsRose: boolean;
}

const FIXED: Record<string, [Cause, string]> = {
  EADDRNOTAVAIL: ['ephemeral_ports', 'no free source port toward that destination: add source IPs (--source-ips) or destinations, or widen ip_local_port_range'],
  EMFILE: ['process_fds', 'a worker reached its open-file limit: more workers (--workers) or a higher ulimit -n'],
  ENFILE: ['system_fds', 'the host ran out of file handles: raise fs.file-max'],
  ENOMEM: ['memory', 'the kernel could not allocate socket memory'],
  ENOBUFS: ['memory', 'the kernel could not allocate socket buffers (tcp_mem pressure or no memory)'],
  EADDRINUSE: ['tuple_collision', 'a planned source port is taken (another socket, or a listener on 0.0.0.0): pick another --source-ports range'],
  ECONNRESET: ['server', 'the server reset the connection: at accept() under EMFILE, or it closed while the handshake completed'],
  EACCES: ['permission', 'not allowed: a privileged source port or a firewall rule'],
  EPERM: ['permission', 'not allowed: a firewall rule rejected the connection'],
  ENETUNREACH: ['network', 'no route to that network'],
  EHOSTUNREACH: ['network', 'no route to that host'],
  EAGAIN: ['ephemeral_ports', 'the kernel found no free port in time (a nearly full range)'],
};

export function classifyErrno(errno: string, context: ClassifyContext = { listenOverflowsRose: false }): Classification {
  const fixed = FIXED[errno];
  if (fixed) return { errno, cause: fixed[0], explanation: fixed[1] };
  if (errno === 'ETIMEDOUT' || errno === 'ECONNREFUSED') {
    return context.listenOverflowsRose
      ? { errno, cause: 'backlog', explanation: 'the accept queue overflowed (ListenOverflows rose): the server accepts too slowly for the ramp; raise somaxconn and the listen backlog, or lower --rate' }
      : errno === 'ECONNREFUSED'
        ? { errno, cause: 'server', explanation: 'nothing is listening on that address and port' }
        : { errno, cause: 'network', explanation: 'the handshake got no answer: a firewall, a full conntrack table, or an overloaded server' };
  }
  return { errno, cause: 'unknown', explanation: 'an error connlab has no explanation for yet' };
}

/** Classifies a whole errno table, most frequent first. */
export function classifyErrors(errors: Record<string, number>, context?: ClassifyContext): (Classification & { count: number })[] {
  return Object.entries(errors)
    .filter(([, count]) => count > 0)
    .sort((a, b) => b[1] - a[1])
    .map(([errno, count]) => ({ ...classifyErrno(errno, context), count }));
}
