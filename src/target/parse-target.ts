// Targets as users write them, parsed without touching the network: `127.0.0.1:9000`,
// `127.0.0.1-127.0.0.4:9000-9003`, `localhost:8080`, `[::1]:9000`, `gateway.internal:443`,
// and URLs `ws://user:pw@name:8080/socket?x=1`. Pure: the resolver (resolve-targets.ts)
// turns names into addresses; the CLI turns a URL's scheme into --protocol and --tls.

import { ConnlabError, invalidArgument } from '../errors.ts';
import type { ProtocolKind } from '../engine/holder.ts';
import { parseIpv4, parsePortRange, type Range } from '../tuple/address.ts';
import { formatIpv6, parseIpv6 } from '../tuple/ipv6.ts';

/** What a URL scheme means: the protocol, whether TLS runs under it, the default port. */
export const SCHEMES = {
  tcp: { protocol: 'tcp', tls: false, port: undefined },
  tls: { protocol: 'tcp', tls: true, port: undefined },
  http: { protocol: 'http', tls: false, port: 80 },
  https: { protocol: 'http', tls: true, port: 443 },
  ws: { protocol: 'ws', tls: false, port: 80 },
  wss: { protocol: 'ws', tls: true, port: 443 },
  mqtt: { protocol: 'mqtt', tls: false, port: 1883 },
  mqtts: { protocol: 'mqtt', tls: true, port: 8883 },
} as const satisfies Record<string, { protocol: ProtocolKind; tls: boolean; port: number | undefined }>;

/** A URL scheme connlab knows. */
export type Scheme = keyof typeof SCHEMES;

/** The host part: IPv4 addresses (a range), one IPv6 literal, or a name to resolve. */
export type TargetHost =
  | { kind: 'ipv4'; ips: Range }
  | { kind: 'ipv6'; address: string }
  | { kind: 'name'; name: string };

/** One target as written. */
export interface ParsedTarget {
  text: string;
  scheme?: Scheme;
  host: TargetHost;
  ports: Range;
  /** Whether the port was written (else the scheme's default). */
  explicitPort: boolean;
  /** Path and query as written after the authority (URLs only; absent: none written). */
  path?: string;
  username?: string;
  password?: string;
}

const NAME = /^(?=.{1,253}$)[A-Za-z0-9_](?:[A-Za-z0-9_-]{0,62})(?:\.[A-Za-z0-9_](?:[A-Za-z0-9_-]{0,62}))*\.?$/;
const OPTION = 'target';

function usage(text: string, expected: string): ConnlabError {
  return invalidArgument(OPTION, text, expected);
}

/** The host of `host:port`: an IPv4 address or range, `[v6]`, or a DNS name. */
export function parseHost(host: string, whole: string): TargetHost {
  if (host.startsWith('[')) {
    const inner = host.endsWith(']') ? host.slice(1, -1) : '';
    const value = parseIpv6(inner);
    if (value === undefined) throw usage(whole, 'an IPv6 address in brackets, like [::1]:9000');
    return { kind: 'ipv6', address: formatIpv6(value) };
  }
  if (/^[\d.]+(?:-[\d.]+)?$/.test(host)) {
    const [from = '', to] = host.split('-');
    const first = parseIpv4(from);
    const last = to === undefined ? first : parseIpv4(to);
    if (first === undefined || last === undefined || last < first) throw usage(whole, 'an IPv4 address or range like 127.0.0.1-127.0.0.4');
    return { kind: 'ipv4', ips: { first, last } };
  }
  if (host.includes(':')) throw usage(whole, 'IPv6 addresses in brackets: [::1]:9000');
  if (!NAME.test(host)) throw usage(whole, 'a host name, an IPv4 address or [IPv6]');
  return { kind: 'name', name: host.toLowerCase().replace(/\.$/, '') };
}

function splitHostPort(authority: string, whole: string): { host: string; port: string | undefined } {
  const close = authority.startsWith('[') ? authority.indexOf(']') : -1;
  const colon = authority.indexOf(':', close + 1);
  if (authority.startsWith('[') && close < 0) throw usage(whole, 'a closing ] after the IPv6 address');
  if (colon < 0) return { host: authority, port: undefined };
  if (!authority.startsWith('[') && authority.indexOf(':') !== authority.lastIndexOf(':')) {
    throw usage(whole, 'IPv6 addresses in brackets: [::1]:9000');
  }
  return { host: authority.slice(0, colon), port: authority.slice(colon + 1) };
}

function decode(part: string, whole: string): string {
  try {
    return decodeURIComponent(part);
  } catch {
    throw usage(whole, 'percent-encoding like %40 in the user name or password');
  }
}

function parseUrl(text: string, scheme: Scheme, rest: string): ParsedTarget {
  const slash = rest.search(/[/?#]/);
  const authority = slash < 0 ? rest : rest.slice(0, slash);
  const tail = slash < 0 ? '' : rest.slice(slash).replace(/#.*$/, '');
  const at = authority.lastIndexOf('@');
  const userinfo = at < 0 ? undefined : authority.slice(0, at);
  const { host, port } = splitHostPort(authority.slice(at + 1), text);
  if (host === '') throw usage(text, `${scheme}://HOST[:PORT][/path]`);
  const defaultPort = SCHEMES[scheme].port;
  if (port === undefined && defaultPort === undefined) throw usage(text, `a port: ${scheme}:// has no default (${scheme}://HOST:PORT)`);
  const ports = port === undefined ? { first: defaultPort ?? 0, last: defaultPort ?? 0 } : parsePortRange(port, OPTION);
  const out: ParsedTarget = { text, scheme, host: parseHost(host, text), ports, explicitPort: port !== undefined };
  if (tail !== '') out.path = tail.startsWith('/') ? tail : `/${tail}`;
  if (/\s/.test(tail)) throw usage(text, 'a path without spaces (percent-encode them: %20)');
  if (userinfo !== undefined) {
    const colon = userinfo.indexOf(':');
    out.username = decode(colon < 0 ? userinfo : userinfo.slice(0, colon), text);
    if (colon >= 0) out.password = decode(userinfo.slice(colon + 1), text);
  }
  return out;
}

/** One target: a URL, or `HOST:PORT[-PORT]` with HOST an IPv4 (range), `[IPv6]` or a name. */
export function parseTarget(text: string): ParsedTarget {
  const trimmed = text.trim();
  const url = /^([A-Za-z][A-Za-z0-9+.-]*):\/\/(.*)$/.exec(trimmed);
  if (url) {
    const scheme = (url[1] ?? '').toLowerCase();
    if (!(scheme in SCHEMES)) throw usage(trimmed, `a scheme among ${Object.keys(SCHEMES).join(', ')}`);
    return parseUrl(trimmed, scheme as Scheme, url[2] ?? '');
  }
  const { host, port } = splitHostPort(trimmed, trimmed);
  if (port === undefined || host === '') throw usage(trimmed, 'HOST:PORT like 127.0.0.1:9000, [::1]:9000, name:443 or a URL like ws://name:8080/');
  return { text: trimmed, host: parseHost(host, trimmed), ports: parsePortRange(port, OPTION), explicitPort: true };
}

/** Several targets: positionals, each of which may hold a comma-separated list. */
export function parseTargetList(texts: readonly string[]): ParsedTarget[] {
  const items = texts.flatMap((t) => t.split(',')).map((t) => t.trim()).filter(Boolean);
  if (items.length === 0) throw new ConnlabError('CONNLAB_ERR_USAGE', 'no target given', { hint: 'name a target: 127.0.0.1:9000, [::1]:9000, name:443 or ws://name:8080/' });
  return items.map(parseTarget);
}
