// The dashboard fed by other processes' metrics: scrapes connlab's /metrics endpoints
// (shards on other hosts, a serve elsewhere) once a second and turns them into the same
// rows and timeline points a local run gives, so the same page shows one row per shard.
// Only connlab's own series are read; only the URLs the user names are fetched.

import { get as httpGet, type ClientRequest } from 'node:http';
import { get as httpsGet } from 'node:https';
import type { TimelinePoint } from '../bench/result.ts';
import { METRICS } from '../metrics/names.ts';
import type { ErrorRow, SourceRow } from './sampler.ts';

export interface Series {
  name: string;
  labels: Record<string, string>;
  value: number;
}

/** What one scrape of an endpoint may cost, whatever the endpoint sends. */
export interface ScrapeLimits {
  /** The whole fetch, headers and body (default 900 ms: one a second). */
  timeoutMs: number;
  /** Body bytes read (default 4 MiB: a connlab shard's /metrics is a few KiB). */
  bodyBytes: number;
  /** Sample lines parsed (default 20,000: a shard exposes a few hundred). */
  series: number;
}

export const DEFAULT_SCRAPE_LIMITS: Readonly<ScrapeLimits> = { timeoutMs: 900, bodyBytes: 4 * 1024 * 1024, series: 20_000 };

/** Why an endpoint's scrape was thrown away: its numbers then count nothing this second. */
export type ScrapeCut = 'timeout' | 'body_too_large' | 'too_many_series' | 'unreachable' | 'http_status';

/** The last scrape of one endpoint. */
export interface EndpointStatus {
  url: string;
  /** null: read whole. */
  cut: ScrapeCut | null;
  /** In words, with the limit that cut it. */
  detail: string;
  series: number;
}

const SAMPLE = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+(\S+)/;

/**
 * Prometheus text exposition, the sample lines only (`name{a="b"} 1.5`); comments
 * skipped. Past `maxSeries` sample lines it stops and says so: a huge label set costs
 * a bounded parse, never the event loop.
 */
export function parsePrometheusText(text: string, maxSeries = Number.POSITIVE_INFINITY): Series[] & { cut?: boolean } {
  const out: Series[] & { cut?: boolean } = [];
  let at = 0;
  while (at < text.length) {
    const nl = text.indexOf('\n', at);
    const line = text.slice(at, nl < 0 ? text.length : nl);
    at = nl < 0 ? text.length : nl + 1;
    const match = SAMPLE.exec(line);
    if (!match || line.startsWith('#')) continue;
    if (out.length >= maxSeries) {
      out.cut = true;
      break;
    }
    const labels: Record<string, string> = {};
    for (const [, key, value] of (match[2] ?? '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)) {
      labels[key ?? ''] = (value ?? '').replace(/\\(.)/g, (_, c: string) => (c === 'n' ? '\n' : c));
    }
    out.push({ name: match[1] ?? '', labels, value: Number(match[3]) });
  }
  return out;
}

type Fetched = { status: number; text: string } | { cut: ScrapeCut; detail: string };

/**
 * GET `url` with node:http(s) and no keep-alive agent: nothing lingers after a scrape
 * (a pooled socket would keep the process alive past its end), the body is counted as
 * it arrives and the request destroyed at the first byte past `maxBytes`, and the whole
 * exchange at `timeoutMs`. `inFlight` lets close() destroy it at once.
 */
function fetchCapped(url: string, timeoutMs: number, maxBytes: number, inFlight: Set<ClientRequest>): Promise<Fetched> {
  return new Promise((resolve) => {
    const get = url.startsWith('https:') ? httpsGet : httpGet;
    const request = get(url, { agent: false }, (response) => {
      const chunks: Buffer[] = [];
      let total = 0;
      response.on('data', (chunk: Buffer) => {
        total += chunk.byteLength;
        if (total > maxBytes) finish({ cut: 'body_too_large', detail: `body past ${maxBytes} bytes` });
        else chunks.push(chunk);
      });
      response.on('end', () => finish({ status: response.statusCode ?? 0, text: Buffer.concat(chunks).toString('utf8') }));
      response.on('error', () => finish({ cut: 'unreachable', detail: 'the answer broke off' }));
    });
    const timer = setTimeout(() => finish({ cut: 'timeout', detail: `no whole answer within ${timeoutMs} ms` }), timeoutMs);
    inFlight.add(request);
    request.on('error', (error) => finish({ cut: 'unreachable', detail: error.message }));
    request.on('close', () => finish({ cut: 'timeout', detail: 'closed before the answer' }));
    let done = false;
    function finish(result: Fetched): void {
      if (done) return;
      done = true;
      clearTimeout(timer);
      inFlight.delete(request);
      request.destroy();
      resolve(result);
    }
  });
}

const keyOf = (labels: Record<string, string>): string => `${labels['role'] ?? ''}\u0000${labels['shard'] ?? ''}`;

export class ScrapeSampler {
  readonly #urls: readonly string[];
  readonly #limits: ScrapeLimits;
  readonly #onChange: ((status: EndpointStatus) => void) | undefined;
  readonly #inFlight = new Set<ClientRequest>();
  readonly #t0 = performance.now();
  /** The wall clock at t = 0, ms since the epoch. */
  readonly startedAtMs = performance.timeOrigin + this.#t0;
  /** Remote hosts' kernels are not visible from here. */
  readonly kernel = false;
  #series: Series[] = [];
  #status = new Map<string, EndpointStatus>();
  #previousLoad: number | undefined;

  /** `onChange` hears of an endpoint cut, or read whole again (not every second). */
  constructor(urls: readonly string[], limits: Partial<ScrapeLimits> = {}, onChange?: (status: EndpointStatus) => void) {
    this.#urls = urls;
    this.#limits = { ...DEFAULT_SCRAPE_LIMITS, ...limits };
    this.#onChange = onChange;
  }

  /** The last scrape of each endpoint. */
  status(): EndpointStatus[] {
    return this.#urls.map((url) => this.#status.get(url) ?? { url, cut: null, detail: 'not scraped yet', series: 0 });
  }

  /** Aborts a scrape in flight: close() of the dashboard does not wait for a slow endpoint. */
  close(): void {
    for (const request of this.#inFlight) request.destroy();
  }

  async #scrapeOne(url: string): Promise<[Series[], EndpointStatus]> {
    const { timeoutMs, bodyBytes, series: maxSeries } = this.#limits;
    const cut = (why: ScrapeCut, detail: string): [Series[], EndpointStatus] => [[], { url, cut: why, detail, series: 0 }];
    const got = await fetchCapped(url, timeoutMs, bodyBytes, this.#inFlight);
    if ('cut' in got) return cut(got.cut, got.detail);
    if (got.status < 200 || got.status > 299) return cut('http_status', `answered HTTP ${got.status}`);
    const parsed = parsePrometheusText(got.text, maxSeries);
    if (parsed.cut) return cut('too_many_series', `more than ${maxSeries} series`);
    return [parsed, { url, cut: null, detail: 'read whole', series: parsed.length }];
  }

  /** Fetches every endpoint within the limits; one cut contributes nothing this second. */
  async #scrape(): Promise<void> {
    const results = await Promise.all(this.#urls.map((url) => this.#scrapeOne(url)));
    for (const [, status] of results) {
      const before = this.#status.get(status.url);
      this.#status.set(status.url, status);
      if ((before?.cut ?? null) !== status.cut) this.#onChange?.(status);
    }
    this.#series = results.flatMap(([series]) => series);
  }

  #sum(name: string, where: (labels: Record<string, string>) => boolean = () => true): number {
    return this.#series.filter((s) => s.name === name && where(s.labels)).reduce((sum, s) => sum + s.value, 0);
  }

  rows(): SourceRow[] {
    // One pass over the series, grouped by (role, shard): linear in what was scraped.
    const rows = new Map<string, SourceRow>();
    const wanted = new Set([METRICS.connections.name, METRICS.connectionsVerified.name, METRICS.connects.name, METRICS.accepted.name, METRICS.privateBytes.name]);
    for (const s of this.#series) { // a row where connections are reported
      const key = keyOf(s.labels);
      if (s.name !== METRICS.connections.name || rows.has(key)) continue;
      rows.set(key, { role: s.labels['role'] ?? '', shard: s.labels['shard'] || null, target: null, connections: 0, verified: 0, connected: 0, private_bytes: 0 });
    }
    for (const s of this.#series) {
      const row = wanted.has(s.name) ? rows.get(keyOf(s.labels)) : undefined;
      if (!row) continue;
      if (s.name === METRICS.connections.name) row.connections += s.value;
      else if (s.name === METRICS.connectionsVerified.name) row.verified += s.value;
      else if (s.name === METRICS.privateBytes.name) row.private_bytes += s.value;
      else row.connected += s.value;
    }
    return [...rows.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([, row]) => row);
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
