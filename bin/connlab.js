#!/usr/bin/env node
// The published entry point. It stays plain JavaScript so that an older system Node
// (20 on our machines) can still say what is wrong instead of failing to parse
// TypeScript; the real CLI lives in src/cli and runs through Node 24's type stripping.
const [major] = process.versions.node.split('.').map(Number);
if (major < 24) {
  process.stderr.write(
    `connlab: needs Node.js 24 or newer, this is ${process.version}. ` +
      'Run it through npm so the pinned Node is used: `npm install && npx connlab …`.\n',
  );
  process.exit(2);
}
const { main } = await import('../src/cli/main.ts');
process.exitCode = await main(process.argv.slice(2));
