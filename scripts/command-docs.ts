// Keeps each manual page under docs/commands/ in step with its command's `--help`: the
// page's "Every flag" section is the help text itself, between `<!-- help:NAME -->` and
// `<!-- /help:NAME -->`. `node scripts/command-docs.ts` rewrites those blocks from the
// code; test/docs/command-docs.test.ts fails when a page and its --help differ, so a flag
// added to a command without its page (or removed from one) cannot go unnoticed.

import { readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { COMMANDS } from '../src/cli/main.ts';

export const DOCS_DIR = new URL('../docs/commands/', import.meta.url);

/** The commands that have a page, by name. */
export const COMMAND_NAMES = Object.keys(COMMANDS);

const blockPattern = (name: string): RegExp => new RegExp(`<!-- help:${name} -->\\n[\\s\\S]*?<!-- /help:${name} -->`);

/** The Markdown that stands between the markers: the help text as a code block. */
export function helpBlock(name: string): string {
  const help = COMMANDS[name]?.help ?? '';
  return `<!-- help:${name} -->\n\`\`\`\n$ connlab ${name} --help\n${help.trimEnd()}\n\`\`\`\n<!-- /help:${name} -->`;
}

/** The page with its help block rewritten; throws when the page has no markers. */
export function withHelpBlock(page: string, name: string): string {
  if (!blockPattern(name).test(page)) throw new Error(`docs/commands/${name}.md has no <!-- help:${name} --> block`);
  return page.replace(blockPattern(name), () => helpBlock(name));
}

/** The help block as the page has it now, or undefined. */
export function pageHelpBlock(page: string, name: string): string | undefined {
  return page.match(blockPattern(name))?.[0];
}

/** Every `--flag` a help text or page names (long flags only; `-c` is listed beside `--connections`). */
export function flagsIn(text: string): Set<string> {
  return new Set([...text.matchAll(/(?<![\w-])--([a-z][a-z0-9-]*[a-z0-9])/g)].map((m) => `--${m[1]}`));
}

function main(): void {
  for (const name of COMMAND_NAMES) {
    const file = new URL(`${name}.md`, DOCS_DIR);
    const page = readFileSync(file, 'utf8');
    const next = withHelpBlock(page, name);
    if (next !== page) {
      writeFileSync(file, next);
      process.stdout.write(`docs/commands/${name}.md: help block updated\n`);
    }
  }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) main();
