import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { exposedSeriesNames, METRICS } from '../../src/metrics/names.ts';

interface Panel { id: number; title: string; targets: { expr: string }[]; gridPos: object }
interface Variable { name: string; query: { query: string } }
const dashboard = JSON.parse(readFileSync(new URL('../../deploy/grafana/connlab-dashboard.json', import.meta.url), 'utf8')) as { panels: Panel[]; templating: { list: Variable[] } };
const exprs = dashboard.panels.flatMap((p) => p.targets.map((t) => t.expr));

describe('the Grafana dashboard', () => {
  it('queries only metric names connlab exposes', () => {
    const names = new Set(exposedSeriesNames());
    const used = exprs.flatMap((e) => e.match(/connlab_[a-z_]+/g) ?? []);
    assert.ok(used.length >= 10);
    for (const name of used) assert.ok(names.has(name), `${name} is not in src/metrics/names.ts`);
  });

  it('groups and filters only by labels those metrics carry', () => {
    // namespace: the target label Prometheus' kubernetes-pods job attaches (the run variable).
    const labels = new Set(['role', 'shard', 'le', 'namespace', ...Object.values(METRICS).flatMap((m) => m.labels)]);
    for (const e of exprs) {
      for (const [, list] of e.matchAll(/by \(([^)]*)\)/g)) for (const l of (list ?? '').split(',')) assert.ok(labels.has(l.trim()), `${l} in ${e}`);
      for (const [, l] of e.matchAll(/[{,]([a-z_]+)=/g)) assert.ok(labels.has(l ?? ''), `${l} in ${e}`);
    }
  });

  it('has the panels the runbook names, each with a place on the grid', () => {
    const titles = dashboard.panels.map((p) => p.title);
    for (const t of ['Connections by shard', 'Connect rate', 'Errors by limit', 'Ping round trip percentiles', 'Server memory per connection']) assert.ok(titles.includes(t), t);
    assert.equal(new Set(dashboard.panels.map((p) => p.id)).size, dashboard.panels.length);
    for (const p of dashboard.panels) assert.ok(p.gridPos, p.title);
  });

  it('tells runs apart: a run variable, and every series filtered by it', () => {
    const run = dashboard.templating.list.find((v) => v.name === 'run');
    assert.ok(run, 'no run variable');
    assert.match(run.query.query, /^label_values\(connlab_[a-z_]+, namespace\)$/);
    for (const e of exprs) {
      for (const [selector] of e.matchAll(/connlab_[a-z_]+(\{[^}]*\})?/g)) assert.match(selector, /\{namespace=~"\$run"/, `${selector} in ${e}`);
    }
  });
});
