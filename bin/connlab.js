#!/usr/bin/env node
// The published entry point. It stays plain JavaScript so that an older Node can still
// say what is wrong instead of failing to parse. The installed package runs the compiled
// lib/ (Node refuses to strip types under node_modules, and the package ships no src/);
// a checkout, where src/ exists, runs the TypeScript directly when this Node strips types.
import { existsSync } from 'node:fs';

const [major] = process.versions.node.split('.').map(Number);
if (major < 22) {
  process.stderr.write(
    `connlab: needs Node.js 22 or newer, this is ${process.version}. ` +
      'In a checkout, run it through npm so the pinned Node is used: `npm install && npx connlab …`.\n',
  );
  process.exit(2);
}
const source = new URL('../src/cli/main.ts', import.meta.url);
const compiled = new URL('../lib/cli/main.js', import.meta.url);
const fromSource = existsSync(source) && Boolean(process.features.typescript);
if (!fromSource && !existsSync(compiled)) {
  process.stderr.write('connlab: lib/ is not built and this Node cannot run the TypeScript source: run `npm run build`.\n');
  process.exit(2);
}
const { main } = await import(fromSource ? source.href : compiled.href);
process.exitCode = await main(process.argv.slice(2));
