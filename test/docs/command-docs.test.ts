// Each command's manual page cannot drift from its --help: the page's "Every flag" block
// is the help text (regenerate with `node scripts/command-docs.ts`), and every flag the
// page's prose names must be one some command really takes.

import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { COMMANDS } from '../../src/cli/main.ts';
import { METRICS } from '../../src/metrics/names.ts';
import { COMMAND_NAMES, DOCS_DIR, flagsIn, helpBlock, pageHelpBlock } from '../../scripts/command-docs.ts';

const page = (name: string): string => readFileSync(new URL(`${name}.md`, DOCS_DIR), 'utf8');
/** Flags of other tools the pages quote, named with their tool. */
const FOREIGN_FLAGS = new Set([
  '--allowed-unsafe-sysctls', // kubelet
]);
const allFlags = new Set(['--help', '--version', ...FOREIGN_FLAGS, ...Object.values(COMMANDS).flatMap((c) => [...flagsIn(c.help)])]);

describe('docs/commands/ against --help', () => {
  for (const name of COMMAND_NAMES) {
    it(`${name}.md carries \`connlab ${name} --help\` as it is now`, () => {
      assert.ok(existsSync(new URL(`${name}.md`, DOCS_DIR)), `docs/commands/${name}.md is missing`);
      const block = pageHelpBlock(page(name), name);
      assert.ok(block, `docs/commands/${name}.md has no <!-- help:${name} --> block`);
      assert.equal(block, helpBlock(name), `docs/commands/${name}.md is out of date: run node scripts/command-docs.ts`);
    });

    it(`every flag of ${name} is on its page, and every flag on its page exists`, () => {
      const text = page(name);
      const own = flagsIn(COMMANDS[name]?.help ?? '');
      for (const flag of own) assert.ok(flagsIn(text).has(flag), `${flag} of ${name} is not in docs/commands/${name}.md`);
      const prose = text.replace(pageHelpBlock(text, name) ?? '', '');
      const unknown = [...flagsIn(prose)].filter((flag) => !allFlags.has(flag));
      assert.deepEqual(unknown, [], `docs/commands/${name}.md names flags no command takes`);
    });
  }

  it('the metrics page names only flags that exist', () => {
    const unknown = [...flagsIn(page('metrics'))].filter((flag) => !allFlags.has(flag));
    assert.deepEqual(unknown, []);
  });

  it('the metrics page lists every Prometheus series connlab exposes, and no other', () => {
    const rows = page('metrics').split('\n').filter((line) => line.startsWith('| `connlab_'));
    const documented = new Set(rows.flatMap((row) => [...(row.split(' | ')[0] ?? '').matchAll(/`(connlab_\w+)`/g)].map((m) => m[1])));
    const real = new Set(Object.values(METRICS).map((m) => m.name));
    assert.deepEqual([...real].filter((name) => !documented.has(name)), [], 'series missing from docs/commands/metrics.md');
    assert.deepEqual([...documented].filter((name) => name !== undefined && !real.has(name)), [], 'documented series that do not exist');
  });
});
