// The README may only quote what the code and bench/results back:
// - every `--flag` it names is one a connlab command takes, and `connlab X … --flag`
//   is one X takes;
// - a figure links to the result file it comes from, with the JSON path as the link's
//   title: [42 B](bench/results/bench-100k-….json "memory.server_user_bytes_per_connection");
//   the number must match that value (as shown, rounded);
// - a measured figure (bytes, KB, MB, ms, connects/s) in prose without such a link fails;
// - a block after `<!-- output: connlab bench; result: FILE; report: PATH -->` must be
//   exactly what connlab prints for that result.

import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import type { BenchResult } from '../../src/bench/result.ts';
import { COMMANDS } from '../../src/cli/main.ts';
import { renderBenchText } from '../../src/cli/render/bench-text.ts';
import { flagsIn } from '../../scripts/command-docs.ts';

const ROOT = new URL('../../', import.meta.url);
const readme = readFileSync(new URL('README.md', ROOT), 'utf8');
const json = (file: string): unknown => JSON.parse(readFileSync(new URL(file, ROOT), 'utf8'));

/** The README without fenced blocks (prose, tables, inline code). */
const prose = readme.replace(/^```[\s\S]*?^```$/gm, '');

/** A JSON value by dotted path (`memory.kernel_by_cache.TCP`). */
export function valueAt(value: unknown, path: string): unknown {
  return path.split('.').reduce<unknown>((v, key) => (v !== null && typeof v === 'object' ? (v as Record<string, unknown>)[key] : undefined), value);
}

const SCALE: Record<string, number> = { '': 1, k: 1e3, K: 1e3, KB: 1e3, M: 1e6, MB: 1e6, GB: 1e9, KiB: 1024, MiB: 1024 ** 2, GiB: 1024 ** 3 };

/** Whether `shown` ("8,324 B", "1.63 s", "22,683") is `actual`, rounded as shown. */
export function showsValue(shown: string, actual: number): boolean {
  const m = shown.replace(/,/g, '').match(/(-?\d+(?:\.(\d+))?)\s*(KiB|MiB|GiB|KB|MB|GB|k|K|M)?/);
  if (!m) return false;
  const scale = SCALE[m[3] ?? ''] ?? 1;
  const decimals = m[2]?.length ?? 0;
  const halfStep = (0.5 * scale) / 10 ** decimals;
  return Math.abs(Number(m[1]) * scale - actual) <= halfStep;
}

describe('README flags', () => {
  const helps = Object.fromEntries(Object.entries(COMMANDS).map(([name, c]) => [name, flagsIn(c.help)]));
  const known = new Set(['--help', '--version', ...Object.values(helps).flatMap((f) => [...f])]);

  it('names only flags that some connlab command takes', () => {
    assert.deepEqual([...flagsIn(readme)].filter((flag) => !known.has(flag)), []);
  });

  it('gives each command only its own flags', () => {
    // `connlab X …` up to the end of the line, a pipe, a `#` comment or a closing backtick.
    const uses = [...readme.matchAll(/connlab (\w+)([^\n|#`]*)/g)];
    assert.ok(uses.length > 10);
    for (const [, name = '', rest = ''] of uses) {
      const own = helps[name];
      if (!own) continue; // "connlab runs …" in prose
      for (const flag of flagsIn(rest)) assert.ok(own.has(flag) || flag === '--help', `connlab ${name} has no ${flag}`);
    }
  });

  it('keeps npm test on the first screen', () => {
    assert.ok(readme.split('\n').slice(0, 12).some((line) => line.startsWith('npm test')));
    assert.ok(readme.split('\n').length <= 350, 'the README is a front door: 350 lines at most');
  });
});

describe('README figures', () => {
  const links = [...readme.matchAll(/\[([^\]]+)\]\((bench\/results\/[^ )]+\.json) "([^"]+)"\)/g)];

  it('link to the result file they come from, and match it', () => {
    assert.ok(links.length >= 4);
    for (const [, shown = '', file = '', path = ''] of links) {
      assert.ok(existsSync(new URL(file, ROOT)), `${file} does not exist`);
      const actual = valueAt(json(file), path);
      assert.equal(typeof actual, 'number', `${file} has no number at ${path}`);
      assert.ok(showsValue(shown, actual as number), `"${shown}" is not ${path} = ${actual} in ${file}`);
    }
  });

  it('are never quoted in prose without that link', () => {
    const untagged = prose.replace(/\[[^\]]+\]\(bench\/results\/[^)]+\)/g, '')
      .match(/(?<![\w.])\d[\d,]*(?:\.\d+)?\s?(?:B|KB|MB|ms|connects\/s)(?![\w/])/g) ?? [];
    assert.deepEqual(untagged, [], 'tag each figure with its result file: [42 B](bench/results/X.json "memory.path")');
  });

  it('name only result files that exist', () => {
    for (const [file] of readme.matchAll(/bench\/results\/[\w.-]+\.json/g)) assert.ok(existsSync(new URL(file, ROOT)), file);
  });

  it('show the output connlab prints for the result they cite', () => {
    const blocks = [...readme.matchAll(/<!-- output: connlab bench; result: (\S+); report: (\S+) -->\n```\n([\s\S]*?)```/g)];
    assert.ok(blocks.length >= 1, 'the annotated npm start run is missing');
    for (const [, file = '', report = '', block = ''] of blocks) {
      const shown = block.split('\n').filter((line, i) => !(i === 0 && line.startsWith('$ '))).join('\n');
      assert.equal(shown, renderBenchText(json(file) as BenchResult, report));
    }
  });
});

describe('the figure checker', () => {
  it('accepts a rounded figure and refuses a wrong one', () => {
    assert.ok(showsValue('8,324 B', 8324));
    assert.ok(showsValue('1.63', 1.6302));
    assert.ok(showsValue('2M', 2_000_000));
    assert.ok(!showsValue('8,325 B', 8324));
    assert.ok(!showsValue('1.7', 1.63));
    assert.equal(valueAt({ a: { b: 3 } }, 'a.b'), 3);
  });
});
