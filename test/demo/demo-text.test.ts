import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { describeOutcome, renderDemoEvent, renderDemoResult, renderDemoSummary } from '../../src/cli/render/demo-text.ts';
import type { DemoResult, DemoStep } from '../../src/demo/types.ts';

const step: DemoStep = {
  kind: 'limit',
  title: 'one source IP, one destination',
  plan: 'narrow the range, then connect until connect() fails',
  predicted: { error: 'EADDRNOTAVAIL', connections: 1000 },
  observed: { error: 'EADDRNOTAVAIL', connections: 1000 },
  because: 'doctor: ephemeral_ports allows 1,000',
  matches: true,
  evidence: ['established 1,000; errors EADDRNOTAVAIL × 50'],
  duration_ms: 300,
};

const result: DemoResult = {
  schema: 'connlab.demo/1', name: 'ports', title: 'Ephemeral ports', variant: 'narrowed',
  predicted: step.predicted, observed: step.observed, matches: true, restored: true,
  settings: [{ name: 'net.ipv4.ip_local_port_range', from: '32768 60999', to: '61000 61999', after: '32768 60999', restored: true }],
  steps: [step], lift: ['use more source IPs'], details: {}, notes: [], duration_ms: 1100,
};

describe('demo text', () => {
  it('says an outcome as the error and the connections, or that there was none', () => {
    assert.equal(describeOutcome({ error: 'EMFILE', connections: 274 }), 'EMFILE with 274 connections');
    assert.equal(describeOutcome({ error: null, connections: 70_000 }), '70,000 connections, no error');
  });

  it('announces a step before it runs and puts the prediction beside the observation after', () => {
    assert.match(renderDemoEvent({ type: 'step-start', kind: 'limit', title: step.title, plan: step.plan }), /about to: {2}narrow the range/);
    const done = renderDemoEvent({ type: 'step-done', step });
    assert.match(done, /predicted: EADDRNOTAVAIL with 1,000 connections\n {4}observed: {2}EADDRNOTAVAIL with 1,000 connections {2}✓ matches/);
    assert.match(renderDemoEvent({ type: 'step-done', step: { ...step, matches: false } }), /DOES NOT MATCH/);
  });

  it('shows settings changed and restored, and the lift and verdict at the end', () => {
    assert.match(renderDemoEvent({ type: 'setting-changed', name: 'net.ipv4.ip_local_port_range', from: '32768 60999', to: '61000 61999' }), /32768 60999 → 61000 61999/);
    const text = renderDemoResult(result);
    assert.match(text, /How to lift it:\n {2}- use more source IPs/);
    assert.match(text, /ports: every observation matched its prediction; every changed setting restored/);
  });

  it('ends demo all with one row per demo', () => {
    const text = renderDemoSummary([result, { ...result, name: 'udp', matches: false, restored: false }], 12_000);
    assert.match(text, /^ports\s+EADDRNOTAVAIL with 1,000 connections\s+EADDRNOTAVAIL with 1,000 connections\s+yes\s+yes\s+1\.1 s$/m);
    assert.match(text, /^udp\s+.*\s+NO\s+NO\s+1\.1 s$/m);
    assert.match(text, /2 demo\(s\) in 12\.0 s/);
  });
});
