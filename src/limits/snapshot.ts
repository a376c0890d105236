// Reads every limit doctor knows about into one plain, JSON-safe snapshot. Unknown
// readings stay `undefined`; the capacity model decides what an unknown means.

import { ConnlabError } from '../errors.ts';
import type { Range } from '../tuple/address.ts';
import { readSysctl, readSysctlNumber, readSysctlNumbers, type HostReader } from './host-reader.ts';
import {
  parseCpuCount,
  parseFileNr,
  parseLimitsConf,
  parseMeminfo,
  parseProcLimits,
  parseReservedPorts,
  parseSlabinfo,
  parseThreadsNow,
  slabBytesPerObject,
  type LimitsConfEntry,
} from './parsers.ts';

/** The slab caches one TCP socket in an epoll set occupies. */
export const SOCKET_SLAB_CACHES = ['TCP', 'sock_inode_cache', 'filp', 'dentry', 'eventpoll_epi'] as const;

/**
 * Used when /proc/slabinfo cannot be read (it is root-only on most distributions):
 * the sum of the caches above measured on Linux 6.x x86_64, allocator padding included.
 */
export const FALLBACK_KERNEL_BYTES_PER_SOCKET = 4000;

export interface UserNofile {
  soft: number | undefined;
  hard: number | undefined;
  /** `file:line` of the entries that won. */
  sources: string[];
}

export interface HostSnapshot {
  kernelRelease: string | undefined;
  cpus: number | undefined;
  fds: {
    fileMax: number | undefined;
    nrOpen: number | undefined;
    inUse: number | undefined;
    processSoft: number | undefined;
    processHard: number | undefined;
    /** What pam_limits gives the user's new sessions, when limits.conf says anything. */
    user: UserNofile | undefined;
  };
  ports: { range: Range | undefined; reserved: Range[] };
  backlog: { somaxconn: number | undefined; tcpMaxSynBacklog: number | undefined; syncookies: number | undefined };
  memory: {
    totalBytes: number | undefined;
    availableBytes: number | undefined;
    slabBytes: number | undefined;
    tcpMemPages: number[] | undefined;
    tcpRmem: number[] | undefined;
    tcpWmem: number[] | undefined;
    rmemDefault: number | undefined;
    rmemMax: number | undefined;
    wmemDefault: number | undefined;
    wmemMax: number | undefined;
  };
  socketCost: {
    kernelBytesPerSocket: number;
    source: 'slabinfo' | 'fallback';
    /** Effective bytes per object by cache, when slabinfo was readable. */
    caches: Record<string, number>;
  };
  timeWait: {
    maxTwBuckets: number | undefined;
    twReuse: number | undefined;
    finTimeoutSeconds: number | undefined;
    maxOrphans: number | undefined;
  };
  conntrack: { max: number; count: number } | undefined;
  tasks: { threadsMax: number | undefined; pidMax: number | undefined; threadsNow: number | undefined };
}

export interface SnapshotOptions {
  /** The user whose limits.conf entries apply (root ignores `*`, as pam_limits does). */
  user?: string;
  /** The user's groups, for `@group` entries. */
  groups?: readonly string[];
  pageSize?: number;
}

export function readHostSnapshot(reader: HostReader, options: SnapshotOptions = {}): HostSnapshot {
  const sys = (name: string) => readSysctlNumber(reader, name);
  const ostype = readSysctl(reader, 'kernel.ostype');
  if (reader.readText('/proc/meminfo') === undefined && ostype === undefined) {
    throw new ConnlabError('CONNLAB_ERR_PROC_UNREADABLE', `cannot read ${reader.root === '/' ? '' : reader.root}/proc/meminfo or kernel.ostype`, {
      hint: 'doctor reads Linux /proc; run it on the Linux host itself (in a container, mount /proc)',
    });
  }
  if (ostype !== undefined && ostype !== 'Linux') {
    throw new ConnlabError('CONNLAB_ERR_NOT_LINUX', `doctor reads Linux limits and this kernel is ${ostype}`, {
      hint: 'run doctor on the Linux host you want to measure',
    });
  }
  const meminfo = parseMeminfo(reader.readText('/proc/meminfo') ?? '');
  const nofile = parseProcLimits(reader.readText('/proc/self/limits') ?? '').get('Max open files');
  const fileNr = parseFileNr(reader.readText('/proc/sys/fs/file-nr') ?? '');
  const range = readSysctlNumbers(reader, 'net.ipv4.ip_local_port_range');
  const stat = reader.readText('/proc/stat');
  const loadavg = reader.readText('/proc/loadavg');
  return {
    kernelRelease: readSysctl(reader, 'kernel.osrelease'),
    cpus: stat === undefined ? undefined : parseCpuCount(stat),
    fds: {
      fileMax: sys('fs.file-max'),
      nrOpen: sys('fs.nr_open'),
      inUse: fileNr === undefined ? undefined : fileNr.allocated - fileNr.free,
      processSoft: nofile?.soft,
      processHard: nofile?.hard,
      user: readUserNofile(reader, options),
    },
    ports: {
      range: range && range.length >= 2 ? { first: range[0] ?? 0, last: range[1] ?? 0 } : undefined,
      reserved: parseReservedPorts(readSysctl(reader, 'net.ipv4.ip_local_reserved_ports') ?? ''),
    },
    backlog: {
      somaxconn: sys('net.core.somaxconn'),
      tcpMaxSynBacklog: sys('net.ipv4.tcp_max_syn_backlog'),
      syncookies: sys('net.ipv4.tcp_syncookies'),
    },
    memory: {
      totalBytes: meminfo.get('MemTotal'),
      availableBytes: meminfo.get('MemAvailable'),
      slabBytes: meminfo.get('Slab'),
      tcpMemPages: readSysctlNumbers(reader, 'net.ipv4.tcp_mem'),
      tcpRmem: readSysctlNumbers(reader, 'net.ipv4.tcp_rmem'),
      tcpWmem: readSysctlNumbers(reader, 'net.ipv4.tcp_wmem'),
      rmemDefault: sys('net.core.rmem_default'),
      rmemMax: sys('net.core.rmem_max'),
      wmemDefault: sys('net.core.wmem_default'),
      wmemMax: sys('net.core.wmem_max'),
    },
    socketCost: readSocketCost(reader, options.pageSize ?? 4096),
    timeWait: {
      maxTwBuckets: sys('net.ipv4.tcp_max_tw_buckets'),
      twReuse: sys('net.ipv4.tcp_tw_reuse'),
      finTimeoutSeconds: sys('net.ipv4.tcp_fin_timeout'),
      maxOrphans: sys('net.ipv4.tcp_max_orphans'),
    },
    conntrack: readConntrack(reader),
    tasks: {
      threadsMax: sys('kernel.threads-max'),
      pidMax: sys('kernel.pid_max'),
      threadsNow: loadavg === undefined ? undefined : parseThreadsNow(loadavg),
    },
  };
}

function readSocketCost(reader: HostReader, pageSize: number): HostSnapshot['socketCost'] {
  const slabs = parseSlabinfo(reader.readText('/proc/slabinfo') ?? '');
  const caches: Record<string, number> = {};
  for (const name of SOCKET_SLAB_CACHES) {
    const cache = slabs.get(name);
    if (cache) caches[name] = Math.round(slabBytesPerObject(cache, pageSize));
  }
  // Without the TCP cache itself the sum would be meaningless: fall back as a whole.
  if (caches.TCP === undefined) {
    return { kernelBytesPerSocket: FALLBACK_KERNEL_BYTES_PER_SOCKET, source: 'fallback', caches: {} };
  }
  const total = Object.values(caches).reduce((sum, bytes) => sum + bytes, 0);
  return { kernelBytesPerSocket: total, source: 'slabinfo', caches };
}

function readConntrack(reader: HostReader): HostSnapshot['conntrack'] {
  const max = readSysctlNumber(reader, 'net.netfilter.nf_conntrack_max');
  const count = readSysctlNumber(reader, 'net.netfilter.nf_conntrack_count');
  return max === undefined ? undefined : { max, count: count ?? 0 };
}

/**
 * pam_limits semantics: limits.conf first, then limits.d/*.conf in order; an entry for
 * the user beats a `@group` entry, which beats `*`; `*` never applies to root; among
 * equals the last one read wins. `-` sets soft and hard together.
 */
export function readUserNofile(reader: HostReader, options: SnapshotOptions): UserNofile | undefined {
  const user = options.user;
  if (user === undefined) return undefined;
  const files = [
    '/etc/security/limits.conf',
    ...reader.list('/etc/security/limits.d').filter((f) => f.endsWith('.conf')).map((f) => `/etc/security/limits.d/${f}`),
  ];
  const entries = files.flatMap((file) => parseLimitsConf(reader.readText(file) ?? '', file));
  const rank = (entry: LimitsConfEntry): number => {
    if (entry.domain === user) return 3;
    if (entry.domain.startsWith('@') && options.groups?.includes(entry.domain.slice(1))) return 2;
    if (entry.domain === '*' && user !== 'root') return 1;
    return 0;
  };
  const result: UserNofile = { soft: undefined, hard: undefined, sources: [] };
  const ranks = { soft: 0, hard: 0 };
  for (const entry of entries) {
    const entryRank = rank(entry);
    if (entry.item !== 'nofile' || entryRank === 0) continue;
    for (const kind of ['soft', 'hard'] as const) {
      if ((entry.type === kind || entry.type === '-') && entryRank >= ranks[kind]) {
        result[kind] = entry.value;
        ranks[kind] = entryRank;
        result.sources.push(entry.source);
      }
    }
  }
  return result.sources.length === 0 ? undefined : { ...result, sources: [...new Set(result.sources)] };
}
