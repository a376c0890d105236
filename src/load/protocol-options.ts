// What `load --protocol` sends, built once per run and handed to every worker: the HTTP
// GET, the WebSocket upgrade head (the native holder adds each connection's
// Sec-WebSocket-Key), the MQTT CONNECT settings, the tcp keepalive. Builders only: every
// parser of answers lives in native/proto/.

import { invalidArgument } from '../errors.ts';
import type { ProtocolKind, ProtocolOptions } from '../engine/holder.ts';

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
}

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

/** The holder's protocol options for these settings; `defaultHost` is `ip:port` of the first destination. */
export function protocolOptions(settings: ProtocolSettings, defaultHost: string): ProtocolOptions {
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
