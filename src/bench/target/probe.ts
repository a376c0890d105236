// Where `bench --target` reads the server and its host: this host's /proc (the server's
// processes by PID or cgroup, sockstat, slabinfo), or, for a server on another host, its
// Prometheus endpoints (--server-metrics: the server's own /metrics and the host's
// node_exporter). Both give the same samples, so the steps, fits and report are one code.

import type { HostSnapshot } from '../../limits/snapshot.ts';
import { sampleHost, type HostSample } from '../../probe/host-sample.ts';
import {
  DEFAULT_MEMORY_METRIC, readRemote, remoteHostSample, remoteServerSample, remoteSnapshot, unseenFrom,
  type EndpointRole, type RemoteReadings,
} from './remote-readings.ts';
import { DEFAULT_SCRAPE_LIMITS, scrapeEndpoint, type ScrapeLimits } from './scrape.ts';
import { sampleServer, type SampleRoots, type ServerSample, type ServerSource } from './server-processes.ts';

/** A server on another host, seen through its Prometheus endpoints. */
export interface RemoteServer {
  /** The server's /metrics and the host's node_exporter, in any order. */
  metricsUrls: string[];
  /** The server's memory series (default process_resident_memory_bytes). */
  memoryMetric?: string;
  limits?: ScrapeLimits;
}

/** The `target.remote` section: what the endpoints showed and what they could not. */
export interface RemoteSection {
  endpoints: { url: string; role: EndpointRole; error: string | null; series: number }[];
  memory_metric: string;
  /** What the kernel fit reads on that host: the socket slab caches, or meminfo's whole Slab. */
  kernel_source: 'slabinfo' | 'meminfo_slab' | 'none';
  /** Per step (as target.steps): TCP sockets allocated, socket buffer bytes, available memory. */
  steps: { tcp_alloc: number | null; tcp_mem_bytes: number | null; mem_available_bytes: number | null }[];
  /** Scrapes that failed over the run (an endpoint down, slow or too big). */
  failed_scrapes: number;
  unseen: string[];
}

/** One reading of the server and its host; `remote` is what the endpoints said, when that is the source. */
export interface ProbeSample {
  host: HostSample;
  server: ServerSample;
  remote?: RemoteReadings;
}

export interface TargetProbe {
  sample(): Promise<ProbeSample>;
  /** Keeps a step's sample: the remote section's per-step figures come from it. */
  recordStep(sample: ProbeSample): void;
  /** doctor's snapshot for the extrapolation: this host's, or the remote one's. */
  snapshot(local: HostSnapshot): HostSnapshot;
  remote(): RemoteSection | undefined;
}

/** The server's processes and this host, from /proc. */
export function localProbe(source: ServerSource, roots?: SampleRoots): TargetProbe {
  return {
    sample: async () => {
      const [host, server] = await Promise.all([sampleHost(), sampleServer(source, roots)]);
      return { host, server };
    },
    recordStep: () => {},
    snapshot: (local) => local,
    remote: () => undefined,
  };
}

/** The server and its host from their endpoints; a server endpoint that stops answering is a server gone. */
export function remoteProbe(remote: RemoteServer): TargetProbe {
  const metric = remote.memoryMetric ?? DEFAULT_MEMORY_METRIC;
  let first: RemoteReadings | undefined;
  let last: RemoteReadings | undefined;
  let serverUrls: string[] = [];
  let failed = 0;
  const steps: RemoteSection['steps'] = [];
  return {
    async sample() {
      const scrapes = await Promise.all(remote.metricsUrls.map((url) => scrapeEndpoint(url, remote.limits ?? DEFAULT_SCRAPE_LIMITS)));
      failed += scrapes.filter((s) => s.error !== null).length;
      const readings = readRemote(scrapes, metric);
      if (!first) {
        first = readings;
        serverUrls = readings.endpoints.filter((e) => e.role === 'server').map((e) => e.url);
      }
      last = readings;
      const alive = serverUrls.length === 0 || readings.endpoints.some((e) => serverUrls.includes(e.url) && e.error === null);
      return { host: remoteHostSample(readings), server: remoteServerSample(readings, alive), remote: readings };
    },
    recordStep(sample) {
      const h = sample.remote?.host;
      steps.push({ tcp_alloc: h?.tcpAlloc ?? null, tcp_mem_bytes: h?.tcpMemBytes ?? null, mem_available_bytes: h?.memAvailableBytes ?? null });
    },
    snapshot: (local) => (first ? remoteSnapshot(last ?? first) : local),
    remote() {
      const r = last ?? first;
      if (!r) return undefined;
      const kernel = r.host.slabCaches ? 'slabinfo' : r.host.meminfoSlabBytes !== null ? 'meminfo_slab' : 'none';
      const endpoints = r.endpoints.map((e, i) => ({ ...e, role: first?.endpoints[i]?.role === 'unknown' ? e.role : first?.endpoints[i]?.role ?? e.role }));
      return { endpoints, memory_metric: metric, kernel_source: kernel, steps, failed_scrapes: failed, unseen: unseenFrom(first ?? r, metric) };
    },
  };
}
