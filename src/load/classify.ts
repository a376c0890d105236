// Every socket error load sees is data: counted by errno and explained as the limit
// behind it, in words a user understands. The names match doctor's limit names so a
// load result and a doctor report point at the same thing.

import type { HolderStats, ProtocolKind } from '../engine/holder.ts';
import type { LimitName } from '../limits/model.ts';
import type { TupleOccupancy } from '../probe/socket-table.ts';
import { formatCount } from '../units.ts';

/**
 * `server_fds`: the *server's* descriptor limit, seen from the client: connections reset
 * or closed right after the handshake, or held by the kernel's accept queue and never
 * answered. `server_protocol`: the server answered, but not in the protocol asked for,
 * or refused it. `server_close`: the server ended connections in its protocol (a
 * WebSocket close frame, HTTP Connection: close). `server_limits`: the server sent more
 * than connlab drains (an HTTP header block or body past its limit). `time_wait`: the
 * tuples are held by sockets in TIME_WAIT (closed within the last 60 s, e.g. by an
 * earlier run), not by a full port range.
 */
export type Cause = LimitName | 'server' | 'server_fds' | 'server_protocol' | 'server_timeout' | 'server_close' | 'server_limits' | 'time_wait'
  | 'tls' | 'network' | 'permission' | 'tuple_collision' | 'unknown';

export interface Classification {
  errno: string;
  cause: Cause;
  explanation: string;
}

/** What the kernel's listen-queue counters did during the run; they decide ambiguous errnos. */
export interface ClassifyContext {
  listenOverflowsRose: boolean;
  /** The socket table toward the destinations, read when EADDRNOTAVAIL first showed. */
  tuples?: TupleOccupancy;
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

/**
 * EADDRNOTAVAIL by what holds the tuples: TIME_WAIT sockets (connect() refuses a tuple
 * one of them holds, and a kernel-picked port skips them) or live ones (the range is
 * used up). Without the socket table, the port range is the usual suspect.
 */
function addrNotAvail(tuples: TupleOccupancy | undefined): Classification {
  const errno = 'EADDRNOTAVAIL';
  const [cause, text] = FIXED[errno] as [Cause, string];
  if (!tuples || tuples.time_wait + tuples.live === 0) return { errno, cause, explanation: text };
  const where = `toward the ${tuples.destinations === 1 ? 'destination' : `${formatCount(tuples.destinations)} destinations`}`;
  const seen = `${formatCount(tuples.time_wait)} sockets ${where} were in TIME_WAIT and ${formatCount(tuples.live)} live when the error first showed`;
  if (tuples.time_wait >= tuples.live) {
    return {
      errno, cause: 'time_wait',
      explanation: `${seen}: tuples still held by connections closed within the last 60 s (an earlier run), not a full port range; wait a minute between runs, plan other source ports or addresses (--source-ports, --source-ips), or let connect() reuse them (sysctl net.ipv4.tcp_tw_reuse=1)`,
    };
  }
  const range = tuples.port_range === null ? '' : ` (ip_local_port_range has ${formatCount(tuples.port_range)} ports per source address and destination)`;
  return { errno, cause, explanation: `${seen}${range}: ${text}` };
}

export function classifyErrno(errno: string, context: ClassifyContext = { listenOverflowsRose: false }): Classification {
  if (errno === 'EADDRNOTAVAIL') return addrNotAvail(context.tuples);
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

type CloseStats = Pick<HolderStats, 'closed' | 'closedEarly' | 'codes' | 'protocolBytes'> & Partial<Pick<HolderStats, 'tls'>>;

/** No handshake completed at all: what a server that does not speak TLS looks like. */
const noHandshake = (stats: CloseStats): boolean => stats.tls !== undefined && stats.tls.handshakes === 0;

/** OpenSSL's reasons, most frequent first, and what to do about the commonest one. */
function tlsText(stats: CloseStats): string {
  const reasons = Object.entries(stats.tls?.errors ?? {}).sort((a, b) => b[1] - a[1]);
  const listed = reasons.slice(0, 2).map(([text, n]) => `${text} × ${formatCount(n)}`).join(', ');
  const first = reasons[0]?.[0] ?? '';
  const hint = first.startsWith('certificate verify failed')
    ? ': trust its CA with --ca FILE (or --insecure for a self-signed test server), and check --sni/--host name the certificate'
    : /wrong version number|packet length too long|record layer failure/.test(first)
      ? ': the server does not speak TLS on that port'
      : first.startsWith('unexpected eof') && noHandshake(stats)
        ? ': the server closed every handshake without answering: it does not speak TLS on that port (a plaintext server that gave up on the ClientHello), or it is out of descriptors'
        : '';
  return listed ? ` (${listed})${hint}` : '';
}

/** What the commonest WebSocket close codes mean (RFC 6455 7.4.1, the IANA registry). */
const WS_CLOSE_MEANING: Readonly<Record<string, string>> = {
  1000: 'normal', 1001: 'going away: the server is shutting down or restarting', 1002: 'protocol error', 1003: 'unacceptable data',
  1007: 'inconsistent data', 1008: 'policy violation', 1009: 'message too big', 1011: 'internal error', 1012: 'service restart',
  1013: 'try again later: the server is overloaded', 1014: 'bad gateway',
};

function serverCloseText(stats: CloseStats): string {
  const codes = Object.entries(stats.codes.ws_close).sort((a, b) => b[1] - a[1]);
  const meaning = codes.map(([code]) => WS_CLOSE_MEANING[code]).find((m) => m !== undefined);
  return `the server ended these in its protocol (a WebSocket close frame, HTTP Connection: close or a body ended by closing): its choice, not a timeout or a limit of this host${codesText(stats)}${meaning ? ` (${codes[0]?.[0]}: ${meaning})` : ''}`;
}

/**
 * What the server's side of the closes says, in the same shape as the errno table (the
 * `errno` field names the pattern). Early closes are the server's descriptor limit: a
 * server out of descriptors accepts and closes at once (libuv, nginx) or resets; one that
 * never accept()s leaves the connection in the kernel's accept queue, established but
 * silent, which only a protocol that expects an answer can see.
 */
export function classifyCloses(stats: CloseStats, protocol: ProtocolKind, silent: number, tls = false): (Classification & { count: number })[] {
  const out: (Classification & { count: number })[] = [];
  const add = (count: number, errno: string, cause: Cause, explanation: string): void => {
    if (count > 0) out.push({ errno, cause, explanation, count });
  };
  add(stats.closedEarly, 'closed_early', 'server_fds', 'the server closed or reset these right after the handshake, before sending a byte: what a server out of descriptors does (accept() fails with EMFILE), or one that refuses this client; raise its ulimit -n / LimitNOFILE');
  add(stats.closed.tls ?? 0, 'tls', 'tls', `the TLS handshake failed${tlsText(stats)}`);
  if (tls && noHandshake(stats)) {
    add(silent, 'no_tls_answer', 'tls', 'held but no TLS handshake ever completed and the server never answered the ClientHello: it does not speak TLS on that port (a plaintext server waits for its own protocol\'s first bytes), or it stopped accept()ing (its descriptor limit)');
  } else if (protocol !== 'tcp' && protocol !== 'connlab') {
    add(silent, 'no_answer', 'server_fds', `held but the server never sent a byte in answer to the ${protocol} handshake: connections waiting in the kernel's accept queue of a server that stopped accept()ing (its descriptor limit), or a server that does not speak ${protocol}`);
  }
  const bytes = stats.protocolBytes.length ? ` (first bytes: ${stats.protocolBytes.slice(0, 2).join(', ')})` : '';
  add(stats.closed.protocol, 'protocol', 'server_protocol', `the server sent bytes that are not ${protocol}${bytes}`);
  add(stats.closed.refused, 'refused', 'server_protocol', `the server refused the ${protocol} handshake${codesText(stats)}`);
  add(stats.closed.server_close, 'server_close', 'server_close', serverCloseText(stats));
  add(stats.closed.http_headers_too_large ?? 0, 'http_headers_too_large', 'server_limits', 'the server sent a response line longer than 8 KiB or a header block longer than 64 KiB: connlab closed the connection instead of reading without end (docs/protocol-edges.md)');
  add(stats.closed.http_body_too_large ?? 0, 'http_body_too_large', 'server_limits', 'the server sent a response body longer than 4 MiB (or announced one): connlab closed the connection instead of draining it; point the liveness request at a smaller resource (docs/protocol-edges.md)');
  add(stats.closed.idle, 'idle', 'server_timeout', 'the server closed idle keep-alive connections: its keep-alive timeout (nginx keepalive_timeout) is shorter than the hold or --ping, or it ran low on connection slots and reclaimed idle ones (nginx closes idle keep-alive connections to keep 1/16 of worker_connections free)');
  add(stats.closed.keepalive, 'keepalive', 'network', 'TCP keepalive probes went unanswered: the peer or the path is gone');
  const lateFin = stats.closed.peer + stats.closed.reset - stats.closedEarly;
  add(lateFin, 'closed_by_server', 'server', 'the server closed (FIN) or reset held connections');
  return out;
}

function codesText(stats: CloseStats): string {
  const parts = [
    ...Object.entries(stats.codes.http_status).filter(([code]) => code !== '200' && code !== '101').map(([code, n]) => `HTTP ${code} × ${n}`),
    ...Object.entries(stats.codes.ws_close).map(([code, n]) => `close code ${code} × ${n}`),
    ...Object.entries(stats.codes.mqtt_connack).filter(([code]) => code !== '0').map(([code, n]) => `CONNACK ${code} × ${n}`),
  ];
  return parts.length ? `: ${parts.join(', ')}` : '';
}

/** Classifies a whole errno table, most frequent first. */
export function classifyErrors(errors: Record<string, number>, context?: ClassifyContext): (Classification & { count: number })[] {
  return Object.entries(errors)
    .filter(([, count]) => count > 0)
    .sort((a, b) => b[1] - a[1])
    .map(([errno, count]) => ({ ...classifyErrno(errno, context), count }));
}
