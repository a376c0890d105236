// Every relative link in the README and docs/ leads to a file that exists, and every
// #anchor to a heading on that page (GitHub's slugs), so moving text between pages cannot
// leave dead links behind.

import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { basename, dirname, join, normalize } from 'node:path';
import { describe, it } from 'node:test';

const ROOT = new URL('../../', import.meta.url).pathname;
const pages = ['README.md', ...readdirSync(join(ROOT, 'docs')).filter((f) => f.endsWith('.md')).map((f) => `docs/${f}`),
  ...readdirSync(join(ROOT, 'docs/commands')).filter((f) => f.endsWith('.md')).map((f) => `docs/commands/${f}`)];
/** Pages other branches are writing: exempt only while they do not exist. */
const FUTURE = new Set(['supervision.md', 'protocol-edges.md', 'targets.md', 'thresholds.md', 'bench-target-remote.md', 'containers.md', 'architecture.md', 'tls.md']);

const withoutCode = (text: string): string => text.replace(/^ *```[\s\S]*?^ *```$/gm, '').replace(/`[^`\n]*`/g, (code) => (code.includes('](') ? '' : code));
/** GitHub's heading slug: lower case, punctuation dropped, spaces to hyphens. */
export const slug = (heading: string): string => heading.trim().toLowerCase().replace(/[^\p{L}\p{N}_\- ]/gu, '').replace(/ /g, '-');
const anchorsOf = (page: string): Set<string> =>
  new Set([...withoutCode(readFileSync(join(ROOT, page), 'utf8')).matchAll(/^#+ (.*)$/gm)].map((m) => slug(m[1] ?? '')));

describe('links in the README and docs/', () => {
  for (const page of pages) {
    it(`${page}: every relative link and anchor resolves`, () => {
      const text = withoutCode(readFileSync(join(ROOT, page), 'utf8'));
      for (const [, link = ''] of text.matchAll(/\]\(([^) ]+)/g)) {
        if (/^https?:/.test(link)) continue;
        const [path = '', anchor] = link.split('#');
        const target = path === '' ? page : normalize(join(dirname(page), path));
        if (FUTURE.has(basename(target)) && !existsSync(join(ROOT, target))) continue;
        assert.ok(existsSync(join(ROOT, target)), `${page} links to ${link}: no such file`);
        if (anchor && target.endsWith('.md')) assert.ok(anchorsOf(target).has(anchor), `${page} links to ${link}: no such heading`);
      }
    });
  }

  it('slugs headings as GitHub does', () => {
    assert.equal(slug('Sharding: `--shard I/N`, `--shards N`, `--start-at`'), 'sharding---shard-in---shards-n---start-at');
    assert.equal(slug('What `npm start` shows you'), 'what-npm-start-shows-you');
  });
});
