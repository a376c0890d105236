// connlab demo as a library: the registry of demos in the order `demo all` runs them,
// and the functions that run one or all. Nothing here prints: progress arrives as
// events through options.onEvent, and each demo returns a DemoResult.

import { ConnlabError } from '../errors.ts';
import { backlogDemo } from './backlog.ts';
import { cgroupDemo } from './cgroup.ts';
import { fdsDemo } from './fds.ts';
import { memoryDemo } from './memory.ts';
import { portsDemo } from './ports.ts';
import { runDemo } from './run-demo.ts';
import { tupleDemo } from './tuple.ts';
import { udpDemo } from './udp.ts';
import { DEMO_NAMES, type DemoDefinition, type DemoName, type DemoOptions, type DemoResult } from './types.ts';

export const DEMOS: Readonly<Partial<Record<DemoName, DemoDefinition>>> = {
  ports: portsDemo,
  tuple: tupleDemo,
  fds: fdsDemo,
  backlog: backlogDemo,
  udp: udpDemo,
  memory: memoryDemo,
  cgroup: cgroupDemo,
};

export function isDemoName(name: string): name is DemoName {
  return (DEMO_NAMES as readonly string[]).includes(name);
}

export function demoDefinition(name: string): DemoDefinition {
  const definition = isDemoName(name) ? DEMOS[name] : undefined;
  if (!definition) {
    throw new ConnlabError('CONNLAB_ERR_USAGE', `there is no demo ${JSON.stringify(name)}`, {
      hint: `demos are ${DEMO_NAMES.join(', ')}, or all`,
    });
  }
  return definition;
}

/** Runs one demo by name. */
export function runNamedDemo(name: string, options: DemoOptions): Promise<DemoResult> {
  return runDemo(demoDefinition(name), options);
}

/** Runs every demo in order; a demo that throws stops the run (its settings are restored). */
export async function runAllDemos(options: DemoOptions & { onResult?: (result: DemoResult) => void }): Promise<DemoResult[]> {
  const results: DemoResult[] = [];
  for (const name of DEMO_NAMES) {
    const result = await runNamedDemo(name, options);
    options.onResult?.(result);
    results.push(result);
  }
  return results;
}

export { runDemo } from './run-demo.ts';
export { SettingsGuard, type SettingRecord } from './settings.ts';
export * from './types.ts';
