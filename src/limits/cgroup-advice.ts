// Advice for the cgroup's limits: the exact lines that lift them where the cgroup comes
// from (a Kubernetes pod, a systemd unit, a container runtime, the cgroup file itself).

import type { Advice } from './advice.ts';
import { chargedCost, SUPERVISOR_TASKS, TASKS_PER_C_WORKER } from './cgroup-model.ts';
import type { CgroupSnapshot } from './cgroup-reader.ts';
import { FD_RESERVE_PER_PROCESS } from './model.ts';
import { socketsPerConnection, type TrafficShape } from './shape.ts';
import type { HostSnapshot } from './snapshot.ts';

/** Headroom over the model's mean, for allocator slack and what the server does besides holding. */
export const CGROUP_MEMORY_MARGIN = 1.2;

const mibCeil = (bytes: number): number => Math.ceil(bytes / 2 ** 20);

/** The memory limit that holds `target` connections with the margin, in MiB. */
export function memoryNeededMiB(cgroup: CgroupSnapshot, shape: TrafficShape, target: number, objectBytes?: Readonly<Record<string, number>>): number {
  const cost = chargedCost(cgroup, objectBytes);
  const used = Math.max(0, (cgroup.memory?.usage_bytes ?? 0) - (cgroup.memory?.reclaimable_bytes ?? 0));
  const perConnection = socketsPerConnection(shape) * (cost.kernelBytesPerSocket + shape.userBytesPerConnection);
  return mibCeil((used + target * perConnection) * CGROUP_MEMORY_MARGIN);
}

export function cgroupMemoryAdvice(cgroup: CgroupSnapshot, shape: TrafficShape, target: number, objectBytes?: Readonly<Record<string, number>>): Advice[] {
  const need = memoryNeededMiB(cgroup, shape, target, objectBytes);
  const why = `${target.toLocaleString('en-US')} connections at the model's bytes per connection, ${Math.round((CGROUP_MEMORY_MARGIN - 1) * 100)}% margin`;
  const file = cgroup.version === 1 ? 'memory.limit_in_bytes' : 'memory.max';
  return [
    { limit: 'cgroup_memory', kind: 'kubernetes', line: `resources: { requests: { memory: ${need}Mi }, limits: { memory: ${need}Mi } }`, why: `in the pod spec: ${why}` },
    { limit: 'cgroup_memory', kind: 'systemd', line: `MemoryMax=${need}M`, why: 'in the service unit ([Service]), then systemctl daemon-reload and restart' },
    { limit: 'cgroup_memory', kind: 'cgroup', line: `echo ${need * 2 ** 20} > ${cgroup.dir}/${file}`, why: `raises it in place (the smallest limit on the path binds: ${cgroup.memory?.limit_path ?? cgroup.path})` },
  ];
}

export function cgroupPidsAdvice(cgroup: CgroupSnapshot, host: HostSnapshot, shape: TrafficShape, target: number): Advice[] {
  const perWorker = Math.max(1, (host.fds.processSoft ?? 1024) - FD_RESERVE_PER_PROCESS);
  const workers = Math.ceil((target * socketsPerConnection(shape)) / perWorker);
  const tasks = SUPERVISOR_TASKS + workers * TASKS_PER_C_WORKER + 16;
  return [
    { limit: 'cgroup_pids', kind: 'systemd', line: `TasksMax=${tasks}`, why: `${workers} worker(s) of ${perWorker.toLocaleString('en-US')} sockets, the supervisor, 16 spare` },
    { limit: 'cgroup_pids', kind: 'kubernetes', line: `kubelet --pod-max-pids=${tasks} (podPidsLimit in the KubeletConfiguration)`, why: 'a pod\'s pids limit is the node\'s setting' },
    { limit: 'cgroup_pids', kind: 'cgroup', line: `echo ${tasks} > ${cgroup.pids?.dir ?? cgroup.dir}/pids.max`, why: `raises it in place (set on ${cgroup.pids?.max_path ?? cgroup.path})` },
  ];
}
