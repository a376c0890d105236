// Pure parsers for cgroup files (v1 and v2) and the mount table that says where each
// hierarchy lives. Each takes file text and returns plain data; none touches the
// filesystem, so each is tested on captured bytes.

/**
 * v1 writes "no limit" as PAGE_COUNTER_MAX pages (9223372036854771712 with 4 KiB pages),
 * v2 as `max`. Anything at or past 2^62 is no limit: no machine has that much memory.
 */
const UNLIMITED_FROM = 2 ** 62;

/** A limit file (`memory.max`, `memory.limit_in_bytes`, `pids.max`) → a number, null for no limit, undefined for garbage. */
export function parseCgroupLimit(text: string): number | null | undefined {
  const value = text.trim();
  if (value === 'max') return null;
  if (!/^\d+$/.test(value)) return undefined;
  const n = Number(value);
  return n >= UNLIMITED_FROM ? null : n;
}

/** A file holding one integer (`memory.current`, `pids.current`, `memory.failcnt`). */
export function parseCgroupNumber(text: string): number | undefined {
  const value = text.trim();
  return /^\d+$/.test(value) ? Number(value) : undefined;
}

/** `memory.stat`, `memory.events`, `memory.oom_control`: `key value` lines → numbers by key. */
export function parseFlatKeyed(text: string): Map<string, number> {
  const values = new Map<string, number>();
  for (const line of text.split('\n')) {
    const match = /^(\w+)\s+(\d+)\s*$/.exec(line);
    if (match) values.set(match[1] ?? '', Number(match[2]));
  }
  return values;
}

export interface ProcCgroupLine {
  /** 0 for the v2 unified line. */
  id: number;
  /** Controllers of a v1 hierarchy (`memory`, `cpu,cpuacct`, `name=systemd`); empty for v2. */
  controllers: string[];
  /** The cgroup's path inside its hierarchy, `/` for the root. */
  path: string;
}

/** `/proc/PID/cgroup`: `4:memory:/a/b` (v1) and `0::/a/b` (v2). */
export function parseProcCgroup(text: string): ProcCgroupLine[] {
  const lines: ProcCgroupLine[] = [];
  for (const line of text.split('\n')) {
    const first = line.indexOf(':');
    const second = line.indexOf(':', first + 1);
    if (first < 1 || second < 0) continue;
    const id = Number(line.slice(0, first));
    if (!Number.isInteger(id)) continue;
    const list = line.slice(first + 1, second);
    lines.push({ id, controllers: list === '' ? [] : list.split(','), path: line.slice(second + 1) || '/' });
  }
  return lines;
}

export interface CgroupMount {
  /** Where the hierarchy is mounted (`/sys/fs/cgroup/memory`). */
  mountPoint: string;
  version: 1 | 2;
  /** v1: the controllers in the mount options; v2: empty (read cgroup.controllers). */
  controllers: string[];
}

const V1_CONTROLLERS = new Set(['cpu', 'cpuacct', 'cpuset', 'memory', 'devices', 'freezer', 'net_cls', 'blkio', 'perf_event', 'net_prio', 'hugetlb', 'pids', 'rdma', 'misc']);

/** `/proc/mounts` (or `/proc/self/mounts`) → the cgroup and cgroup2 mounts. */
export function parseCgroupMounts(text: string): CgroupMount[] {
  const mounts: CgroupMount[] = [];
  for (const line of text.split('\n')) {
    const [, mountPoint, fsType, options] = line.split(' ');
    if (mountPoint === undefined || options === undefined) continue;
    const point = mountPoint.replaceAll('\\040', ' ');
    if (fsType === 'cgroup2') mounts.push({ mountPoint: point, version: 2, controllers: [] });
    if (fsType === 'cgroup') {
      mounts.push({ mountPoint: point, version: 1, controllers: options.split(',').filter((o) => V1_CONTROLLERS.has(o)) });
    }
  }
  return mounts;
}

/** v2 `cpu.max`: `max 100000` or `50000 100000` (quota and period in µs). */
export function parseCpuMax(text: string): { quotaUs: number | null; periodUs: number } | undefined {
  const [quota, period] = text.trim().split(/\s+/);
  const periodUs = Number(period);
  if (!Number.isFinite(periodUs) || periodUs <= 0) return undefined;
  if (quota === 'max') return { quotaUs: null, periodUs };
  const quotaUs = Number(quota);
  return Number.isFinite(quotaUs) ? { quotaUs, periodUs } : undefined;
}

/** v1 `cpu.cfs_quota_us` (-1: none) with `cpu.cfs_period_us`. */
export function parseCfsQuota(quotaText: string, periodText: string): { quotaUs: number | null; periodUs: number } | undefined {
  const quota = Number(quotaText.trim());
  const periodUs = Number(periodText.trim());
  if (!Number.isFinite(quota) || !Number.isFinite(periodUs) || periodUs <= 0) return undefined;
  return { quotaUs: quota < 0 ? null : quota, periodUs };
}

/** `systemctl show -p A -p B UNIT` → `A=value` pairs. */
export function parseSystemctlShow(text: string): Map<string, string> {
  const values = new Map<string, string>();
  for (const line of text.split('\n')) {
    const eq = line.indexOf('=');
    if (eq > 0) values.set(line.slice(0, eq), line.slice(eq + 1).trim());
  }
  return values;
}
