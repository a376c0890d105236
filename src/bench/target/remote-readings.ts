// What `bench --target --server-metrics` can know of a server on another host, from the
// standard names its Prometheus endpoints publish: the server's own process metrics
// (prom-client, the Go and Python clients: process_resident_memory_bytes,
// process_max_fds, process_cpu_seconds_total) and the host's node_exporter (sockstat,
// meminfo, slabinfo, filefd, conntrack, cpu, uname, netstat). Pure: scrapes in, the
// same HostSample / ServerSample shapes the local probe gives out, plus a HostSnapshot
// for doctor's model and the list of what could not be seen.

import type { Series } from '../../dashboard/scrape.ts';
import { FALLBACK_KERNEL_BYTES_PER_SOCKET, SOCKET_SLAB_CACHES, type HostSnapshot } from '../../limits/snapshot.ts';
import type { HostSample } from '../../probe/host-sample.ts';
import { WATCHED_COUNTERS, type NetstatCounters } from '../../probe/netstat.ts';
import type { Scrape } from './scrape.ts';
import type { ServerSample } from './server-processes.ts';

/** The memory metric read unless --server-memory-metric says otherwise. */
export const DEFAULT_MEMORY_METRIC = 'process_resident_memory_bytes';

/** An endpoint is the host's when it is node_exporter; else it is the server's. */
export type EndpointRole = 'host' | 'server' | 'unknown';

export interface RemoteReadings {
  endpoints: { url: string; role: EndpointRole; error: string | null; series: number }[];
  /** Figures from the server's endpoints (node_exporter's own process_* series are left out). */
  server: { memoryBytes: number | null; cpuSeconds: number | null; maxFds: number | null; openFds: number | null };
  host: {
    tcpInUse: number | null;
    tcpAlloc: number | null;
    tcpMemBytes: number | null;
    memAvailableBytes: number | null;
    memTotalBytes: number | null;
    meminfoSlabBytes: number | null;
    /** Socket slab caches, active objects × bytes per object; null without the slabinfo collector. */
    slabCaches: Record<string, number> | null;
    bytesPerObject: Record<string, number> | null;
    fileMax: number | null;
    filesAllocated: number | null;
    conntrack: { max: number; count: number } | null;
    cpus: number | null;
    cpu: { busy: number; total: number } | null;
    kernelRelease: string | null;
    netstat: Partial<NetstatCounters>;
  };
}

export function roleOf(scrape: Scrape): EndpointRole {
  if (scrape.error !== null) return 'unknown';
  return scrape.series.some((s) => s.name === 'node_exporter_build_info' || s.name.startsWith('node_')) ? 'host' : 'server';
}

function sumOf(series: readonly Series[], name: string, where: (l: Record<string, string>) => boolean = () => true): number | null {
  const found = series.filter((s) => s.name === name && where(s.labels) && Number.isFinite(s.value));
  return found.length === 0 ? null : found.reduce((a, s) => a + s.value, 0);
}

function slabOf(series: readonly Series[], pageSize: number): { caches: Record<string, number>; perObject: Record<string, number> } | null {
  const caches: Record<string, number> = {};
  const perObject: Record<string, number> = {};
  for (const cache of SOCKET_SLAB_CACHES) {
    const is = (l: Record<string, string>): boolean => l['slab'] === cache;
    const active = sumOf(series, 'node_slabinfo_active_objects', is);
    const size = sumOf(series, 'node_slabinfo_object_size_bytes', is);
    if (active === null || size === null) continue;
    const pages = sumOf(series, 'node_slabinfo_pages_per_slab', is) ?? 0;
    const perSlab = sumOf(series, 'node_slabinfo_objects_per_slab', is) ?? 0;
    perObject[cache] = pages > 0 && perSlab > 0 ? Math.max(size, (pages * pageSize) / perSlab) : size;
    caches[cache] = Math.round(active * perObject[cache]);
  }
  return Object.keys(caches).length === 0 ? null : { caches, perObject };
}

function cpuOf(series: readonly Series[]): RemoteReadings['host']['cpu'] {
  const total = sumOf(series, 'node_cpu_seconds_total');
  if (total === null) return null;
  const idle = sumOf(series, 'node_cpu_seconds_total', (l) => l['mode'] === 'idle' || l['mode'] === 'iowait') ?? 0;
  return { busy: total - idle, total };
}

function hostOf(series: readonly Series[], pageSize: number): RemoteReadings['host'] {
  const get = (name: string): number | null => sumOf(series, name);
  const slab = slabOf(series, pageSize);
  const conntrackMax = get('node_nf_conntrack_entries_limit');
  const netstat: Partial<NetstatCounters> = {};
  for (const name of WATCHED_COUNTERS) {
    const value = get(`node_netstat_${name.replace('.', '_')}`);
    if (value !== null) netstat[name] = value;
  }
  return {
    tcpInUse: get('node_sockstat_TCP_inuse'), tcpAlloc: get('node_sockstat_TCP_alloc'), tcpMemBytes: get('node_sockstat_TCP_mem_bytes'),
    memAvailableBytes: get('node_memory_MemAvailable_bytes'), memTotalBytes: get('node_memory_MemTotal_bytes'), meminfoSlabBytes: get('node_memory_Slab_bytes'),
    slabCaches: slab?.caches ?? null, bytesPerObject: slab?.perObject ?? null,
    fileMax: get('node_filefd_maximum'), filesAllocated: get('node_filefd_allocated'),
    conntrack: conntrackMax === null ? null : { max: conntrackMax, count: get('node_nf_conntrack_entries') ?? 0 },
    cpus: series.filter((s) => s.name === 'node_cpu_seconds_total' && s.labels['mode'] === 'idle').length || null,
    cpu: cpuOf(series), kernelRelease: series.find((s) => s.name === 'node_uname_info')?.labels['release'] ?? null, netstat,
  };
}

/** Reads every scrape: host figures from node_exporter, server figures from the others. */
export function readRemote(scrapes: readonly Scrape[], memoryMetric = DEFAULT_MEMORY_METRIC, pageSize = 4096): RemoteReadings {
  const roles = scrapes.map(roleOf);
  const hostSeries = scrapes.flatMap((s, i) => (roles[i] === 'host' ? s.series : []));
  const serverSeries = scrapes.flatMap((s, i) => (roles[i] === 'server' ? s.series : []));
  return {
    endpoints: scrapes.map((s, i) => ({ url: s.url, role: roles[i] ?? 'unknown', error: s.error, series: s.series.length })),
    server: {
      memoryBytes: sumOf(serverSeries, memoryMetric), cpuSeconds: sumOf(serverSeries, 'process_cpu_seconds_total'),
      maxFds: sumOf(serverSeries, 'process_max_fds'), openFds: sumOf(serverSeries, 'process_open_fds'),
    },
    host: hostOf(hostSeries, pageSize),
  };
}

/** The host's sample in the local probe's shape: what the timeline and the kernel fit read. */
export function remoteHostSample(r: RemoteReadings): HostSample {
  const h = r.host;
  return {
    tcpInUse: h.tcpInUse ?? h.tcpAlloc ?? 0,
    tcpMemPages: Math.round((h.tcpMemBytes ?? 0) / 4096),
    // Without the slabinfo collector, meminfo's Slab is the only slab figure there is.
    slabBytes: h.slabCaches ?? (h.meminfoSlabBytes === null ? {} : { Slab: h.meminfoSlabBytes }),
    slabObjects: {},
    meminfoSlabBytes: h.meminfoSlabBytes ?? 0,
    memAvailableBytes: h.memAvailableBytes ?? 0,
    cpu: h.cpu ?? { busy: 0, total: 0 },
    netstat: Object.fromEntries(WATCHED_COUNTERS.map((n) => [n, h.netstat[n] ?? 0])) as NetstatCounters,
  };
}

/** The server's sample in the local probe's shape; every memory field is the memory metric. */
export function remoteServerSample(r: RemoteReadings, alive: boolean): ServerSample {
  const memory = r.server.memoryBytes ?? 0;
  return {
    pids: [], holders: [], alive, privateBytes: memory, privateDirtyBytes: memory, pssBytes: memory,
    cpuSeconds: r.server.cpuSeconds ?? 0, fdSoftLimit: r.server.maxFds ?? undefined, fdHardLimit: undefined,
  };
}

/** doctor's snapshot of that host from what its exporters publish; the rest stays unknown. */
export function remoteSnapshot(r: RemoteReadings): HostSnapshot {
  const h = r.host;
  const u = <T>(v: T | null): T | undefined => v ?? undefined;
  const caches = h.bytesPerObject ?? {};
  const perSocket = Object.values(caches).reduce((a, b) => a + b, 0);
  return {
    kernelRelease: u(h.kernelRelease), cpus: u(h.cpus),
    fds: { fileMax: u(h.fileMax), nrOpen: undefined, inUse: u(h.filesAllocated), processSoft: u(r.server.maxFds), processHard: undefined, user: undefined },
    ports: { range: undefined, reserved: [] },
    backlog: { somaxconn: undefined, tcpMaxSynBacklog: undefined, syncookies: undefined },
    memory: {
      totalBytes: u(h.memTotalBytes), availableBytes: u(h.memAvailableBytes), slabBytes: u(h.meminfoSlabBytes),
      tcpMemPages: undefined, tcpRmem: undefined, tcpWmem: undefined, rmemDefault: undefined, rmemMax: undefined, wmemDefault: undefined, wmemMax: undefined,
    },
    socketCost: h.bytesPerObject && caches['TCP'] !== undefined
      ? { kernelBytesPerSocket: Math.round(perSocket), source: 'slabinfo', caches }
      : { kernelBytesPerSocket: FALLBACK_KERNEL_BYTES_PER_SOCKET, source: 'fallback', caches: {} },
    timeWait: { maxTwBuckets: undefined, twReuse: undefined, finTimeoutSeconds: undefined, maxOrphans: undefined },
    conntrack: u(h.conntrack),
    tasks: { threadsMax: undefined, pidMax: undefined, threadsNow: undefined },
  };
}

/** What the endpoints did not show, each as a sentence a user can act on. */
export function unseenFrom(r: RemoteReadings, memoryMetric: string): string[] {
  const out: string[] = [];
  const hasHost = r.endpoints.some((e) => e.role === 'host');
  if (r.server.memoryBytes === null) out.push(`the server's memory: no endpoint but node_exporter's own exports ${memoryMetric} (pass the server's /metrics, or --server-memory-metric NAME)`);
  if (r.server.maxFds === null) out.push('the server\'s descriptor limit: no process_max_fds (doctor assumes the host\'s default)');
  if (!hasHost) out.push('the host: no node_exporter among --server-metrics, so no sockets, slab, memory or host limits');
  else {
    if (r.host.slabCaches === null) out.push('slab by cache: node_exporter\'s slabinfo collector is off (--collector.slabinfo, as root); the kernel fit reads meminfo Slab, which moves with everything on the host');
    if (r.host.tcpInUse === null) out.push('TCP sockets: no node_sockstat_TCP_inuse (sockstat collector off)');
    if (r.host.memAvailableBytes === null) out.push('available memory: no node_memory_MemAvailable_bytes (meminfo collector off)');
    if (r.host.fileMax === null) out.push('fs.file-max: no node_filefd_maximum (filefd collector off)');
  }
  out.push('net.ipv4.tcp_mem, fs.nr_open, the accept backlog and the server\'s hard descriptor limit: no standard exporter publishes them', 'how many processes hold the connections: one is assumed');
  return out;
}
