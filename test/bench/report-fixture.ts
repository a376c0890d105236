// The bench-result fixture and the two ways the report tests read a page: the
// `data-field` elements it marks, and the value at a dotted path of the JSON.

import { readFileSync } from 'node:fs';
import type { BenchResult } from '../../src/bench/result.ts';

export const FIXTURE_PATH = new URL('../fixtures/bench-result.json', import.meta.url).pathname;

/** The series each chart must draw, by `data-chart` then `data-series`, in legend order. */
export const CHART_SERIES: Record<string, string[]> = {
  connections: ['kernel_sockets', 'server_connections', 'load_connections'],
  kernel_memory: ['slab_bytes', 'meminfo_slab_bytes', 'kernel_bytes_per_connection'],
  process_memory: ['server_private_bytes', 'load_private_bytes', 'server_bytes_per_connection', 'load_bytes_per_connection'],
  ramp: ['connects_per_second', 'cpu_busy'],
  latency: ['connect_p50_ms', 'connect_p99_ms', 'rtt_p50_ms', 'rtt_p99_ms', 'broadcast_p50_ms', 'broadcast_p99_ms'],
};

/**
 * Series measured only part of the time: per-connection figures are gaps until enough
 * connections are held, latency only where samples arrived. The rest is one unbroken line.
 */
export const SPARSE_SERIES = new Set(['kernel_bytes_per_connection', 'server_bytes_per_connection', 'load_bytes_per_connection', ...(CHART_SERIES['latency'] ?? [])]);

/** A fresh copy each call, so a test may change it. */
export function loadBenchFixture(): BenchResult {
  return JSON.parse(readFileSync(FIXTURE_PATH, 'utf8')) as BenchResult;
}

/** The value at `a.b.0.c`, or undefined when any step is missing. */
export function valueAt(root: unknown, path: string): unknown {
  let node: unknown = root;
  for (const key of path.split('.')) {
    if (node === null || typeof node !== 'object' || !Object.hasOwn(node, key)) return undefined;
    node = (node as Record<string, unknown>)[key];
  }
  return node;
}

export interface MarkedField {
  path: string;
  text: string;
}

const ENTITIES: Record<string, string> = { '&amp;': '&', '&lt;': '<', '&gt;': '>', '&quot;': '"', '&#39;': "'" };
const unescape = (html: string): string => html.replace(/&(amp|lt|gt|quot|#39);/g, (e) => ENTITIES[e] ?? e);

/** Every element carrying `data-field`, with its text, in page order (text-only elements). */
export function markedFields(html: string): MarkedField[] {
  const pattern = /<(\w+)\b[^>]*\bdata-field="([^"]*)"[^>]*>([^<]*)<\/\1>/g;
  return [...html.matchAll(pattern)].map((m) => ({ path: unescape(m[2] ?? ''), text: unescape(m[3] ?? '') }));
}
