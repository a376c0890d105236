// The bench's text report (src/cli/render/bench-text.ts): the processes row names
// SO_REUSEPORT's spread when there is one to name.

import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import type { BenchResult } from '../../src/bench/result.ts';
import { renderBenchText } from '../../src/cli/render/bench-text.ts';

const fixture = JSON.parse(readFileSync(new URL('../fixtures/bench-result.json', import.meta.url), 'utf8')) as BenchResult;
const processesRow = (r: BenchResult): string => renderBenchText(r, undefined).split('\n').find((line) => line.startsWith('processes')) ?? '';

describe('bench text: the processes row', () => {
  it('shows the fewest and most one serve worker held', () => {
    const r = { ...fixture, processes: { server: 6, load: 6, server_held: { min: 16_410, max: 16_902 } } };
    assert.match(processesRow(r), /6 serve \+ 6 load workers \(a serve worker held 16,410-16,902\)/);
  });

  it('says nothing of a spread with one serve worker or without the field', () => {
    assert.doesNotMatch(processesRow({ ...fixture, processes: { server: 1, load: 1, server_held: { min: 15_000, max: 15_000 } } }), /held/);
    assert.doesNotMatch(processesRow(fixture), /held/);
  });
});
