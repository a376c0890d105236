// IPv6 addresses as 128-bit bigints, and IPv6 source lists as offsets from one base.
// The tuple planner and the holders carry 32-bit address words (src/tuple/plan.ts), so an
// IPv6 source list is kept as u32 offsets from a base address: every source of one run
// lies within 2^32 - 1 addresses of the lowest, which covers any count of connections a
// host can hold (a /64 prefix lends its first 4,294,967,294 addresses).

import { isIP } from 'node:net';
import { invalidArgument } from '../errors.ts';
import { mergeRanges, type Range } from './address.ts';

const MAX_OFFSET = 2 ** 32 - 1;
const FULL = (1n << 128n) - 1n;

/** A canonical IPv6 text (`fd00:18::1`) as a bigint, or undefined when it is not one. */
export function parseIpv6(text: string): bigint | undefined {
  if (isIP(text) !== 6 || text.includes('%')) return undefined;
  let head = text;
  // An embedded IPv4 tail (::ffff:127.0.0.1) becomes two hex groups.
  const v4 = /(\d+)\.(\d+)\.(\d+)\.(\d+)$/.exec(head);
  if (v4) {
    const [a, b, c, d] = v4.slice(1).map(Number) as [number, number, number, number];
    head = `${head.slice(0, v4.index)}${((a << 8) | b).toString(16)}:${((c << 8) | d).toString(16)}`;
  }
  const [left = '', right] = head.split('::');
  const l = left === '' ? [] : left.split(':');
  const r = right === undefined || right === '' ? [] : right.split(':');
  const groups = right === undefined ? l : [...l, ...new Array<string>(8 - l.length - r.length).fill('0'), ...r];
  return groups.reduce((value, group) => (value << 16n) | BigInt(parseInt(group, 16)), 0n);
}

/** RFC 5952 text: lower case, the longest run of zero groups as `::`. */
export function formatIpv6(value: bigint): string {
  const groups = Array.from({ length: 8 }, (_, i) => Number((value >> BigInt(112 - 16 * i)) & 0xffffn));
  let best = -1;
  let bestLength = 1;
  for (let i = 0; i < 8; ) {
    if (groups[i] !== 0) { i++; continue; }
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > bestLength) { best = i; bestLength = j - i; }
    i = j;
  }
  const hex = groups.map((g) => g.toString(16));
  if (best < 0) return hex.join(':');
  return `${hex.slice(0, best).join(':')}::${hex.slice(best + bestLength).join(':')}`;
}

/** The 16 network-order bytes of an address (what sockaddr_in6 and the holders take). */
export function ipv6Bytes(value: bigint): Uint8Array {
  const out = new Uint8Array(16);
  for (let i = 0; i < 16; i++) out[i] = Number((value >> BigInt(120 - 8 * i)) & 0xffn);
  return out;
}

/** True for ::1, the one IPv6 loopback address. */
export function isLoopback6(value: bigint): boolean {
  return value === 1n;
}

/** IPv6 sources: u32 offsets (never 0: 0 means "the kernel's choice") from `base`. */
export interface Sources6 {
  /** Canonical text of the base; source k is base + offset. */
  base: string;
  ranges: Range[];
}

interface Span6 { first: bigint; last: bigint }

function parseSpan6(text: string, option: string): Span6 {
  const expected = 'IPv6 addresses, ranges or prefixes like fd00:18::1, fd00:18::2-fd00:18::ff, fd00:18::/64';
  const prefix = /^([0-9a-fA-F:.]+)\/(\d{1,3})$/.exec(text);
  if (prefix) {
    const base = parseIpv6(prefix[1] ?? '');
    const bits = Number(prefix[2]);
    if (base === undefined || bits > 128) throw invalidArgument(option, text, expected);
    const hostMask = (1n << BigInt(128 - bits)) - 1n;
    const network = base & (FULL ^ hostMask);
    // The all-zero host (the subnet-router anycast address) is never a source.
    return bits >= 127 ? { first: network, last: network | hostMask } : { first: network + 1n, last: network | hostMask };
  }
  const [from = '', to, ...rest] = text.split('-');
  const first = parseIpv6(from);
  const last = to === undefined ? first : parseIpv6(to);
  if (first === undefined || last === undefined || rest.length > 0 || last < first) throw invalidArgument(option, text, expected);
  return { first, last };
}

/**
 * IPv6 items of a source list as offsets from one base. A span larger than the window
 * keeps its first 2^32 - 1 addresses (more than any host can use); spans that lie further
 * apart than that are refused, naming the list.
 */
export function parseSources6(items: readonly string[], option: string): Sources6 {
  const spans = items.map((item) => parseSpan6(item, option));
  const low = spans.reduce((min, s) => (s.first < min ? s.first : min), spans[0]?.first ?? 1n);
  const base = low - 1n;
  const ranges = spans.map((s) => {
    const first = Number(s.first - base);
    const lastWanted = s.last - base;
    if (first > MAX_OFFSET) {
      throw invalidArgument(option, items.join(','), 'IPv6 sources within 2^32 addresses of each other (one /96 window)');
    }
    return { first, last: lastWanted > BigInt(MAX_OFFSET) ? MAX_OFFSET : Number(lastWanted) };
  });
  return { base: formatIpv6(base), ranges: mergeRanges(ranges) };
}

/** The address of one offset: base + offset, as text. */
export function sourceAt6(sources: Sources6, offset: number): string {
  return formatIpv6((parseIpv6(sources.base) ?? 0n) + BigInt(offset));
}
