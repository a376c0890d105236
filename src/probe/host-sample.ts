// One sample of the host, as the bench timeline takes it once a second: sockets the
// kernel holds (sockstat), the socket slab caches by type, /proc/meminfo, CPU busy share,
// and the TCP netstat counters. Everything read through files that stay small at two
// million sockets; never /proc/PID/fd, whose listing creates a dentry per descriptor.

import { readFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { parseMeminfo, parseNetstat, parseSlabinfo, parseSockstat, slabBytesPerObject } from '../limits/parsers.ts';
import { SOCKET_SLAB_CACHES } from '../limits/snapshot.ts';
import { readNetstatCounters, WATCHED_COUNTERS, type NetstatCounters } from './netstat.ts';

export interface CpuTimes {
  busy: number;
  total: number;
}

export interface HostSample {
  tcpInUse: number;
  /** Pages the kernel charges to TCP buffers (sockstat `TCP: mem`), all sockets together. */
  tcpMemPages: number;
  /** Bytes held by each socket slab cache: active objects × bytes per object (padding included). */
  slabBytes: Record<string, number>;
  slabObjects: Record<string, number>;
  meminfoSlabBytes: number;
  memAvailableBytes: number;
  cpu: CpuTimes;
  netstat: NetstatCounters;
}

async function read(path: string): Promise<string> {
  try {
    return await readFile(path, 'utf8');
  } catch {
    return '';
  }
}

/** Aggregate CPU jiffies from /proc/stat's first line: idle and iowait are not busy. */
export function parseCpuTimes(text: string): CpuTimes {
  const fields = (text.split('\n')[0] ?? '').trim().split(/\s+/).slice(1).map(Number);
  const total = fields.reduce((a, b) => a + (Number.isFinite(b) ? b : 0), 0);
  const idle = (fields[3] ?? 0) + (fields[4] ?? 0);
  return { busy: total - idle, total };
}

export function cpuBusyShare(before: CpuTimes, after: CpuTimes): number {
  const total = after.total - before.total;
  return total > 0 ? Math.min(1, Math.max(0, (after.busy - before.busy) / total)) : 0;
}

export async function sampleHost(root = '/'): Promise<HostSample> {
  const [slabinfo, meminfo, sockstat, stat, netstat] = await Promise.all([
    read(`${root}proc/slabinfo`), read(`${root}proc/meminfo`), read(`${root}proc/net/sockstat`), read(`${root}proc/stat`), readNetstatCounters(root),
  ]);
  return hostSampleOf({ slabinfo, meminfo, sockstat, stat }, netstat);
}

function readNow(path: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return '';
  }
}

/**
 * The same sample read synchronously: each file one open/read/close on the calling
 * thread, no thread-pool round trips. `slabinfo`: text read earlier, to use instead of
 * reading /proc/slabinfo now. That one file is the slow one: the kernel walks every
 * cache's partial-slab lists for it (3-6 ms of CPU at 100,000 connections), long
 * enough to be preempted, and on a saturated CPU one read then waits up to 1.3 s on the
 * run queue (measured: 79 busy workers on 2 cores; the other four files: under 0.2 s).
 */
export function sampleHostSync(root = '/', slabinfo?: string): HostSample {
  const files = { slabinfo: slabinfo ?? readNow(`${root}proc/slabinfo`), meminfo: readNow(`${root}proc/meminfo`), sockstat: readNow(`${root}proc/net/sockstat`), stat: readNow(`${root}proc/stat`) };
  const values = parseNetstat(readNow(`${root}proc/net/netstat`));
  const netstat = Object.fromEntries(WATCHED_COUNTERS.map((name) => [name, values.get(name) ?? 0])) as NetstatCounters;
  return hostSampleOf(files, netstat);
}

function hostSampleOf(files: { slabinfo: string; meminfo: string; sockstat: string; stat: string }, netstat: NetstatCounters): HostSample {
  const caches = parseSlabinfo(files.slabinfo);
  const slabBytes: Record<string, number> = {};
  const slabObjects: Record<string, number> = {};
  for (const name of SOCKET_SLAB_CACHES) {
    const cache = caches.get(name);
    if (!cache) continue;
    slabObjects[name] = cache.activeObjects;
    slabBytes[name] = Math.round(cache.activeObjects * slabBytesPerObject(cache));
  }
  const mem = parseMeminfo(files.meminfo);
  const tcp = parseSockstat(files.sockstat);
  return {
    tcpInUse: tcp.get('TCP.inuse') ?? 0,
    tcpMemPages: tcp.get('TCP.mem') ?? 0,
    slabBytes,
    slabObjects,
    meminfoSlabBytes: mem.get('Slab') ?? 0,
    memAvailableBytes: mem.get('MemAvailable') ?? 0,
    cpu: parseCpuTimes(files.stat),
    netstat,
  };
}
