// Everything doctor reads about where a server runs beyond the host: its cgroup, its own
// descriptor limit (/proc/PID/limits), its systemd unit, and the slab object sizes that
// price what the cgroup is charged per socket. The report section is plain snake_case JSON.

import { chargedCost, cpuQuotaNote, FALLBACK_OBJECT_BYTES, type ChargedCost } from './cgroup-model.ts';
import type { CgroupSnapshot } from './cgroup-reader.ts';
import type { HostReader } from './host-reader.ts';
import { parseProcLimits, parseSlabinfo } from './parsers.ts';
import type { HostSnapshot } from './snapshot.ts';
import type { UnitLimits } from './systemd-unit.ts';

export interface TargetProcess {
  pid: number;
  nofile_soft: number | null;
  nofile_hard: number | null;
}

export interface CgroupContext {
  cgroup: CgroupSnapshot | undefined;
  /** Object sizes by slab cache (from /proc/slabinfo, else the fallback table). */
  objectBytes: Readonly<Record<string, number>>;
  process: TargetProcess | null;
  unit: UnitLimits | null;
}

/** The report's `cgroup` section: the snapshot, the charge model and the CPU note. */
export interface CgroupReport extends CgroupSnapshot {
  charged: { kernel_bytes_per_socket: number; with_tcp_object: number; without_tcp_object: number; basis: string } | null;
  cpu_note: string | null;
}

/** Object sizes of the caches one socket uses; the cgroup is charged per object, not per slab page. */
export function readSlabObjectBytes(reader: HostReader): Record<string, number> {
  const slabs = parseSlabinfo(reader.readText('/proc/slabinfo') ?? '');
  const out: Record<string, number> = { ...FALLBACK_OBJECT_BYTES };
  for (const name of Object.keys(FALLBACK_OBJECT_BYTES)) {
    const size = slabs.get(name)?.objectSize;
    if (size !== undefined && Number.isFinite(size) && size > 0) out[name] = size;
  }
  return out;
}

const finite = (n: number | undefined): number | null => (n === undefined || !Number.isFinite(n) ? null : n);

/** RLIMIT_NOFILE of another process, from /proc/PID/limits. */
export function readProcessNofile(reader: HostReader, pid: number): TargetProcess {
  const row = parseProcLimits(reader.readText(`/proc/${pid}/limits`) ?? '').get('Max open files');
  return { pid, nofile_soft: finite(row?.soft), nofile_hard: finite(row?.hard) };
}

/**
 * The host snapshot as the target sees it: its own descriptor limit (the process's, or
 * the unit's LimitNOFILE) replaces doctor's, since workers inherit the server's limit.
 */
export function withTargetLimits(host: HostSnapshot, ctx: CgroupContext): HostSnapshot {
  const soft = ctx.process?.nofile_soft ?? ctx.unit?.nofile_soft ?? null;
  const hard = ctx.process?.nofile_hard ?? ctx.unit?.nofile_hard ?? null;
  if (soft === null && hard === null) return host;
  return { ...host, fds: { ...host.fds, processSoft: soft ?? host.fds.processSoft, processHard: hard ?? host.fds.processHard } };
}

function chargedSection(cost: ChargedCost): CgroupReport['charged'] {
  return { kernel_bytes_per_socket: cost.kernelBytesPerSocket, with_tcp_object: cost.withTcpObject, without_tcp_object: cost.withoutTcpObject, basis: cost.basis };
}

export function cgroupReport(ctx: CgroupContext, host: HostSnapshot): CgroupReport | null {
  const cgroup = ctx.cgroup;
  if (cgroup === undefined) return null;
  return {
    ...cgroup,
    charged: cgroup.memory ? chargedSection(chargedCost(cgroup, ctx.objectBytes)) : null,
    cpu_note: cpuQuotaNote(cgroup, host),
  };
}
