// Demos predict with doctor's model, never with numbers of their own: a snapshot of the
// host as it is at that moment (after any setting the demo changed), a traffic shape,
// and diagnose(). What comes back is the binding limit's error and what it allows.

import { diagnose, type DoctorReport } from '../limits/diagnose.ts';
import type { LimitName } from '../limits/model.ts';
import { defaultShape, type TrafficShape } from '../limits/shape.ts';
import type { HostSnapshot } from '../limits/snapshot.ts';
import type { LoadResult } from '../load/load.ts';
import type { Outcome } from './types.ts';

export interface Prediction extends Outcome {
  /** The limit that binds for this shape, and what it allows. */
  binding: LimitName | null;
  allows: number | null;
  /** doctor's own words for the binding limit. */
  detail: string;
  report: DoctorReport;
}

/**
 * Asks doctor about `connections` for `shape`: when the binding limit allows fewer, the
 * run ends in its error after exactly that many; otherwise it reaches the target cleanly.
 */
export function predict(host: HostSnapshot, shape: Partial<TrafficShape> & { connections: number }): Prediction {
  const report = diagnose(host, defaultShape(shape));
  const binding = report.binding;
  const limit = report.limits.find((l) => l.name === binding?.name);
  const short = binding !== null && binding.allows < shape.connections;
  return {
    error: short ? binding.error : null,
    connections: short ? binding.allows : shape.connections,
    binding: binding?.name ?? null,
    allows: binding?.allows ?? null,
    detail: limit ? `doctor: ${limit.name} ${limit.value} allows ${binding?.allows.toLocaleString('en-US')} — ${limit.detail}` : 'doctor: no limit binds',
    report,
  };
}

/** The outcome part alone, for a step's `predicted`. */
export function outcomeOf(p: Outcome): Outcome {
  return { error: p.error, connections: p.connections };
}

/** A load run as an outcome: what it held, and the errno it failed with most (or none). */
export function loadOutcome(result: LoadResult): Outcome {
  return { error: result.explained[0]?.errno ?? null, connections: result.connections.established };
}

/** Live counters as an outcome, the same way. */
export function statsOutcome(stats: { established: number; errors: Record<string, number> }): Outcome {
  const top = Object.entries(stats.errors).filter(([, n]) => n > 0).sort((x, y) => y[1] - x[1])[0];
  return { error: top?.[0] ?? null, connections: stats.established };
}

export const fmt = (n: number): string => n.toLocaleString('en-US');
