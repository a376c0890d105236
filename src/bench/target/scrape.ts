// One bounded scrape of a Prometheus endpoint for `bench --target --server-metrics`: a
// timeout on the whole exchange and a cap on the body, so a slow or huge endpoint can
// delay a step by at most the timeout and never fill memory. A failed scrape is data
// (the error is kept and shown), not a crash: a server that stops answering its own
// /metrics mid-run is part of what the bench found.

import http from 'node:http';
import https from 'node:https';
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

function describe(error: unknown): string {
  if (error instanceof Error && (error.name === 'AbortError' || error.name === 'TimeoutError')) return 'timed out';
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === 'string' ? code : error instanceof Error ? error.message : String(error);
}

/**
 * GET `url` within the limits. node:http rather than fetch: fetch refuses the "bad ports"
 * of the Fetch standard (1, 6000, 10080, …), and a metrics port is whatever the user runs.
 */
function get(url: string, limits: ScrapeLimits): Promise<string> {
  const client = url.startsWith('https:') ? https : http;
  return new Promise((resolve, reject) => {
    const request = client.get(url, { signal: AbortSignal.timeout(limits.timeoutMs), headers: { accept: 'text/plain' } }, (response) => {
      const status = response.statusCode ?? 0;
      if (status < 200 || status > 299) {
        response.resume();
        reject(new Error(`HTTP ${status}`));
        return;
      }
      const chunks: Buffer[] = [];
      let size = 0;
      response.on('data', (chunk: Buffer) => {
        size += chunk.length;
        if (size > limits.maxBytes) request.destroy(new Error(`body over ${limits.maxBytes} bytes`));
        else chunks.push(chunk);
      });
      response.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
      response.on('error', reject);
    });
    request.on('error', reject);
  });
}

/** Fetches and parses one endpoint within the limits; never throws. */
export async function scrapeEndpoint(url: string, limits: ScrapeLimits = DEFAULT_SCRAPE_LIMITS): Promise<Scrape> {
  try {
    return { url, series: parsePrometheusText(await get(url, limits)), error: null };
  } catch (error) {
    return { url, series: [], error: describe(error) };
  }
}
