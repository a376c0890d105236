// The contract of a connection holder: one per worker process, holding up to ~19,900
// idle TCP connections (server side, client side, or both) behind a few verbs and
// plain counters. Implemented natively (native-holder.ts) and in plain Node (the
// fallback). Types only.

/**
 * Why held connections were closed. `lost` is the supervisor's: a holder always reports
 * 0 there (see HolderStats.closed).
 */
export type CloseReason =
  | 'peer' | 'reset' | 'protocol' | 'slow' | 'local' | 'timeout' | 'churn' | 'lost'
  | 'server_close' | 'idle' | 'refused' | 'keepalive' | 'tls'
  | 'http_headers_too_large' | 'http_body_too_large';

/** What a client holder speaks (native/proto/): `connlab` frames, or a real protocol. */
export type ProtocolKind = 'tcp' | 'http' | 'ws' | 'mqtt' | 'connlab';

/** Numbers the addon uses for each kind (native/proto/proto.h enum proto_kind). */
export const PROTOCOL_CODES: Readonly<Record<ProtocolKind, number>> = { connlab: 0, tcp: 1, http: 2, ws: 3, mqtt: 4 };

export interface ProtocolOptions {
  kind: ProtocolKind;
  /** http: the whole GET request; ws: the upgrade request head without the key line and the blank line. */
  request?: Uint8Array;
  /** mqtt: client ids are `${prefix}${pid}-${fd}`, distinct among open connections. */
  clientIdPrefix?: string;
  username?: string;
  password?: string;
  /** mqtt: the keep-alive announced in CONNECT. */
  keepaliveSeconds?: number;
  /** tcp: SO_KEEPALIVE with TCP_KEEPIDLE = TCP_KEEPINTVL = this, 3 probes; 0: off. */
  tcpKeepaliveSeconds?: number;
  /** TLS under the protocol (not connlab); native holder only. */
  tls?: TlsOptions;
}

/** A client holder's TLS settings (native/tls.c: OpenSSL from the node binary). */
export interface TlsOptions {
  /** server_name sent in the ClientHello; absent or an IP literal: none. */
  sni?: string;
  /** ALPN protocol names offered, in order (http/1.1 for http and ws by default). */
  alpn?: string[];
  /** false: accept any certificate (--insecure). */
  verify: boolean;
  /** The CA certificates (PEM) trusted when verifying: --ca's file, else Node's roots. */
  rootsPem?: string;
  /** The host name or IP address the server's certificate must be issued for. */
  verifyName?: string;
  /** Key exchange groups offered, OpenSSL's syntax (`X25519:P-256`); absent: OpenSSL's default. */
  groups?: string;
}

/** TLS handshakes completed, and the failures by OpenSSL's reason (closed.tls counts them). */
export interface TlsStats {
  handshakes: number;
  errors: Record<string, number>;
}

/** Codes seen in answers, by kind: HTTP status, WebSocket close code, CONNACK return code. */
export interface ProtocolCodes {
  http_status: Record<string, number>;
  ws_close: Record<string, number>;
  mqtt_connack: Record<string, number>;
}

export interface HolderStats {
  /** Held now: server side accepted and open, client side connected and open. */
  established: number;
  peakEstablished: number;
  /** Client: connect() issued, handshake not finished yet. */
  pending: number;
  /** Client: tuples handed to connect() that the holder has not issued yet. */
  queued: number;
  /** Totals since the holder started. */
  accepted: number;
  connected: number;
  /**
   * Sockets closed, by reason: `peer` EOF from the other side; `reset` a read or write
   * error (ECONNRESET, EPIPE, ...); `protocol` the peer sent a frame outside the wire
   * format; `slow` a write would have blocked or was short (nothing is ever queued), or
   * the kernel aborted a peer that took none of our queued data for stallTimeoutMs
   * (ETIMEDOUT, native holder only); `local` closeAll() (also pending connects);
   * `timeout` a connect still pending after connectTimeoutMs (also counted in
   * errors.ETIMEDOUT); `churn` recycled by churn() (reset here and connected again);
   * `lost` held by a worker process that died: counted by the supervisor from the
   * worker's last report (a holder itself never loses one), so that in summed stats,
   * server side, accepted = the sum of closed + established at every moment, dead
   * workers included.
   * Client protocols add: `server_close` the server said goodbye in-protocol (HTTP
   * Connection: close, a body that ends with the connection, a WebSocket close frame:
   * codes in `codes`); `idle` the server closed an idle keep-alive connection (its
   * keep-alive timeout); `refused` a handshake refused (WebSocket status != 101 or a wrong
   * Sec-WebSocket-Accept, a CONNACK return code != 0); `keepalive` TCP keepalive probes
   * went unanswered; `tls` the TLS handshake failed or a record was bad (OpenSSL's
   * reasons in `tls.errors`); `http_headers_too_large` an HTTP response line past 8 KiB
   * or a header block past 64 KiB, `http_body_too_large` a body past 4 MiB (the limits
   * of native/proto/proto.h, docs/protocol-edges.md): a server that sends without end
   * costs the connection, not the run.
   */
  closed: Record<CloseReason, number>;
  /**
   * Of the `peer` and `reset` closes: those before the server sent any byte and within
   * 1 s of the handshake (connlab frames: before a round verified the connection). A
   * server out of descriptors shows up exactly so (it accepts and closes, or resets).
   */
  closedEarly: number;
  /** At the last pingAll(): client connections that had never received a byte. */
  silent: number;
  codes: ProtocolCodes;
  /** The first bytes (hex, up to 16) of the first few reads that broke the protocol. */
  protocolBytes: string[];
  tls: TlsStats;
  /**
   * Failed connects and accepts by errno name: synchronous ones from socket(), bind(),
   * connect(), accept() (EADDRNOTAVAIL, EADDRINUSE, EMFILE, ENFILE) and asynchronous
   * ones from SO_ERROR (ECONNREFUSED, ETIMEDOUT). Closes of established connections
   * are counted in `closed`, not here.
   */
  errors: Record<string, number>;
  /** Times accepting paused for a back-off on EMFILE/ENFILE/ENOBUFS/ENOMEM. */
  acceptBackoffs: number;
  pingsSent: number;
  pongsReceived: number;
  /**
   * Client connections, open now, that answered the most recent pingAll() since that
   * call: a PONG with its seq (connlab), the response to its request (http), the pong to
   * its ping frame (ws), the PINGRESP to its PINGREQ (mqtt), or for tcp the kernel's
   * TCP_INFO at the call (README "Protocols"). pingAll() resets it to 0; a verified connection
   * that closes is subtracted; PONGs for older seqs do not count.
   */
  verified: number;
  broadcastsSent: number;
  broadcastsReceived: number;
  bytesIn: number;
  bytesOut: number;
  /** Samples not recorded because a buffer held maxSamples undrained values. */
  samplesDropped: number;
  /** Listening sockets open now. */
  listeners: number;
}

/** Latency samples in microseconds, in arrival order. */
export interface HolderSamples {
  /** Client: connect() to handshake complete (CLOCK_MONOTONIC). */
  connectUs: Uint32Array;
  /** Client: PING sent to PONG received (the echoed CLOCK_REALTIME timeUs). */
  rttUs: Uint32Array;
  /** Client: BROADCAST timeUs (server's send time) to arrival. */
  broadcastUs: Uint32Array;
}

export interface Holder {
  readonly kind: 'native' | 'node';
  /**
   * Listens with SO_REUSEADDR and SO_REUSEPORT (workers share one address). Port 0 is
   * refused: the caller plans ports. Rejects with CONNLAB_ERR_LISTEN whose cause has
   * the errno `code` (EADDRINUSE, EACCES, EADDRNOTAVAIL).
   */
  listen(host: string, port: number, backlog?: number): Promise<void>;
  /**
   * Queues connections and returns at once. Each connection is 4 u32s: srcIp, srcPort,
   * dstIp, dstPort (IPv4 in host order). srcIp 0: kernel chooses the address; srcPort
   * 0: kernel chooses the port; a nonzero srcPort may repeat across destinations.
   */
  connect(tuples: Uint32Array): void;
  /**
   * Sends PING(seq) on every established client connection and resets `verified`;
   * when it returns, stats() already counts the new round (pingsSent; verified counts
   * only answers to this seq, which may already be arriving).
   */
  pingAll(seq: number): void;
  /**
   * Recycles up to `count` established client connections the way clients that come and
   * go do: resets each and connects its planned tuple again through the ordinary
   * connect path (native: the same four-tuple where the plan chose the source port,
   * which the reset leaves free, else the kernel chooses again; node: the same source
   * address with a kernel-chosen port). Closes count as `churn`; the reconnects count in
   * `connected` (or `errors`). Returns how many were recycled.
   */
  churn(count: number): number;
  /** Writes one BROADCAST(seq) frame to every accepted connection; returns how many. */
  broadcast(seq: number, payload?: Uint8Array): number;
  stats(): HolderStats;
  /** Returns and clears the samples recorded since the last call. */
  drainSamples(): HolderSamples;
  /** Closes every connection and listener (counted `local`); the holder stays usable. */
  closeAll(): Promise<void>;
  /** Stops the holder and frees everything; stats() keeps returning the final counts. */
  destroy(): void;
}

/**
 * What one connection may make the kernel keep for it, on every accepted and connected
 * socket. The native holder sets them; the plain-Node holder cannot (node-holder.ts).
 */
export interface SocketLimits {
  /**
   * SO_SNDBUF and TCP_NOTSENT_LOWAT. Once this many bytes wait unsent, the next answer is
   * refused by the kernel and the connection closed `slow`. Everything queued, in flight
   * included, stays under twice this (the kernel doubles SO_SNDBUF for its bookkeeping)
   * plus one 64 KiB segment (the kernel checks both per segment). Default
   * DEFAULT_SEND_BUFFER_BYTES; 0: the kernel's autotuning (up to net.ipv4.tcp_wmem's
   * maximum per socket).
   */
  sendBufferBytes?: number;
  /**
   * TCP_USER_TIMEOUT: queued data the peer takes none of for this long (no ACK, or a zero
   * window) makes the kernel abort the connection, counted `slow`. Idle connections are
   * never affected. Default DEFAULT_STALL_TIMEOUT_MS; 0: the kernel's own retries.
   */
  stallTimeoutMs?: number;
}

export interface HolderOptions extends SocketLimits {
  /** Pending connects older than this are closed as `timeout`; 0 or absent: never. */
  connectTimeoutMs?: number;
  /** Per sample kind; older undrained samples are kept, newer ones dropped. */
  maxSamples?: number;
  /** What client connections speak; default connlab frames (the plain-Node holder: connlab and tcp only). */
  protocol?: ProtocolOptions;
}
