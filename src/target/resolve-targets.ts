// Names to addresses, once, before anything starts. A name becomes every A and AAAA
// record it has (narrowed by --ip-family), and each (address, port) is a destination of
// its own: its own four-tuple pool. `--resolve HOST:PORT:ADDR[,ADDR]` pins a name without
// asking DNS, like curl's. Without a DNS server named, names go through the system's
// resolver (getaddrinfo: /etc/hosts, then DNS); with one (`dnsServers`), Node's c-ares
// resolver asks it directly for A and AAAA. A name that does not resolve fails the run
// before it starts, with the resolver's own error code.

import { promises as dns } from 'node:dns';
import { isIP } from 'node:net';
import { ConnlabError, invalidArgument } from '../errors.ts';
import { formatIpv4, parseIpv4, type Destination } from '../tuple/address.ts';
import { formatIpv6, parseIpv6 } from '../tuple/ipv6.ts';
import type { ParsedTarget } from './parse-target.ts';

/** Which records a name contributes: A (4), AAAA (6) or both. */
export type IpFamily = 4 | 6 | 'any';

/** One `--resolve` entry: `name:port` (port `*`: any) pinned to these addresses. */
export interface ResolvePin {
  name: string;
  port: number | '*';
  addresses: string[];
}

/** How names become addresses (the CLI's --ip-family, --resolve, --dns-server). */
export interface ResolveOptions {
  family?: IpFamily;
  pins?: readonly ResolvePin[];
  /** DNS servers as `ADDR` or `ADDR:PORT` (`[v6]:PORT`); absent: the system's resolver. */
  dnsServers?: readonly string[];
  /** Resolver timeout per query, ms (default 3000). */
  timeoutMs?: number;
}

/** What a name resolved to, for the printout and the JSON. */
export interface ResolvedName {
  name: string;
  addresses: string[];
  via: 'dns' | 'system' | 'resolve' | 'localhost';
}

/** Destinations to plan over, and the names behind them for the result. */
export interface ResolvedTargets {
  destinations: Destination[];
  resolved: ResolvedName[];
}

/** `--resolve HOST:PORT:ADDR[,ADDR…]`; ADDR may be `[v6]` or bare v6. */
export function parseResolvePin(text: string): ResolvePin {
  const m = /^([^:]+):(\d{1,5}|\*):(.+)$/.exec(text.trim());
  const expected = 'HOST:PORT:ADDR[,ADDR…] like api.test:443:127.0.0.5 or api.test:*:[::1]';
  if (!m) throw invalidArgument('--resolve', text, expected);
  const port = m[2] === '*' ? '*' : Number(m[2]);
  if (port !== '*' && (port < 1 || port > 65535)) throw invalidArgument('--resolve', text, expected);
  const addresses = (m[3] ?? '').split(',').map((a) => a.trim().replace(/^\[(.*)\]$/, '$1'));
  for (const a of addresses) if (isIP(a) === 0) throw invalidArgument('--resolve', text, expected);
  return { name: (m[1] ?? '').toLowerCase(), port, addresses: addresses.map(canonical) };
}

/** `ADDR[:PORT]` or `[v6][:PORT]` as c-ares setServers takes it. */
export function parseDnsServer(text: string): string {
  const v6 = /^\[([^\]]+)\](?::(\d+))?$/.exec(text);
  const v4 = /^([\d.]+)(?::(\d+))?$/.exec(text);
  const host = v6?.[1] ?? v4?.[1];
  const port = v6?.[2] ?? v4?.[2];
  if (host === undefined || isIP(host) === 0 || (port !== undefined && (Number(port) < 1 || Number(port) > 65535))) {
    throw invalidArgument('--dns-server', text, 'ADDR or ADDR:PORT like 127.0.0.53:5353 or [::1]:5353');
  }
  return text;
}

function canonical(address: string): string {
  const v4 = parseIpv4(address);
  if (v4 !== undefined) return formatIpv4(v4);
  return formatIpv6(parseIpv6(address) ?? 0n);
}

/** IPv4 before IPv6, each in numeric order. */
function byAddress(a: string, b: string): number {
  const [x, y] = [parseIpv4(a), parseIpv4(b)];
  if (x !== undefined || y !== undefined) return x === undefined ? 1 : y === undefined ? -1 : x - y;
  const [p, q] = [parseIpv6(a) ?? 0n, parseIpv6(b) ?? 0n];
  return p < q ? -1 : p > q ? 1 : 0;
}

function wanted(address: string, family: IpFamily): boolean {
  return family === 'any' || isIP(address) === family;
}

async function askDns(name: string, family: IpFamily, options: ResolveOptions): Promise<{ addresses: string[]; via: ResolvedName['via'] }> {
  if (name === 'localhost') return { addresses: [family === 6 ? '::1' : '127.0.0.1'], via: 'localhost' };
  if (!options.dnsServers || options.dnsServers.length === 0) {
    const found = await dns.lookup(name, { all: true, family: family === 'any' ? 0 : family, order: 'ipv4first' });
    return { addresses: found.map((f) => canonical(f.address)), via: 'system' };
  }
  const resolver = new dns.Resolver({ timeout: options.timeoutMs ?? 3000, tries: 2 });
  resolver.setServers([...options.dnsServers]);
  const ask = async (kind: 4 | 6): Promise<string[]> => {
    if (family !== 'any' && family !== kind) return [];
    try {
      return kind === 4 ? await resolver.resolve4(name) : await resolver.resolve6(name);
    } catch (error) {
      // No record of this kind is an answer, not a failure; any other error is.
      if ((error as NodeJS.ErrnoException).code === 'ENODATA') return [];
      throw error;
    }
  };
  const [a, aaaa] = await Promise.all([ask(4), ask(6)]);
  return { addresses: [...a, ...aaaa].map(canonical), via: 'dns' };
}

type DnsCache = Map<string, ReturnType<typeof askDns>>;

async function resolveName(name: string, port: number, options: ResolveOptions, cache: DnsCache): Promise<ResolvedName> {
  const family = options.family ?? 'any';
  const pin = options.pins?.find((p) => p.name === name && (p.port === '*' || p.port === port));
  if (pin) {
    const addresses = pin.addresses.filter((a) => wanted(a, family));
    if (addresses.length === 0) throw unresolved(name, `--resolve pins no IPv${family} address`);
    return { name, addresses, via: 'resolve' };
  }
  let answer: Awaited<ReturnType<typeof askDns>>;
  try {
    // One question per name, however many ports name it.
    const asked = cache.get(name) ?? askDns(name, family, options);
    cache.set(name, asked);
    answer = await asked;
  } catch (error) {
    throw unresolved(name, (error as NodeJS.ErrnoException).code ?? String(error), error);
  }
  // Servers rotate their records; a sorted list keeps the plan the same from run to run.
  const addresses = [...new Set(answer.addresses.filter((a) => wanted(a, family)))].sort(byAddress);
  if (addresses.length === 0) throw unresolved(name, family === 'any' ? 'ENODATA (no A or AAAA record)' : `ENODATA (no ${family === 4 ? 'A' : 'AAAA'} record)`);
  return { name, addresses, via: answer.via };
}

function unresolved(name: string, why: string, cause?: unknown): ConnlabError {
  return new ConnlabError('CONNLAB_ERR_INVALID_ARGUMENT', `cannot resolve ${name}: ${why}`, {
    hint: 'check the name, or pin it with --resolve NAME:PORT:ADDR',
    ...(cause === undefined ? {} : { cause }),
  });
}

function destinationOf(address: string, port: number): Destination {
  const v4 = parseIpv4(address);
  return v4 !== undefined ? { ip: v4, port } : { ip: 0, port, ip6: address };
}

/** Every destination the targets name, each once, in the order written; names resolved once. */
export async function resolveTargets(targets: readonly ParsedTarget[], options: ResolveOptions = {}): Promise<ResolvedTargets> {
  const resolved: ResolvedName[] = [];
  const byName = new Map<string, ResolvedName>();
  const cache: DnsCache = new Map();
  const out: Destination[] = [];
  const seen = new Set<string>();
  const add = (d: Destination): void => {
    const key = `${d.ip6 ?? d.ip}|${d.port}`;
    if (!seen.has(key)) { seen.add(key); out.push(d); }
  };
  for (const t of targets) {
    for (let port = t.ports.first; port <= t.ports.last; port++) {
      if (t.host.kind === 'ipv4') for (let ip = t.host.ips.first; ip <= t.host.ips.last; ip++) add({ ip, port });
      else if (t.host.kind === 'ipv6') add({ ip: 0, port, ip6: t.host.address });
      else {
        const key = `${t.host.name}|${port}`;
        let r = byName.get(key);
        if (!r) {
          r = await resolveName(t.host.name, port, options, cache);
          byName.set(key, r);
          if (!resolved.some((x) => x.name === r?.name && x.addresses.join() === r.addresses.join())) resolved.push(r);
        }
        for (const a of r.addresses) add(destinationOf(a, port));
      }
    }
  }
  return { destinations: out, resolved };
}

/** A destination as text: `127.0.0.1:9000`, `[::1]:9000`. */
export function formatDestination(d: Destination): string {
  return d.ip6 !== undefined ? `[${d.ip6}]:${d.port}` : `${formatIpv4(d.ip)}:${d.port}`;
}
