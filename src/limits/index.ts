// connlab/limits: read a Linux host's connection limits and predict capacity.

export { adviseFor, SYSCTL_FILE, type Advice, type AdviceKind } from './advice.ts';
export { applySysctlChanges, planSysctlChanges, type SysctlChange } from './apply.ts';
export { diagnose, DOCTOR_SCHEMA, type BindingSummary, type DoctorReport } from './diagnose.ts';
export { doctorReportJson } from './report-json.ts';
export { createHostReader, readSysctl, readSysctlNumber, readSysctlNumbers, sysctlPath, type HostReader } from './host-reader.ts';
export { evaluateLimits, findBinding, FD_RESERVE_PER_PROCESS, type Limit, type LimitName } from './model.ts';
export * from './parsers.ts';
export { defaultShape, DEFAULT_USER_BYTES_PER_CONNECTION, ROLES, validateShape, type Role, type TrafficShape } from './shape.ts';
export { readHostSnapshot, SOCKET_SLAB_CACHES, type HostSnapshot, type SnapshotOptions } from './snapshot.ts';
