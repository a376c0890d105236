// The two readings of this host that serve, load and bench size themselves by, taken
// through doctor's snapshot so every command agrees with doctor.

import { createHostReader } from '../limits/host-reader.ts';
import { readHostSnapshot } from '../limits/snapshot.ts';
import { rangeSize } from '../tuple/address.ts';

export interface HostFacts {
  fdSoftLimit: number;
  /** Ports in ip_local_port_range less the reserved ones: one destination's kernel pool. */
  kernelPoolSize: number;
}

export function readHostFacts(root = '/'): HostFacts {
  const host = readHostSnapshot(createHostReader(root));
  const range = host.ports.range ?? { first: 32768, last: 60999 };
  const reserved = host.ports.reserved.reduce(
    (sum, r) => sum + Math.max(0, Math.min(r.last, range.last) - Math.max(r.first, range.first) + 1),
    0,
  );
  return { fdSoftLimit: host.fds.processSoft ?? 1024, kernelPoolSize: rangeSize(range) - reserved };
}
