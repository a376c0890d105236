// Pure parsers for the Linux files doctor and the probes read. Each takes file text and
// returns plain data; none touches the filesystem, so each is tested on captured text.

import type { Range } from '../tuple/address.ts';

export interface SoftHard {
  soft: number;
  hard: number;
}

/** `/proc/PID/limits` → the rows by name (`Max open files`); `unlimited` is Infinity. */
export function parseProcLimits(text: string): Map<string, SoftHard> {
  const rows = new Map<string, SoftHard>();
  for (const line of text.split('\n').slice(1)) {
    const match = /^(Max [a-z ]+?)\s{2,}(\S+)\s+(\S+)/.exec(line);
    if (!match) continue;
    rows.set(match[1] ?? '', { soft: parseLimitValue(match[2]), hard: parseLimitValue(match[3]) });
  }
  return rows;
}

function parseLimitValue(text: string | undefined): number {
  return text === 'unlimited' ? Infinity : Number(text);
}

/** `/proc/meminfo` → bytes by key (`MemAvailable`, `Slab`). */
export function parseMeminfo(text: string): Map<string, number> {
  const values = new Map<string, number>();
  for (const line of text.split('\n')) {
    const match = /^(\w+(?:\(\w+\))?):\s+(\d+)(\s+kB)?/.exec(line);
    if (match) values.set(match[1] ?? '', Number(match[2]) * (match[3] ? 1024 : 1));
  }
  return values;
}

export interface SlabCache {
  activeObjects: number;
  objects: number;
  objectSize: number;
  objectsPerSlab: number;
  pagesPerSlab: number;
}

/** `/proc/slabinfo` (version 2.1) → caches by name. */
export function parseSlabinfo(text: string): Map<string, SlabCache> {
  const caches = new Map<string, SlabCache>();
  for (const line of text.split('\n')) {
    if (line.startsWith('#') || line.startsWith('slabinfo')) continue;
    const fields = line.split(/\s+/);
    if (fields.length < 6) continue;
    const [name = '', active, total, size, perSlab, pages] = fields;
    caches.set(name, {
      activeObjects: Number(active),
      objects: Number(total),
      objectSize: Number(size),
      objectsPerSlab: Number(perSlab),
      pagesPerSlab: Number(pages),
    });
  }
  return caches;
}

/**
 * What one object really costs: its slab's pages shared by the objects that fit, which
 * includes the allocator's padding (TCP: 2,368 B objects, 13 in 8 pages → 2,520 B).
 */
export function slabBytesPerObject(cache: SlabCache, pageSize = 4096): number {
  if (cache.objectsPerSlab <= 0 || cache.pagesPerSlab <= 0) return cache.objectSize;
  return Math.max(cache.objectSize, (cache.pagesPerSlab * pageSize) / cache.objectsPerSlab);
}

/** `fs.file-nr`: allocated handles, allocated-but-free (always 0 since 2.6), max. */
export function parseFileNr(text: string): { allocated: number; free: number; max: number } | undefined {
  const [allocated, free, max] = text.trim().split(/\s+/).map(Number);
  if (![allocated, free, max].every((n) => Number.isFinite(n))) return undefined;
  return { allocated: allocated ?? 0, free: free ?? 0, max: max ?? 0 };
}

/** `ip_local_reserved_ports`: `8080,9000-9010` (empty when none). */
export function parseReservedPorts(text: string): Range[] {
  return text
    .trim()
    .split(',')
    .filter((item) => /^\d+(-\d+)?$/.test(item.trim()))
    .map((item) => {
      const [first, last] = item.trim().split('-').map(Number);
      return { first: first ?? 0, last: last ?? first ?? 0 };
    });
}

export interface LimitsConfEntry {
  domain: string;
  type: 'soft' | 'hard' | '-';
  item: string;
  value: number;
  /** Where it was read, `file:line`, so advice can point at it. */
  source: string;
}

/** `/etc/security/limits.conf` and `limits.d/*.conf` lines (`domain type item value`). */
export function parseLimitsConf(text: string, file: string): LimitsConfEntry[] {
  const entries: LimitsConfEntry[] = [];
  text.split('\n').forEach((raw, index) => {
    const line = raw.replace(/#.*/, '').trim();
    const [domain, type, item, value] = line.split(/\s+/);
    if (!domain || !item || value === undefined) return;
    if (type !== 'soft' && type !== 'hard' && type !== '-') return;
    const number = value === 'unlimited' || value === 'infinity' ? Infinity : Number(value);
    if (Number.isNaN(number)) return;
    entries.push({ domain, type, item, value: number, source: `${file}:${index + 1}` });
  });
  return entries;
}

/** Online CPUs from `/proc/stat` (`cpu0`, `cpu1` … lines). */
export function parseCpuCount(text: string): number {
  return text.split('\n').filter((line) => /^cpu\d+\s/.test(line)).length;
}

/** Scheduling entities (threads) now, from `/proc/loadavg`'s `running/total` field. */
export function parseThreadsNow(text: string): number | undefined {
  const total = /\s\d+\/(\d+)\s/.exec(text)?.[1];
  return total === undefined ? undefined : Number(total);
}

/** `/proc/net/netstat` or `/proc/net/snmp`: pairs of header/value lines per prefix. */
export function parseNetstat(text: string): Map<string, number> {
  const values = new Map<string, number>();
  const lines = text.split('\n');
  for (let i = 0; i + 1 < lines.length; i += 2) {
    const names = lines[i]?.split(/\s+/) ?? [];
    const numbers = lines[i + 1]?.split(/\s+/) ?? [];
    const prefix = names[0]?.replace(':', '') ?? '';
    for (let j = 1; j < names.length; j++) {
      const name = names[j];
      if (name) values.set(`${prefix}.${name}`, Number(numbers[j]));
    }
  }
  return values;
}

/** `/proc/net/sockstat`: `TCP: inuse 5 orphan 0 tw 0 alloc 7 mem 1` → `TCP.inuse` … */
export function parseSockstat(text: string): Map<string, number> {
  const values = new Map<string, number>();
  for (const line of text.split('\n')) {
    const [head, ...rest] = line.trim().split(/\s+/);
    if (!head?.endsWith(':')) continue;
    const prefix = head.slice(0, -1);
    for (let i = 0; i + 1 < rest.length; i += 2) values.set(`${prefix}.${rest[i]}`, Number(rest[i + 1]));
  }
  return values;
}
