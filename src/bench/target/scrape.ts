// One bounded scrape of a Prometheus endpoint for `bench --target --server-metrics`: a
// timeout on the whole exchange and a cap on the body, so a slow or huge endpoint can
// delay a step by at most the timeout and never fill memory. A failed scrape is data
// (the error is kept and shown), not a crash: a server that stops answering its own
// /metrics mid-run is part of what the bench found.

import { parsePrometheusText, type Series } from '../../dashboard/scrape.ts';

/** How long one scrape may take and how big its body may be. */
export interface ScrapeLimits {
  timeoutMs: number;
  maxBytes: number;
}

/** 2 s and 8 MiB: node_exporter's default collectors answer ~120 KB in well under 100 ms. */
export const DEFAULT_SCRAPE_LIMITS: ScrapeLimits = { timeoutMs: 2_000, maxBytes: 8 * 1024 * 1024 };

export interface Scrape {
  url: string;
  /** The series read; empty when the scrape failed. */
  series: Series[];
  /** Why it failed (HTTP status, timeout, body too big, connection refused), or null. */
  error: string | null;
}

async function readCapped(body: ReadableStream<Uint8Array>, maxBytes: number): Promise<string> {
  const reader = body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.byteLength;
    if (size > maxBytes) {
      await reader.cancel();
      throw new Error(`body over ${maxBytes} bytes`);
    }
    chunks.push(value);
  }
  return Buffer.concat(chunks).toString('utf8');
}

function describe(error: unknown): string {
  if (error instanceof Error && error.name === 'TimeoutError') return 'timed out';
  const cause = error instanceof Error ? (error.cause as { code?: string } | undefined) : undefined;
  return cause?.code ?? (error instanceof Error ? error.message : String(error));
}

/** Fetches and parses one endpoint within the limits; never throws. */
export async function scrapeEndpoint(url: string, limits: ScrapeLimits = DEFAULT_SCRAPE_LIMITS): Promise<Scrape> {
  try {
    const response = await fetch(url, { signal: AbortSignal.timeout(limits.timeoutMs), headers: { accept: 'text/plain' } });
    if (!response.ok || !response.body) {
      await response.body?.cancel();
      return { url, series: [], error: `HTTP ${response.status}` };
    }
    const declared = Number(response.headers.get('content-length') ?? NaN);
    if (declared > limits.maxBytes) {
      await response.body.cancel();
      return { url, series: [], error: `body of ${declared} bytes over ${limits.maxBytes}` };
    }
    return { url, series: parsePrometheusText(await readCapped(response.body, limits.maxBytes)), error: null };
  } catch (error) {
    return { url, series: [], error: describe(error) };
  }
}
