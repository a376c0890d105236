// Demo `tuple`: a connection is a four-tuple, so 65,535 is not a limit. More than 65,535
// connections to ONE server address and port from this one host — counted by load, by a
// ping round trip on every connection, and by the kernel's own socket table — and one
// source address and port carrying connections to several destinations at once.

import { planLoad, type LoadOptions } from '../load/load.ts';
import { formatIpv4, parseIpv4 } from '../tuple/address.ts';
import { DEFAULT_SOURCE_PORTS, loopbackSourcesFor } from '../tuple/plan.ts';
import { engineFacts, withLoad, withServe } from './engine-runs.ts';
import { demoSource, freeServerPorts, splitAddress, ssAddresses, ssRows } from './kernel.ts';
import { fmt, outcomeOf, predict } from './predict.ts';
import type { DemoContext, DemoDefinition, StepObservation } from './types.ts';

export const DEFAULT_TUPLE_CONNECTIONS = 70_000;
const LOOPBACK = parseIpv4('127.0.0.1') ?? 0;
const SHARED_SOURCE = demoSource(200);
const DESTINATIONS = 3;

/** What the client side of the kernel's table says: sources, and source ports used by several of them. */
function summarizeClientRows(rows: readonly string[]): { sources: number; sharedPorts: number; example: string[] } {
  const byPort = new Map<number, string[]>();
  const sources = new Set<string>();
  for (const row of rows) {
    const [address, port] = splitAddress(ssAddresses(row).local);
    sources.add(address);
    const list = byPort.get(port) ?? [];
    list.push(address);
    byPort.set(port, list);
  }
  const shared = [...byPort.entries()].filter(([, list]) => list.length > 1);
  const [port, list = []] = shared[0] ?? [];
  return { sources: sources.size, sharedPorts: shared.length, example: port === undefined ? [] : list.map((a) => `${a}:${port}`) };
}

async function onePort(context: DemoContext, port: number, connections: number): Promise<StepObservation> {
  const host = context.host();
  const facts = engineFacts(host);
  const destinations = [{ ip: LOOPBACK, port }];
  // As many sources as load would pick by itself, from the demos' own block.
  const [picked = { first: 0, last: 0 }] = loopbackSourcesFor(connections, destinations, DEFAULT_SOURCE_PORTS, facts.kernelPoolSize);
  const sourceIps = [{ first: demoSource(2), last: demoSource(2) + picked.last - picked.first }];
  const options: LoadOptions = { destinations, connections, sourceIps, sourcePorts: DEFAULT_SOURCE_PORTS, fdSoftLimit: facts.fdSoftLimit, kernelPoolSize: facts.kernelPoolSize };
  const { plan } = planLoad(options);
  const prediction = predict(host, {
    role: 'both', connections, processes: plan.slices.length,
    sourceIps, sourcePorts: DEFAULT_SOURCE_PORTS,
    targets: [{ ips: { first: LOOPBACK, last: LOOPBACK }, ports: { first: port, last: port } }],
  });
  return withLoad(context, options, async (load) => {
    await load.rampDone();
    const ping = await load.ping(30_000);
    const server = await ssRows(['-tn', 'state', 'established', 'sport', '=', `:${port}`]);
    const client = summarizeClientRows(await ssRows(['-tn', 'state', 'established', 'dport', '=', `:${port}`]));
    const result = await load.close();
    const observed = { error: result.explained[0]?.errno ?? null, connections: server.length };
    return {
      predicted: outcomeOf(prediction),
      observed,
      because: `both ends here, ${plan.slices.length} process(es) per side: ${prediction.detail}`,
      tolerance: 'and load established and ping-verified the same number',
      matches: observed.error === prediction.error && observed.connections === prediction.connections &&
        ping.verified === connections && result.connections.established === connections,
      evidence: [
        `load: ${fmt(result.connections.established)} established, ${fmt(ping.verified)} answered a ping, over ${plan.slices.length} worker(s); ramp ${result.ramp.seconds} s`,
        `kernel (ss state established sport = :${port}): ${fmt(server.length)} server-side sockets on the one port`,
        `client side: ${fmt(client.sources)} source IPs; ${fmt(client.sharedPorts)} source ports are used by more than one of them (e.g. ${client.example.join(' and ')})`,
        `a "65,535 per port" limit would have stopped at 65,535; this is ${fmt(server.length)}`,
      ],
    };
  });
}

async function sharedSourcePort(context: DemoContext, ports: number[]): Promise<StepObservation> {
  const host = context.host();
  const facts = engineFacts(host);
  const [sourcePort = 0] = await freeServerPorts(1, formatIpv4(SHARED_SOURCE));
  const source = { first: SHARED_SOURCE, last: SHARED_SOURCE };
  const prediction = predict(host, {
    role: 'client', connections: ports.length, sourceIps: [source], sourcePorts: { first: sourcePort, last: sourcePort },
    targets: [{ ips: { first: LOOPBACK, last: LOOPBACK }, ports: { first: ports[0] ?? 0, last: ports.at(-1) ?? 0 } }],
  });
  const options: LoadOptions = {
    destinations: ports.map((port) => ({ ip: LOOPBACK, port })), connections: ports.length, workers: 1,
    sourceIps: [source], sourcePorts: { first: sourcePort, last: sourcePort },
    fdSoftLimit: facts.fdSoftLimit, kernelPoolSize: facts.kernelPoolSize,
  };
  return withLoad(context, options, async (load) => {
    await load.rampDone();
    const rows = await ssRows(['-tn', 'state', 'established', 'src', `${formatIpv4(SHARED_SOURCE)}:${sourcePort}`]);
    const result = await load.close();
    return {
      predicted: outcomeOf(prediction),
      observed: { error: result.explained[0]?.errno ?? null, connections: rows.length },
      because: prediction.detail,
      evidence: rows.map((row) => `kernel: ${ssAddresses(row).local} → ${ssAddresses(row).peer}`),
    };
  });
}

export const tupleDemo: DemoDefinition = {
  name: 'tuple',
  title: 'The four-tuple: past 65,535 connections to one port',
  summary: 'More than 65,535 concurrent connections to one server port from this one host, and one source port carrying connections to several destinations at once, as the kernel\'s socket table shows.',
  changesSettings: false,
  async run(context) {
    const connections = context.options.connections ?? DEFAULT_TUPLE_CONNECTIONS;
    const ports = await freeServerPorts(DESTINATIONS);
    const [port = 0] = ports;
    const facts = engineFacts(context.host());
    await withServe(context, { listen: ports.map((p) => ({ host: '127.0.0.1', port: p })), connections, fdSoftLimit: facts.fdSoftLimit }, async () => {
      await context.step('evidence', `${fmt(connections)} connections to one port`,
        `connlab serve on 127.0.0.1:${port}; connlab load opens ${fmt(connections)} connections to it, planning (source IP, source port) pairs from ${formatIpv4(demoSource(2))} on`,
        () => onePort(context, port, connections));
      await context.step('evidence', 'one source port, several destinations',
        `from ${formatIpv4(SHARED_SOURCE)} and ONE source port, connect to ${ports.length} server ports at once`,
        () => sharedSourcePort(context, ports));
    });
    return {
      variant: 'default',
      lift: [
        'there is no 65,535 limit to lift: a server port takes every (source IP, source port) pair — up to 2^32 × 2^16',
        'what does bind: descriptors per process (spread over workers), memory, and ephemeral ports only when source IP, destination IP and destination port are all fixed',
        'a client past 65,535: plan the tuples — connlab load --source-ips 127.0.0.2-127.0.0.9 --source-ports 10000-65000',
      ],
      details: { connections, server_ports: ports },
    };
  },
};
