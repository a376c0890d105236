// A systemd unit's limits as systemd reports them (`systemctl show`): LimitNOFILE,
// MemoryMax, TasksMax and the unit's cgroup. systemctl is a program, not a file, so the
// runner is injected; without systemctl every value is "unknown", never a guess.

import { execFile } from 'node:child_process';
import { parseSystemctlShow } from './cgroup-parsers.ts';

export interface UnitLimits {
  unit: string;
  /** False when systemctl is missing or did not answer; `reason` says why. */
  known: boolean;
  reason: string | null;
  nofile_soft: number | null;
  nofile_hard: number | null;
  memory_max_bytes: number | null;
  tasks_max: number | null;
  /** The unit's cgroup path (ControlGroup=), which doctor then reads. */
  control_group: string | null;
}

/** Runs `systemctl` with arguments and resolves its stdout; rejects when it cannot. */
export type SystemctlRunner = (args: string[]) => Promise<string>;

const PROPERTIES = ['LimitNOFILESoft', 'LimitNOFILE', 'MemoryMax', 'TasksMax', 'ControlGroup', 'LoadState'];

/** systemd writes no limit as `infinity` and, for some properties, as 2^64−1. */
function unitNumber(text: string | undefined): number | null {
  if (text === undefined || text === '' || text === 'infinity') return null;
  const n = Number(text);
  return Number.isFinite(n) && n < 2 ** 62 ? n : null;
}

/** `systemctl show` output → the unit's limits. */
export function parseUnitLimits(unit: string, text: string): UnitLimits {
  const v = parseSystemctlShow(text);
  if (v.get('LoadState') === 'not-found') return unknownUnit(unit, `systemd has no unit ${unit}`);
  return {
    unit, known: true, reason: null,
    nofile_soft: unitNumber(v.get('LimitNOFILESoft')),
    nofile_hard: unitNumber(v.get('LimitNOFILE')),
    memory_max_bytes: unitNumber(v.get('MemoryMax')),
    tasks_max: unitNumber(v.get('TasksMax')),
    control_group: v.get('ControlGroup') || null,
  };
}

export function unknownUnit(unit: string, reason: string): UnitLimits {
  return { unit, known: false, reason, nofile_soft: null, nofile_hard: null, memory_max_bytes: null, tasks_max: null, control_group: null };
}

export const runSystemctl: SystemctlRunner = (args) => new Promise((resolve, reject) => {
  // systemctl's own words (no systemd as PID 1, no such unit) are the reason worth showing.
  execFile('systemctl', args, { timeout: 5_000 }, (error, stdout, stderr) => (error
    ? reject(Object.assign(new Error(stderr.trim().split('\n')[0] || error.message), { code: (error as NodeJS.ErrnoException).code }))
    : resolve(stdout)));
});

/** Asks systemd about `unit`; a missing systemctl or a host without systemd gives known: false. */
export async function readUnitLimits(unit: string, run: SystemctlRunner = runSystemctl): Promise<UnitLimits> {
  try {
    return parseUnitLimits(unit, await run(['show', ...PROPERTIES.map((p) => `--property=${p}`), '--', unit]));
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    return unknownUnit(unit, code === 'ENOENT' ? 'systemctl is not installed here: the unit\'s limits are unknown' : `systemctl show failed: ${(error as Error).message.split('\n')[0]}`);
  }
}
