// The two readings of this host that serve, load and bench size themselves by, taken
// through doctor's snapshot so every command agrees with doctor.

import { createHostReader } from './host-reader.ts';
import { portsIn } from './model.ts';
import { readHostSnapshot } from './snapshot.ts';

export interface HostFacts {
  fdSoftLimit: number;
  /** Ports in ip_local_port_range less the reserved ones: one destination's kernel pool. */
  kernelPoolSize: number;
}

export function readHostFacts(root = '/'): HostFacts {
  const host = readHostSnapshot(createHostReader(root));
  const range = host.ports.range ?? { first: 32768, last: 60999 };
  return { fdSoftLimit: host.fds.processSoft ?? 1024, kernelPoolSize: portsIn(range, host.ports.reserved) };
}
