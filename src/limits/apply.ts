// `doctor --apply`: turns the sysctl lines of the advice into a plan (setting, value now,
// value after) and writes it only when asked. Writes go to /proc/sys under the reader's
// root, so tests apply to a copied fixture tree instead of the live kernel.

import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ConnlabError } from '../errors.ts';
import type { Advice } from './advice.ts';
import { readSysctl, sysctlPath, type HostReader } from './host-reader.ts';

export interface SysctlChange {
  name: string;
  from: string | undefined;
  to: string;
}

const normalize = (value: string | undefined): string => (value ?? '').trim().split(/\s+/).join(' ');

/** The sysctl changes the advice asks for, without the ones already in place. */
export function planSysctlChanges(advice: readonly Advice[], reader: HostReader): SysctlChange[] {
  const changes = new Map<string, SysctlChange>();
  for (const a of advice) {
    if (!a.sysctl) continue;
    const from = readSysctl(reader, a.sysctl.name);
    if (normalize(from) === normalize(a.sysctl.value)) continue;
    changes.set(a.sysctl.name, { name: a.sysctl.name, from, to: a.sysctl.value });
  }
  return [...changes.values()];
}

/** Writes each change; stops at the first failure with the ones already written named. */
export function applySysctlChanges(changes: readonly SysctlChange[], root: string): void {
  const written: string[] = [];
  for (const change of changes) {
    try {
      writeFileSync(join(root, sysctlPath(change.name)), `${change.to}\n`);
      written.push(change.name);
    } catch (cause) {
      const done = written.length ? ` (already written: ${written.join(', ')})` : '';
      throw new ConnlabError('CONNLAB_ERR_SYSCTL_WRITE', `cannot write ${change.name}${done}`, {
        hint: 'run as root on the host itself; in a container, net.* sysctls need CAP_NET_ADMIN and fs.* ones a privileged container',
        cause,
      });
    }
  }
}
