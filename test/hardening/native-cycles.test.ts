// The native core has no cycles: no file in native/ calls (or refers to) a file that
// calls it back, directly or around a loop, and no file includes a header whose source
// calls it back. Upward calls go through tables of operations (holder.h: io_ops,
// proto_ops, tls_ops), which leave no symbol behind. The edges are read from the
// objects node-gyp built (`nm`: what each one defines and what it needs), so they are
// the linker's truth, not a guess from the text; includes are read from the text. The
// checker is shown to find a planted two-file cycle.

import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, it } from 'node:test';

const ROOT = new URL('../../', import.meta.url).pathname;
const OBJECTS = path.join(ROOT, 'build', 'Release', 'obj.target');
/** Test drivers, built only by tests (never linked into the addon or the worker). */
const TEST_ONLY = new Set(['native/worker/fuzz.c', 'native/worker/hdr-check.c', 'native/test-binding.c']);

type Graph = Map<string, Set<string>>;

function addEdge(graph: Graph, from: string, to: string): void {
  if (from === to) return;
  if (!graph.has(from)) graph.set(from, new Set());
  graph.get(from)?.add(to);
}

/** Objects by source file: `nm` of each, its defined and its undefined global symbols. */
function symbolsOf(objects: readonly { source: string; object: string }[]): { defines: Map<string, string>; needs: Map<string, Set<string>> } {
  const defines = new Map<string, string>();
  const needs = new Map<string, Set<string>>();
  for (const { source, object } of objects) {
    for (const line of execFileSync('nm', ['-g', object], { encoding: 'utf8' }).split('\n')) {
      const m = /^\s*(?:[0-9a-f]+)?\s+([A-Za-z])\s+(\S+)$/.exec(line);
      if (!m) continue;
      const [, kind, name] = m as unknown as [string, string, string];
      if (kind === 'U') (needs.get(source) ?? needs.set(source, new Set()).get(source))?.add(name);
      else defines.set(name, source);
    }
  }
  return { defines, needs };
}

/** A cycle of the graph as a path that ends where it starts, or undefined (DFS, three colours). */
function findCycle(graph: Graph): string[] | undefined {
  const state = new Map<string, 'open' | 'done'>();
  const stack: string[] = [];
  const visit = (node: string): string[] | undefined => {
    state.set(node, 'open');
    stack.push(node);
    for (const next of [...(graph.get(node) ?? [])].sort()) {
      if (state.get(next) === 'open') return [...stack.slice(stack.indexOf(next)), next];
      if (!state.has(next)) {
        const found = visit(next);
        if (found) return found;
      }
    }
    stack.pop();
    state.set(node, 'done');
    return undefined;
  };
  for (const node of [...graph.keys()].sort()) {
    if (!state.has(node)) {
      const found = visit(node);
      if (found) return found;
    }
  }
  return undefined;
}

/** Calls and references between source files, from their objects. */
function callGraph(objects: readonly { source: string; object: string }[]): Graph {
  const { defines, needs } = symbolsOf(objects);
  const graph: Graph = new Map();
  for (const [source, names] of needs) {
    for (const name of names) {
      const target = defines.get(name);
      if (target) addEdge(graph, source, target);
    }
  }
  return graph;
}

function walk(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? walk(path.join(dir, e.name)) : [path.join(dir, e.name)]));
}

/** `#include "x.h"` as an edge to x.c where that exists (a header and its source are one
 * node: x.c including x.h is no cycle), else to x.h. */
function node(file: string): string {
  const source = file.replace(/\.h$/, '.c');
  return existsSync(path.join(ROOT, source)) ? source : file;
}

function includeGraph(files: readonly string[]): Graph {
  const graph: Graph = new Map();
  for (const file of files) {
    for (const m of readFileSync(path.join(ROOT, file), 'utf8').matchAll(/^#include "([^"]+)"/gm)) {
      addEdge(graph, node(file), node(path.normalize(path.join(path.dirname(file), m[1] as string))));
    }
  }
  return graph;
}

function merged(...graphs: Graph[]): Graph {
  const out: Graph = new Map();
  for (const g of graphs) for (const [from, tos] of g) for (const to of tos) addEdge(out, from, to);
  return out;
}

const nativeSources = (): string[] =>
  walk(path.join(ROOT, 'native')).map((f) => path.relative(ROOT, f)).filter((f) => !f.startsWith('native/fuzz/'));

function builtObjects(): { source: string; object: string }[] {
  const objects = walk(OBJECTS).filter((f) => f.endsWith('.o'));
  return objects.map((object) => ({ object, source: path.relative(path.join(OBJECTS, path.relative(OBJECTS, object).split(path.sep)[0] as string), object).replace(/\.o$/, '.c') }));
}

describe('the native core', () => {
  it('is built from every production source in native/ (so the check below sees all of them)', () => {
    const built = new Set(builtObjects().map((o) => o.source));
    const sources = nativeSources().filter((f) => f.endsWith('.c') && !TEST_ONLY.has(f));
    assert.deepEqual(sources.filter((f) => !built.has(f)), [], 'run npm run build:native');
  });

  it('has no file that calls or refers to a file that calls it back, nor includes one', () => {
    const graph = merged(callGraph(builtObjects()), includeGraph(nativeSources()));
    assert.equal(findCycle(graph)?.join(' -> '), undefined);
    // The layers holder.h states: the loop calls nothing of the connection layer by
    // name, and the connection layer names no protocol.
    const calls = callGraph(builtObjects());
    assert.deepEqual([...(calls.get('native/loop.c') ?? [])].sort(), ['native/clock.c', 'native/stats.c']);
    assert.deepEqual([...(calls.get('native/conn.c') ?? [])].sort(), ['native/clock.c', 'native/loop.c', 'native/stats.c']);
  });

  it('finds a planted cycle: two files calling each other', () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'connlab-engine-cycles-'));
    try {
      writeFileSync(path.join(dir, 'a.c'), 'int b(int);\nint a(int x) { return x ? b(x - 1) : 0; }\n');
      writeFileSync(path.join(dir, 'b.c'), 'int a(int);\nint b(int x) { return x ? a(x - 1) : 1; }\n');
      writeFileSync(path.join(dir, 'c.c'), 'int a(int);\nint c(void) { return a(3); }\n');
      const objects = ['a', 'b', 'c'].map((n) => {
        execFileSync('cc', ['-c', '-o', path.join(dir, `${n}.o`), path.join(dir, `${n}.c`)]);
        return { source: `${n}.c`, object: path.join(dir, `${n}.o`) };
      });
      assert.deepEqual(findCycle(callGraph(objects)), ['a.c', 'b.c', 'a.c']);
      assert.equal(findCycle(callGraph(objects.filter((o) => o.source !== 'b.c'))), undefined);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
