// Parsing of the address flags shared by doctor, load and bench: `--source-ips`
// (`127.0.0.2-127.0.0.40,127.0.1.0/24`), `--targets` (`127.0.0.1:9000-9003`) and
// `--source-ports` (`10000-65000` or `kernel`). IPv4 addresses are host-order u32s, so
// ranges are plain arithmetic and the native holder takes them as-is; IPv6 lives in
// ipv6.ts (offsets from a base) and targets as users write them in src/target/.

import { invalidArgument } from '../errors.ts';

export interface Range {
  /** Inclusive bounds. */
  first: number;
  last: number;
}

/** One destination: IPv4 in `ip` (host order), or IPv6 in `ip6` (canonical text; `ip` 0). */
export interface Destination {
  ip: number;
  port: number;
  ip6?: string;
}

/** `--targets` as written: address ranges times port ranges, in order. */
export interface TargetSpec {
  ips: Range;
  ports: Range;
}

export function rangeSize(range: Range): number {
  return range.last - range.first + 1;
}

export function parseIpv4(text: string): number | undefined {
  const parts = text.split('.');
  if (parts.length !== 4) return undefined;
  let value = 0;
  for (const part of parts) {
    if (!/^\d{1,3}$/.test(part) || Number(part) > 255) return undefined;
    value = value * 256 + Number(part);
  }
  return value;
}

export function formatIpv4(value: number): string {
  return [24, 16, 8, 0].map((shift) => Math.floor(value / 2 ** shift) % 256).join('.');
}

function parseIpRange(text: string, option: string): Range {
  const expected = 'IPv4 addresses, ranges or CIDR blocks like 127.0.0.2,127.0.0.10-127.0.0.40,127.0.1.0/24';
  const cidr = /^([\d.]+)\/(\d{1,2})$/.exec(text);
  if (cidr) {
    const base = parseIpv4(cidr[1] ?? '');
    const bits = Number(cidr[2]);
    if (base === undefined || bits > 32) throw invalidArgument(option, text, expected);
    const size = 2 ** (32 - bits);
    const first = base - (base % size);
    return { first, last: first + size - 1 };
  }
  const [from = '', to, ...rest] = text.split('-');
  const first = parseIpv4(from);
  const last = to === undefined ? first : parseIpv4(to);
  if (first === undefined || last === undefined || rest.length > 0 || last < first) {
    throw invalidArgument(option, text, expected);
  }
  return { first, last };
}

/** A list of IPv4 addresses, ranges and CIDR blocks, merged so no address counts twice. */
export function parseIpList(text: string, option: string): Range[] {
  const items = text.split(',').map((item) => item.trim()).filter(Boolean);
  if (items.length === 0) throw invalidArgument(option, text, 'at least one IPv4 address');
  return mergeRanges(items.map((item) => parseIpRange(item, option)));
}

/** A port or an inclusive port range: `9000`, `9000-9003`. Port 0 is never valid. */
export function parsePortRange(text: string, option: string): Range {
  const match = /^(\d{1,5})(?:-(\d{1,5}))?$/.exec(text.trim());
  const first = Number(match?.[1]);
  const last = match?.[2] === undefined ? first : Number(match[2]);
  if (!match || first < 1 || last > 65535 || last < first) {
    throw invalidArgument(option, text, 'a port from 1 to 65535 or a range like 10000-65000');
  }
  return { first, last };
}

/** `--targets` / `load`'s positional: `addr[-addr]:port[-port]`, comma separated. */
export function parseTargets(text: string, option = 'targets'): TargetSpec[] {
  const items = text.split(',').map((item) => item.trim()).filter(Boolean);
  if (items.length === 0) throw invalidArgument(option, text, 'at least one address:port');
  return items.map((item) => {
    const colon = item.lastIndexOf(':');
    if (colon < 0) throw invalidArgument(option, item, 'address:port like 127.0.0.1:9000 or 127.0.0.1:9000-9003');
    const host = item.slice(0, colon) === 'localhost' ? '127.0.0.1' : item.slice(0, colon);
    return { ips: parseIpRange(host, option), ports: parsePortRange(item.slice(colon + 1), option) };
  });
}

/** Every destination the specs name, each once, in the order written. */
export function expandTargets(specs: readonly TargetSpec[]): Destination[] {
  const seen = new Set<number>();
  const out: Destination[] = [];
  for (const spec of specs) {
    for (let ip = spec.ips.first; ip <= spec.ips.last; ip++) {
      for (let port = spec.ports.first; port <= spec.ports.last; port++) {
        const key = ip * 65536 + port;
        if (seen.has(key)) continue;
        seen.add(key);
        out.push({ ip, port });
      }
    }
  }
  return out;
}

/** How many distinct destinations the specs name, without listing huge ones. */
export function countDestinations(specs: readonly TargetSpec[]): number {
  const written = specs.reduce((sum, spec) => sum + rangeSize(spec.ips) * rangeSize(spec.ports), 0);
  // Overlapping specs are a typo-level rarity; only small ones are worth deduplicating.
  return written <= 1_000_000 ? expandTargets(specs).length : written;
}

export function mergeRanges(ranges: readonly Range[]): Range[] {
  const sorted = [...ranges].sort((a, b) => a.first - b.first);
  const merged: Range[] = [];
  for (const range of sorted) {
    const last = merged.at(-1);
    if (last && range.first <= last.last + 1) last.last = Math.max(last.last, range.last);
    else merged.push({ ...range });
  }
  return merged;
}

export function countInRanges(ranges: readonly Range[]): number {
  return ranges.reduce((sum, range) => sum + rangeSize(range), 0);
}

/** True when every address is loopback (127.0.0.0/8): the only traffic this tool sends by default. */
export function isLoopback(ip: number): boolean {
  return Math.floor(ip / 2 ** 24) === 127;
}

/** True for a loopback destination: 127.0.0.0/8 or ::1. */
export function isLoopbackDestination(d: Destination): boolean {
  return d.ip6 !== undefined ? d.ip6 === '::1' : isLoopback(d.ip);
}
