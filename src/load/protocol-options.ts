// What `load --protocol` sends, built once per run and handed to every worker: the HTTP
// GET, the WebSocket upgrade head (the native holder adds each connection's
// Sec-WebSocket-Key), the MQTT CONNECT settings, the tcp keepalive. Builders only: every
// parser of answers lives in native/proto/.

import { X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { isIP } from 'node:net';
import tls from 'node:tls';
import { ConnlabError, invalidArgument } from '../errors.ts';
import type { ProtocolKind, ProtocolOptions, TlsOptions } from '../engine/holder.ts';
import { DEFAULT_TLS_GROUPS } from '../engine/holder-args.ts';

export const PROTOCOL_KINDS: readonly ProtocolKind[] = ['tcp', 'http', 'ws', 'mqtt', 'connlab'];

export interface ProtocolSettings {
  kind: ProtocolKind;
  /** http, ws: request path (default `/`). */
  path?: string;
  /** http, ws: Host header (default: the first destination as ip:port). */
  host?: string;
  /** http, ws: extra `Name: value` request headers. */
  headers?: string[];
  /** ws: Sec-WebSocket-Protocol. */
  subprotocol?: string;
  /** mqtt */
  clientIdPrefix?: string;
  username?: string;
  password?: string;
  /** mqtt keep-alive in CONNECT (default 60 s; brokers drop a client silent for 1.5× it). */
  keepaliveSeconds?: number;
  /** tcp: SO_KEEPALIVE idle and interval; 0 or absent: off. */
  tcpKeepaliveSeconds?: number;
  /** TLS under the protocol (https, wss, mqtts, TLS over tcp); absent: plain TCP. */
  tls?: TlsSettings;
}

export interface TlsSettings {
  /** server_name to send (default: --host without its port, else none for an IP target). */
  sni?: string;
  /** ALPN names to offer (default: http/1.1 for http and ws, none otherwise); [] offers none. */
  alpn?: string[];
  /** A PEM file of CA certificates to trust instead of Node's default roots. */
  caFile?: string;
  /** Accept any certificate: for self-signed test servers. */
  insecure?: boolean;
  /** Key exchange groups to offer (default DEFAULT_TLS_GROUPS; `default`: OpenSSL's own list). */
  groups?: string;
}

/** The classic groups load offers (holder-args.ts says why). `--tls-groups default` offers OpenSSL's list. */
export { DEFAULT_TLS_GROUPS };

/** The holder builds each connection's opening bytes in a 2 KiB buffer (native/proto/client.c). */
const MAX_REQUEST_BYTES = 1900;

const TOKEN = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;

function checkHeader(header: string): string {
  const colon = header.indexOf(':');
  if (colon <= 0 || !TOKEN.test(header.slice(0, colon)) || /[\r\n]/.test(header)) {
    throw invalidArgument('--header', header, 'Name: value (one header, no line breaks)');
  }
  return `${header.slice(0, colon)}: ${header.slice(colon + 1).trim()}\r\n`;
}

function checkPath(path: string): string {
  if (!path.startsWith('/') || /[\s]/.test(path)) throw invalidArgument('--path', path, 'a path starting with / and without spaces');
  return path;
}

function head(settings: ProtocolSettings, defaultHost: string, lines: string[]): string {
  const host = settings.host ?? defaultHost;
  if (/[\s]/.test(host) || host === '') throw invalidArgument('--host', host, 'a host name without spaces');
  const extra = (settings.headers ?? []).map(checkHeader).join('');
  const text = `GET ${checkPath(settings.path ?? '/')} HTTP/1.1\r\nHost: ${host}\r\n${lines.map((l) => `${l}\r\n`).join('')}${extra}`;
  if (Buffer.byteLength(text) > MAX_REQUEST_BYTES) throw invalidArgument('--header', `${Buffer.byteLength(text)} bytes of request`, `a request of at most ${MAX_REQUEST_BYTES} bytes`);
  return text;
}

/** The CA certificates of a PEM file, checked here so a bad --ca fails before any connect. */
function readRoots(file: string): string {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (error) {
    throw new ConnlabError('CONNLAB_ERR_INVALID_ARGUMENT', `--ca ${file}: ${(error as NodeJS.ErrnoException).code ?? 'unreadable'}`, { cause: error });
  }
  const pems = text.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? [];
  try {
    for (const pem of pems) new X509Certificate(pem);
  } catch (error) {
    throw new ConnlabError('CONNLAB_ERR_INVALID_ARGUMENT', `--ca ${file}: not a PEM certificate`, { cause: error });
  }
  if (pems.length === 0) throw invalidArgument('--ca', file, 'a file of PEM certificates (-----BEGIN CERTIFICATE-----)');
  return pems.join('\n');
}

/** Asks the same OpenSSL (Node's ecdhCurve is SSL_CTX_set1_groups_list), before any worker starts. */
function checkGroups(groups: string): void {
  try {
    tls.createSecureContext({ ecdhCurve: groups });
  } catch (error) {
    throw new ConnlabError('CONNLAB_ERR_INVALID_ARGUMENT', `--tls-groups ${groups}: OpenSSL does not know them; expected names such as X25519:P-256, or default`, { cause: error });
  }
}

/** Node's default trusted roots (its bundled Mozilla store, plus NODE_EXTRA_CA_CERTS). */
function defaultRoots(): string {
  return (tls.getCACertificates?.('default') ?? tls.rootCertificates).join('\n');
}

/**
 * The holder's TLS options. The certificate must name `--sni` if given, else the Host
 * (without port), else the target's IP address; SNI is sent only for a name, never an IP.
 */
export function tlsOptions(kind: ProtocolKind, t: TlsSettings, settings: ProtocolSettings, defaultHost: string): TlsOptions {
  const hostName = (name: string): string => name.replace(/^\[(.*)\]$/, '$1').replace(/:\d+$/, '');
  const name = t.sni ?? hostName(settings.host ?? defaultHost);
  if (t.sni !== undefined && (t.sni === '' || /[\s/:]/.test(t.sni) || isIP(t.sni) !== 0)) throw invalidArgument('--sni', t.sni, 'a DNS host name');
  const alpn = t.alpn ?? (kind === 'http' || kind === 'ws' ? ['http/1.1'] : []);
  for (const a of alpn) if (a === '' || Buffer.byteLength(a) > 255) throw invalidArgument('--alpn', a, 'protocol names of 1 to 255 bytes, comma-separated');
  const insecure = t.insecure === true;
  const groups = t.groups ?? DEFAULT_TLS_GROUPS;
  if (groups !== 'default') checkGroups(groups);
  if (insecure && t.caFile !== undefined) throw invalidArgument('--insecure', '--ca', 'one of --insecure and --ca');
  return {
    sni: isIP(name) === 0 ? name : undefined,
    alpn,
    verify: !insecure,
    rootsPem: insecure ? undefined : t.caFile !== undefined ? readRoots(t.caFile) : defaultRoots(),
    verifyName: insecure ? undefined : name,
    groups: groups === 'default' ? undefined : groups,
  };
}

/** The holder's protocol options for these settings; `defaultHost` is `ip:port` of the first destination. */
export function protocolOptions(settings: ProtocolSettings, defaultHost: string): ProtocolOptions {
  const plain = plainProtocolOptions(settings, defaultHost);
  return settings.tls ? { ...plain, tls: tlsOptions(settings.kind, settings.tls, settings, defaultHost) } : plain;
}

function plainProtocolOptions(settings: ProtocolSettings, defaultHost: string): ProtocolOptions {
  switch (settings.kind) {
    case 'http':
      return { kind: 'http', request: Buffer.from(`${head(settings, defaultHost, ['User-Agent: connlab', 'Accept: */*'])}\r\n`) };
    case 'ws': {
      const sub = settings.subprotocol;
      if (sub !== undefined && !TOKEN.test(sub)) throw invalidArgument('--subprotocol', sub, 'a token (letters, digits, -._~…)');
      const lines = ['User-Agent: connlab', 'Upgrade: websocket', 'Connection: Upgrade', 'Sec-WebSocket-Version: 13'];
      if (sub !== undefined) lines.push(`Sec-WebSocket-Protocol: ${sub}`);
      return { kind: 'ws', request: Buffer.from(head(settings, defaultHost, lines)) };
    }
    case 'mqtt': {
      const keepaliveSeconds = settings.keepaliveSeconds ?? 60;
      if (!Number.isInteger(keepaliveSeconds) || keepaliveSeconds < 0 || keepaliveSeconds > 0xffff) {
        throw invalidArgument('keepaliveSeconds', String(keepaliveSeconds), 'whole seconds from 0 to 65535');
      }
      if (settings.password !== undefined && settings.username === undefined) {
        throw invalidArgument('--password', '…', 'a --username too (MQTT 3.1.1 sends no password without a user name)');
      }
      return { kind: 'mqtt', clientIdPrefix: settings.clientIdPrefix ?? 'connlab-', username: settings.username, password: settings.password, keepaliveSeconds };
    }
    case 'tcp':
      return { kind: 'tcp', tcpKeepaliveSeconds: settings.tcpKeepaliveSeconds ?? 0 };
    default:
      return { kind: 'connlab' };
  }
}
