// Runs one demo: gives it a context (events, steps, a settings guard, host readings),
// times it, and turns what it did into a DemoResult. Whatever happens in the demo —
// an error, a signal — the settings guard restores every setting before this returns
// or the process dies; `restored` is read back, not assumed.

import { isDeepStrictEqual } from 'node:util';
import { createHostReader } from '../limits/host-reader.ts';
import { readHostSnapshot, type HostSnapshot } from '../limits/snapshot.ts';
import { SettingsGuard } from './settings.ts';
import {
  DEMO_SCHEMA,
  type DemoContext,
  type DemoDefinition,
  type DemoEvent,
  type DemoOptions,
  type DemoResult,
  type DemoStep,
  type StepObservation,
} from './types.ts';

class Context implements DemoContext {
  readonly options: DemoOptions;
  readonly guard: SettingsGuard;
  readonly steps: DemoStep[] = [];
  readonly notes: string[] = [];

  constructor(options: DemoOptions) {
    this.options = options;
    this.guard = new SettingsGuard({
      onChange: (name, from, to) => this.emit({ type: 'setting-changed', name, from, to }),
      onRestore: (r) => this.emit({ type: 'setting-restored', name: r.name, value: r.after ?? '', restored: r.restored }),
    }).arm();
  }

  host(): HostSnapshot {
    return readHostSnapshot(createHostReader(this.options.procRoot ?? '/'));
  }

  emit(event: DemoEvent): void {
    this.options.onEvent?.(event);
  }

  note(text: string): void {
    this.notes.push(text);
    this.emit({ type: 'note', text });
  }

  async step(kind: DemoStep['kind'], title: string, plan: string, body: () => Promise<StepObservation>): Promise<DemoStep> {
    this.emit({ type: 'step-start', kind, title, plan });
    const started = performance.now();
    const o = await body();
    const step: DemoStep = {
      kind,
      title,
      plan,
      predicted: o.predicted,
      observed: o.observed,
      because: o.because,
      ...(o.tolerance === undefined ? {} : { tolerance: o.tolerance }),
      matches: o.matches ?? isDeepStrictEqual(o.predicted, o.observed),
      evidence: o.evidence ?? [],
      duration_ms: Math.round(performance.now() - started),
    };
    this.steps.push(step);
    this.emit({ type: 'step-done', step });
    this.options.afterStep?.(step);
    return step;
  }

  setSysctl(name: string, value: string): void {
    this.guard.set(name, value);
  }

  onAbort(destroy: () => void): () => void {
    return this.guard.onAbort(destroy);
  }
}

export async function runDemo(definition: DemoDefinition, options: DemoOptions): Promise<DemoResult> {
  const context = new Context(options);
  const started = performance.now();
  context.emit({ type: 'demo-start', name: definition.name, title: definition.title, intro: definition.summary });
  let body;
  try {
    body = await definition.run(context);
  } finally {
    context.guard.restore();
  }
  // A demo's first step is its headline: the predicted/observed pair.
  const limitStep = context.steps[0];
  return {
    schema: DEMO_SCHEMA,
    name: definition.name,
    title: definition.title,
    variant: body.variant,
    predicted: limitStep?.predicted ?? { error: null, connections: 0 },
    observed: limitStep?.observed ?? { error: null, connections: 0 },
    matches: context.steps.length > 0 && context.steps.every((s) => s.matches),
    restored: context.guard.restored,
    settings: context.guard.records(),
    steps: context.steps,
    lift: body.lift,
    details: body.details,
    notes: context.notes,
    duration_ms: Math.round(performance.now() - started),
  };
}
