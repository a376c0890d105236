// The dashboard fed by other processes' metrics: scrapes connlab's /metrics endpoints
// (shards on other hosts, a serve elsewhere) once a second and turns them into the same
// rows and timeline points a local run gives, so the same page shows one row per shard.
// Only connlab's own series are read; only the URLs the user names are fetched.

import type { TimelinePoint } from '../bench/result.ts';
import { METRICS } from '../metrics/names.ts';
import type { ErrorRow, SourceRow } from './sampler.ts';

export interface Series {
  name: string;
  labels: Record<string, string>;
  value: number;
}

/** Prometheus text exposition, the sample lines only (`name{a="b"} 1.5`); comments skipped. */
export function parsePrometheusText(text: string): Series[] {
  const out: Series[] = [];
  for (const line of text.split('\n')) {
    const match = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+(\S+)/.exec(line);
    if (!match || line.startsWith('#')) continue;
    const labels: Record<string, string> = {};
    for (const [, key, value] of (match[2] ?? '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)) {
      labels[key ?? ''] = (value ?? '').replace(/\\(.)/g, (_, c: string) => (c === 'n' ? '\n' : c));
    }
    out.push({ name: match[1] ?? '', labels, value: Number(match[3]) });
  }
  return out;
}

const keyOf = (labels: Record<string, string>): string => `${labels['role'] ?? ''}\u0000${labels['shard'] ?? ''}`;

export class ScrapeSampler {
  readonly #urls: readonly string[];
  readonly #t0 = performance.now();
  /** The wall clock at t = 0, ms since the epoch. */
  readonly startedAtMs = performance.timeOrigin + this.#t0;
  /** Remote hosts' kernels are not visible from here. */
  readonly kernel = false;
  #series: Series[] = [];
  #previousLoad: number | undefined;

  constructor(urls: readonly string[]) {
    this.#urls = urls;
  }

  /** Fetches every endpoint; one that does not answer contributes nothing this second. */
  async #scrape(): Promise<void> {
    const texts = await Promise.all(this.#urls.map((url) =>
      fetch(url, { signal: AbortSignal.timeout(900) }).then((r) => r.text()).catch(() => '')));
    this.#series = texts.flatMap(parsePrometheusText);
  }

  #sum(name: string, where: (labels: Record<string, string>) => boolean = () => true): number {
    return this.#series.filter((s) => s.name === name && where(s.labels)).reduce((sum, s) => sum + s.value, 0);
  }

  rows(): SourceRow[] {
    const keys = [...new Set(this.#series.filter((s) => s.name === METRICS.connections.name).map((s) => keyOf(s.labels)))].sort();
    return keys.map((key) => {
      const [role = '', shard = ''] = key.split('\u0000');
      const mine = (labels: Record<string, string>): boolean => keyOf(labels) === key;
      return {
        role, shard: shard || null, target: null,
        connections: this.#sum(METRICS.connections.name, mine),
        verified: this.#sum(METRICS.connectionsVerified.name, mine),
        connected: this.#sum(METRICS.connects.name, mine) + this.#sum(METRICS.accepted.name, mine),
        private_bytes: this.#sum(METRICS.privateBytes.name, mine),
      };
    });
  }

  errors(): ErrorRow[] {
    const counts = new Map<string, ErrorRow>();
    for (const s of this.#series.filter((x) => x.name === METRICS.errors.name)) {
      const errno = s.labels['errno'] ?? '';
      const row = counts.get(errno) ?? { errno, limit: s.labels['limit'] ?? 'unknown', count: 0 };
      row.count += s.value;
      counts.set(errno, row);
    }
    return [...counts.values()].filter((r) => r.count > 0).sort((a, b) => b.count - a.count);
  }

  async sample(): Promise<TimelinePoint> {
    await this.#scrape();
    const role = (r: string) => (labels: Record<string, string>): boolean => labels['role'] === r;
    const load = this.#sum(METRICS.connections.name, role('load'));
    // Remote hosts' kernels are not visible from here: kernel figures stay 0.
    const phase = this.#previousLoad !== undefined && load > this.#previousLoad ? 'ramp' : 'hold';
    this.#previousLoad = load;
    return {
      t: Math.round(performance.now() - this.#t0) / 1000, phase,
      kernel_sockets: 0, server_connections: this.#sum(METRICS.connections.name, role('server')), load_connections: load,
      slab_bytes: {}, meminfo_slab_bytes: 0, mem_available_bytes: 0,
      server_private_bytes: this.#sum(METRICS.privateBytes.name, role('server')), load_private_bytes: this.#sum(METRICS.privateBytes.name, role('load')),
      server_heap_bytes: 0, load_heap_bytes: 0, cpu_busy: 0, netstat: {},
    };
  }
}
