// Which file a worker process runs. Workers prefer the JavaScript copy in lib/ (built by
// `npm run build`, at install and before tests): under type stripping every process
// pays ~11.7 MB of private memory for the stripper, which at a hundred workers is more
// than all the connections cost. A lib/ copy older than its source is never used: the
// TypeScript entry runs instead, correct if heavier.

import { readdirSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const HERE = fileURLToPath(new URL('.', import.meta.url));
const ROOT = join(HERE, '..', '..');

export interface WorkerEntry {
  path: string;
  kind: 'js' | 'ts';
  /** Why the TypeScript entry was chosen, when it was. */
  reason?: string;
}

function jsFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((d) =>
    d.isDirectory() ? jsFiles(join(dir, d.name)) : d.name.endsWith('.js') ? [join(dir, d.name)] : [],
  );
}

/** The stale lib/ file, if any: one whose source is newer or gone. */
export function staleLibFile(root = ROOT): string | undefined {
  const lib = join(root, 'lib');
  for (const js of jsFiles(lib)) {
    const ts = join(root, 'src', relative(lib, js)).replace(/\.js$/, '.ts');
    try {
      if (statSync(ts).mtimeMs > statSync(js).mtimeMs) return relative(root, js);
    } catch {
      return relative(root, js);
    }
  }
  return undefined;
}

export function resolveWorkerEntry(root = ROOT): WorkerEntry {
  // Already running from lib/: the sibling is the JavaScript worker.
  if (import.meta.url.endsWith('.js')) return { path: join(HERE, 'worker.js'), kind: 'js' };
  const js = join(root, 'lib', 'engine', 'worker.js');
  const ts = join(root, 'src', 'engine', 'worker.ts');
  try {
    statSync(js);
  } catch {
    return { path: ts, kind: 'ts', reason: 'lib/ is not built (npm run build)' };
  }
  const stale = staleLibFile(root);
  return stale ? { path: ts, kind: 'ts', reason: `${stale} is older than its source (npm run build)` } : { path: js, kind: 'js' };
}
