// `--dashboard [HOST:]PORT`: GET / is the page, GET /events a server-sent event stream
// with one rendered snapshot a second. One ticker for the whole dashboard; snapshots
// are rendered only while someone watches. 127.0.0.1 unless the user names a host.
// Bounded whoever connects: at most MAX_SUBSCRIBERS streams (more are answered 503),
// and a subscriber that does not read holds at most one frame in the process. Each
// frame is the whole page, so one it has not taken yet is skipped, not queued, and a
// subscriber that took nothing for SUBSCRIBER_STALL_TICKS ticks is disconnected.

import { createServer, type Server, type ServerResponse } from 'node:http';
import type { BenchResult, TimelinePoint } from '../bench/result.ts';
import type { WorkerPool } from '../engine/worker-pool.ts';
import type { SourceLabels } from '../metrics/registry.ts';
import { DASHBOARD_CSP, renderDashboardPage } from './page.ts';
import { renderDashboardBody, type DashboardSnapshot } from './render.ts';
import { PoolSampler, type ErrorRow, type SourceRow } from './sampler.ts';
import type { EndpointStatus } from './scrape.ts';

/** Where the dashboard's rows and points come from: local pools, or scraped endpoints. */
export interface DashboardSampler {
  rows(): SourceRow[];
  errors(): ErrorRow[];
  sample(): Promise<TimelinePoint>;
  /** Stops work in flight (a scrape) so close() does not wait for it. */
  close?(): void;
  /** Scraped endpoints: which were cut and why. */
  status?(): EndpointStatus[];
  /** Wall clock at the timeline's t = 0, ms since the epoch. */
  readonly startedAtMs?: number;
  /** false when the host's kernel figures are not this machine's to see. */
  readonly kernel?: boolean;
}

/** An hour of one-second points: enough for any run we make, bounded for any run at all. */
export const MAX_TIMELINE_POINTS = 3600;
/** Live streams at once: a handful of people watching, not a crowd. */
export const MAX_SUBSCRIBERS = 32;
/** Ticks a subscriber may leave a frame untaken before it is disconnected. */
export const SUBSCRIBER_STALL_TICKS = 10;

/** What the streams hold now, for a caller (and a test) to check the bound. */
export interface SubscriberStats {
  subscribers: number;
  /** Bytes written to the streams that their sockets have not taken (writableLength, summed). */
  buffered_bytes: number;
  /** Turned away at the cap, since the start. */
  refused: number;
  /** Disconnected for not reading, since the start. */
  dropped: number;
}

interface Subscriber {
  /** A frame is waiting for 'drain': the next ones are skipped. */
  waiting: boolean;
  stalledTicks: number;
}

export interface DashboardOptions {
  host: string;
  port: number;
  title: string;
  intervalMs?: number;
  /** Default: a PoolSampler, fed by addPool(). */
  sampler?: DashboardSampler;
}

export class Dashboard {
  readonly #sampler: DashboardSampler;
  readonly #timeline: TimelinePoint[] = [];
  readonly #clients = new Map<ServerResponse, Subscriber>();
  #refused = 0;
  #dropped = 0;
  readonly #title: string;
  readonly #server: Server;
  #external = false;
  #limits: BenchResult['limits'] | undefined;
  #startedAtMs: number | undefined;
  #seq = 0;
  #timer: NodeJS.Timeout | undefined;
  #ticking: Promise<void> = Promise.resolve();
  #busy = false;
  url = '';

  private constructor(title: string, sampler: DashboardSampler) {
    this.#title = title;
    this.#sampler = sampler;
    this.#server = createServer((request, response) => {
      if (request.method === 'GET' && request.url === '/events') return this.#subscribe(response);
      if ((request.method === 'GET' || request.method === 'HEAD') && request.url === '/') {
        response.writeHead(200, { 'content-type': 'text/html; charset=utf-8', 'content-security-policy': DASHBOARD_CSP });
        // HEAD: the same status and headers, no body (and nothing rendered for it).
        response.end(request.method === 'HEAD' ? undefined : renderDashboardPage(this.#title, renderDashboardBody(this.#snapshot()), this.#seq));
        return;
      }
      response.writeHead(404).end('try GET /\n');
    });
  }

  static async start(options: DashboardOptions): Promise<Dashboard> {
    const dashboard = new Dashboard(options.title, options.sampler ?? new PoolSampler());
    await new Promise<void>((resolve, reject) => {
      dashboard.#server.once('error', reject);
      dashboard.#server.listen(options.port, options.host, () => resolve());
    });
    const address = dashboard.#server.address();
    dashboard.url = `http://${options.host}:${typeof address === 'object' && address ? address.port : options.port}/`;
    dashboard.#timer = setInterval(() => {
      // A tick slower than the interval (a slow scrape, a heavy render) is not queued
      // behind: the next one is skipped, so pending ticks never pile up.
      if (dashboard.#busy) return;
      dashboard.#busy = true;
      dashboard.#ticking = dashboard.#tick().catch(() => {}).finally(() => (dashboard.#busy = false));
    }, options.intervalMs ?? 1000);
    return dashboard;
  }

  addPool(pool: WorkerPool, labels: SourceLabels, target: number | null = null): void {
    if (!(this.#sampler instanceof PoolSampler)) throw new TypeError('this dashboard watches scraped endpoints, not pools');
    this.#sampler.addPool(pool, labels, target);
  }

  /** Bench samples its own timeline: take its points (t counted from `startedAtMs`) instead of sampling here. */
  pushPoint(point: TimelinePoint, startedAtMs?: number): void {
    this.#external = true;
    if (startedAtMs !== undefined) this.#startedAtMs = startedAtMs;
    this.#push(point);
  }

  setLimits(limits: BenchResult['limits']): void {
    this.#limits = limits;
  }

  #push(point: TimelinePoint): void {
    this.#timeline.push(point);
    if (this.#timeline.length > MAX_TIMELINE_POINTS) this.#timeline.shift();
  }

  #snapshot(): DashboardSnapshot {
    return {
      title: this.#title, seq: this.#seq, timeline: this.#timeline, sources: this.#sampler.rows(), errors: this.#sampler.errors(),
      ...(this.#limits ? { limits: this.#limits } : {}),
      ...(this.#sampler.status ? { endpoints: this.#sampler.status() } : {}),
      ...this.#clock(),
    };
  }

  /** The streams now: how many, and what they hold unread. */
  subscriberStats(): SubscriberStats {
    let buffered = 0;
    for (const client of this.#clients.keys()) buffered += client.writableLength;
    return { subscribers: this.#clients.size, buffered_bytes: buffered, refused: this.#refused, dropped: this.#dropped };
  }

  /** The timeline's wall clock and whether it sees the kernel: from bench's points or the sampler. */
  #clock(): Pick<DashboardSnapshot, 'startedAtMs' | 'kernel' | 'roles'> {
    const startedAtMs = this.#external ? this.#startedAtMs : this.#sampler.startedAtMs;
    // Bench's points: both sides run, though load's pool starts a moment after serve's.
    const roles = this.#external ? { roles: ['server', 'load'] as const } : {};
    return { ...(startedAtMs === undefined ? {} : { startedAtMs }), kernel: this.#external || this.#sampler.kernel !== false, ...roles };
  }

  #subscribe(response: ServerResponse): void {
    if (this.#clients.size >= MAX_SUBSCRIBERS) {
      this.#refused += 1;
      response.writeHead(503, { 'retry-after': '10', 'content-type': 'text/plain' }).end(`at most ${MAX_SUBSCRIBERS} live viewers\n`);
      return;
    }
    response.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache', connection: 'keep-alive' });
    response.write('retry: 1000\n\n');
    const state: Subscriber = { waiting: false, stalledTicks: 0 };
    this.#clients.set(response, state);
    response.on('drain', () => {
      state.waiting = false;
      state.stalledTicks = 0;
    });
    response.on('close', () => this.#clients.delete(response));
  }

  /** Writes a frame to every subscriber that took the last one; drops one stalled too long. */
  #send(frame: string): void {
    for (const [client, state] of this.#clients) {
      if (state.waiting) {
        state.stalledTicks += 1;
        if (state.stalledTicks >= SUBSCRIBER_STALL_TICKS) {
          this.#dropped += 1;
          this.#clients.delete(client);
          client.destroy();
        }
        continue;
      }
      state.waiting = !client.write(frame);
    }
  }

  async #tick(): Promise<void> {
    if (!this.#external) this.#push(await this.#sampler.sample());
    this.#seq += 1;
    if (this.#clients.size === 0) return;
    this.#send(`data: ${JSON.stringify({ seq: this.#seq, html: renderDashboardBody(this.#snapshot()) })}\n\n`);
  }

  /** Ends every stream and the server; safe to call twice. */
  async close(): Promise<void> {
    clearInterval(this.#timer);
    this.#sampler.close?.();
    await this.#ticking;
    for (const client of this.#clients.keys()) client.end();
    this.#clients.clear();
    this.#server.closeAllConnections();
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
  }
}
