// doctor's report as `doctor --json` prints it (schema connlab.doctor/1). The report's
// `host` is the library's HostSnapshot, camelCase like every TypeScript type; the JSON
// gives it snake_case keys like the rest of the report, and keeps the 0.1 camelCase keys
// beside them for one release (deprecated: see docs/commands/doctor.md).

import { snakeCaseKeys } from '../json/snake-case.ts';
import type { DoctorReport } from './diagnose.ts';

/** The plain-JSON form of a doctor report: snake_case keys throughout. */
export function doctorReportJson(report: DoctorReport): Record<string, unknown> {
  return { ...report, host: snakeCaseKeys(report.host, { keepCamelCase: true }) };
}
