// The result every demo returns and the events it emits while it runs. One plain,
// JSON-safe shape: `connlab demo --json` prints it as is, the text renderer reads it.
// Types only.

import type { HostSnapshot } from '../limits/snapshot.ts';
import type { SettingRecord } from './settings.ts';

export const DEMO_SCHEMA = 'connlab.demo/1';

export type DemoName = 'ports' | 'tuple' | 'fds' | 'backlog' | 'udp' | 'memory' | 'cgroup';
export const DEMO_NAMES: readonly DemoName[] = ['ports', 'tuple', 'fds', 'backlog', 'udp', 'memory', 'cgroup'];

/** What a run ends in: the error a user sees (null: none) and the connections it held. */
export interface Outcome {
  error: string | null;
  connections: number;
}

/**
 * One run inside a demo. `limit` hits the limit, `lifted` applies the fix and succeeds,
 * `evidence` shows something from the kernel's own tables.
 */
export interface DemoStep {
  kind: 'limit' | 'lifted' | 'evidence';
  title: string;
  /** What the step is about to do, said before it does it. */
  plan: string;
  predicted: Outcome;
  observed: Outcome;
  /** Why the prediction is what it is (doctor's model, the kernel rule behind it). */
  because: string;
  /** How observed is compared with predicted when it is not plain equality. */
  tolerance?: string;
  matches: boolean;
  /** Lines that show what happened: kernel socket table rows, counters, exit reasons. */
  evidence: string[];
  duration_ms: number;
}

export interface DemoResult {
  schema: typeof DEMO_SCHEMA;
  name: DemoName;
  title: string;
  /** Which variant ran: `narrowed` or `full-range` for ports; `default` elsewhere. */
  variant: string;
  /** The first step's prediction and observation: each demo's headline (the contract keys). */
  predicted: Outcome;
  observed: Outcome;
  /** Every step's observation matched its prediction. */
  matches: boolean;
  /** Every setting the demo changed reads back as it was before; true when none changed. */
  restored: boolean;
  settings: SettingRecord[];
  steps: DemoStep[];
  /** How to lift the limit on a real host, one line each. */
  lift: string[];
  /** Anything else worth a number: per-cache slab bytes, worker PIDs, the million's cost. */
  details: Record<string, unknown>;
  notes: string[];
  duration_ms: number;
}

export type DemoEvent =
  | { type: 'demo-start'; name: DemoName; title: string; intro: string }
  | { type: 'note'; text: string }
  | { type: 'step-start'; kind: DemoStep['kind']; title: string; plan: string }
  | { type: 'step-done'; step: DemoStep }
  | { type: 'setting-changed'; name: string; from: string; to: string }
  | { type: 'setting-restored'; name: string; value: string; restored: boolean };

export interface DemoOptions {
  /** The caller's uid: demos that change kernel settings pick a variant without root. */
  uid: number | undefined;
  onEvent?: (event: DemoEvent) => void;
  /** Demo-specific sizes; each demo documents its own defaults. */
  connections?: number;
  /** ports: `full-range` keeps ip_local_port_range as it is (no root needed, slower). */
  variant?: string;
  /** Root of /proc for readings (tests); writes always go to the live host. */
  procRoot?: string;
  /** Test hook: called after each step; throwing there aborts the demo midway. */
  afterStep?: (step: DemoStep) => void;
}

/** What a demo module exports. */
export interface DemoDefinition {
  name: DemoName;
  title: string;
  summary: string;
  /** True when the default variant writes a kernel setting (needs root). */
  changesSettings: boolean;
  run(context: DemoContext): Promise<DemoBody>;
}

/** What a demo's own code returns; run-demo adds the bookkeeping. */
export interface DemoBody {
  variant: string;
  lift: string[];
  details: Record<string, unknown>;
}

/** What run-demo hands each demo: events, steps, settings, cleanup and host readings. */
export interface DemoContext {
  readonly options: DemoOptions;
  /** A fresh snapshot of the host, read now (after any setting the demo changed). */
  host(): HostSnapshot;
  emit(event: DemoEvent): void;
  note(text: string): void;
  /** Runs one step: announces it, runs `body`, records and announces the result. */
  step(kind: DemoStep['kind'], title: string, plan: string, body: () => Promise<StepObservation>): Promise<DemoStep>;
  /** Changes a sysctl for the rest of the demo; restored at the end, on error and on signals. */
  setSysctl(name: string, value: string): void;
  /** A synchronous last-resort cleanup (end processes by PID) for when a signal arrives. */
  onAbort(destroy: () => void): () => void;
}

export interface StepObservation {
  predicted: Outcome;
  observed: Outcome;
  because: string;
  tolerance?: string;
  /** Defaults to deep equality of predicted and observed. */
  matches?: boolean;
  evidence?: string[];
}
