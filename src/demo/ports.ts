// Demo `ports`: ephemeral ports bind only a client that keeps (source IP, destination IP,
// destination port) fixed. With ip_local_port_range narrowed to 1,000 ports, one source
// toward one destination fails with EADDRNOTAVAIL after exactly 1,000 connections; a
// second destination port, or a second source IP, doubles that with the same range.
//
// The window is above the default range (61000+) and free of every socket: connect()
// skips a port any bound socket holds, so a listener inside the window would make the
// kernel's count differ from the range's size. Without root the range cannot change: the
// `full-range` variant exhausts the range as it is (28,232 ports here), which is slower.

import { startLoad, type LoadOptions } from '../load/load.ts';
import { formatIpv4, parseIpv4, type Destination, type Range } from '../tuple/address.ts';
import { engineFacts, rampAndClose, withLoad, withServe } from './engine-runs.ts';
import { demoSource, freeServerPorts, ssRows, tcpPortsInUse } from './kernel.ts';
import { fmt, loadOutcome, outcomeOf, predict, statsOutcome } from './predict.ts';
import type { DemoBody, DemoContext, DemoDefinition, StepObservation } from './types.ts';

const RANGE_SYSCTL = 'net.ipv4.ip_local_port_range';
export const NARROW_PORTS = 1_000;
const WINDOWS_FROM = 61_000;
/** How many more connections than the pool each run asks for, to see the error. */
const OVER_ASK = 0.05;
const LOOPBACK = parseIpv4('127.0.0.1') ?? 0;
const one = (address: number): Range => ({ first: address, last: address });

export type PortsVariant = 'narrowed' | 'full-range';

/** Narrowing needs root; without it (or when asked) the range stays as it is. */
export function choosePortsVariant(uid: number | undefined, requested: string | undefined): { variant: PortsVariant; why: string | null } {
  if (requested === 'full-range') return { variant: 'full-range', why: null };
  if (uid !== 0) {
    return {
      variant: 'full-range',
      why: 'ports: narrowing ip_local_port_range needs root; running the full-range variant instead (nothing changed, the whole range is used, slower)',
    };
  }
  return { variant: 'narrowed', why: null };
}

/** The first 1,000-port window above the default range that no TCP socket touches now. */
async function freeWindow(): Promise<Range> {
  for (let first = WINDOWS_FROM; first + NARROW_PORTS - 1 <= 65_535; first += NARROW_PORTS) {
    const window = { first, last: first + NARROW_PORTS - 1 };
    if ((await tcpPortsInUse(window.first, window.last)) === 0) return window;
  }
  return { first: WINDOWS_FROM, last: WINDOWS_FROM + NARROW_PORTS - 1 };
}

interface Shape {
  sources: Range;
  destinations: Destination[];
}

const describeShape = (s: Shape): string =>
  `${s.sources.first === s.sources.last ? formatIpv4(s.sources.first) : `${formatIpv4(s.sources.first)}-${formatIpv4(s.sources.last)}`} → ` +
  s.destinations.map((d) => `${formatIpv4(d.ip)}:${d.port}`).join(', ');

/** One kernel-ports run of `shape`, asking for a little more than doctor says fits. */
async function exhaust(context: DemoContext, shape: Shape, belief: number): Promise<StepObservation> {
  const host = context.host();
  const facts = engineFacts(host);
  const pool = facts.kernelPoolSize;
  const sourceCount = shape.sources.last - shape.sources.first + 1;
  const capacity = pool * sourceCount * shape.destinations.length;
  const connections = capacity + Math.ceil(capacity * OVER_ASK);
  const prediction = predict(host, {
    role: 'client',
    connections,
    sourceIps: [shape.sources],
    targets: shape.destinations.map((d) => ({ ips: one(d.ip), ports: { first: d.port, last: d.port } })),
    sourcePorts: 'kernel',
    processes: Math.ceil(connections / Math.max(1, facts.fdSoftLimit - 100)),
  });
  const options: LoadOptions = {
    destinations: shape.destinations,
    connections,
    sourceIps: [shape.sources],
    sourcePorts: 'kernel',
    fdSoftLimit: facts.fdSoftLimit,
    // What the planner would believe without the narrowing: the kernel decides, not it.
    kernelPoolSize: Math.max(belief, pool),
    connectTimeoutMs: 5_000,
  };
  const { result, kernel } = await withLoad(context, options, async (load) => {
    await load.rampDone();
    const rows = await ssRows(['-tn', 'state', 'established', 'src', describeSources(shape.sources)]);
    return { kernel: rows.filter((r) => shape.destinations.some((d) => r.trim().endsWith(`${formatIpv4(d.ip)}:${d.port}`))).length, result: await load.close() };
  });
  return {
    predicted: outcomeOf(prediction),
    observed: loadOutcome(result),
    because: prediction.detail,
    evidence: [
      `asked for ${fmt(connections)} connections ${describeShape(shape)} with kernel-chosen source ports`,
      `established ${fmt(result.connections.established)}; errors ${errorList(result.errors)}`,
      `kernel socket table: ${fmt(kernel)} established sockets from ${describeSources(shape.sources)} to ${shape.destinations.length === 1 ? 'that destination' : 'those destinations'}`,
    ],
  };
}

function describeSources(r: Range): string {
  // ss takes one address or a prefix; the demo's source pairs are x.x.x.10/31-style neighbours.
  return r.first === r.last ? formatIpv4(r.first) : `${formatIpv4(r.first & ~1)}/31`;
}

const errorList = (errors: Record<string, number>): string =>
  Object.keys(errors).length === 0 ? 'none' : Object.entries(errors).map(([e, n]) => `${e} × ${fmt(n)}`).join(', ');

async function narrowed(context: DemoContext, ports: number[]): Promise<DemoBody> {
  const belief = engineFacts(context.host()).kernelPoolSize;
  const window = await freeWindow();
  const [a = 0, b = 0, c = 0] = ports;
  context.setSysctl(RANGE_SYSCTL, `${window.first} ${window.last}`);
  const dest = (port: number): Destination => ({ ip: LOOPBACK, port });
  const [s1, s2, s3] = [demoSource(9), demoSource(10), demoSource(11)];
  await context.step('limit', 'one source IP, one destination', `narrow ${RANGE_SYSCTL} to ${window.first}-${window.last} (${fmt(NARROW_PORTS)} ports), then connect from ${formatIpv4(s1)} to 127.0.0.1:${a} until connect() fails`,
    () => exhaust(context, { sources: one(s1), destinations: [dest(a)] }, belief));
  await context.step('lifted', 'a second destination port', `same range, from ${formatIpv4(s2)} to two ports (${b}, ${c}): the kernel keeps one pool per destination`,
    () => exhaust(context, { sources: one(s2), destinations: [dest(b), dest(c)] }, belief));
  await context.step('lifted', 'a second source IP', `same range, from ${formatIpv4(s2)} and ${formatIpv4(s3)} to one port (${a}): and one pool per source address`,
    () => exhaust(context, { sources: { first: s2, last: s3 }, destinations: [dest(a)] }, belief));
  return {
    variant: 'narrowed',
    lift: LIFT,
    details: { range: `${window.first}-${window.last}`, server_ports: ports },
  };
}

async function fullRange(context: DemoContext, ports: number[]): Promise<DemoBody> {
  const host = context.host();
  const facts = engineFacts(host);
  const [a = 0, b = 0] = ports;
  const range = host.ports.range;
  const inUse = range ? await tcpPortsInUse(range.first, range.last) : 0;
  const source = one(demoSource(9));
  const connections = facts.kernelPoolSize + 100;
  const prediction = predict(host, {
    role: 'client', connections, sourceIps: [source], sourcePorts: 'kernel',
    targets: [{ ips: one(LOOPBACK), ports: { first: a, last: a } }],
    processes: Math.ceil(connections / Math.max(1, facts.fdSoftLimit - 100)),
  });
  const base: Omit<LoadOptions, 'destinations' | 'connections'> = { sourceIps: [source], sourcePorts: 'kernel', fdSoftLimit: facts.fdSoftLimit, kernelPoolSize: facts.kernelPoolSize, connectTimeoutMs: 10_000 };
  // The first load stays open through the second step: the second port is tried with the first pool full.
  // The planner is told the pool fits them all, so it tries every one: the kernel decides.
  const first = await startLoad({ protocol: 'connlab', ...base, destinations: [{ ip: LOOPBACK, port: a }], connections, kernelPoolSize: connections });
  const off = context.onAbort(() => first.destroy());
  try {
    await context.step('limit', 'one source IP, one destination, the whole range',
      `connect from ${formatIpv4(source.first)} to 127.0.0.1:${a} with ip_local_port_range as it is (${fmt(facts.kernelPoolSize)} ports) until connect() fails`,
      async () => {
        await first.rampDone();
        await first.pool.refresh();
        const totals = first.pool.totals();
        const observed = statsOutcome(totals);
        return {
          predicted: outcomeOf(prediction),
          observed,
          because: prediction.detail,
          tolerance: `the kernel skips ports other sockets hold: ${fmt(inUse)} ports of the range were in use when it started`,
          matches: observed.error === prediction.error && observed.connections <= prediction.connections && observed.connections >= prediction.connections - inUse,
          evidence: [`established ${fmt(totals.established)}; errors ${errorList(totals.errors)}`],
        };
      });
    await context.step('lifted', 'a second destination port, with the first pool still full',
      `while those are held, connect 1,000 more from ${formatIpv4(source.first)} to 127.0.0.1:${b}`,
      async () => {
        const more = await rampAndClose(context, { ...base, destinations: [{ ip: LOOPBACK, port: b }], connections: 1_000 });
        return {
          predicted: { error: null, connections: 1_000 },
          observed: loadOutcome(more),
          because: 'doctor: the kernel keeps one pool per (source IP, destination IP, destination port); the second port\'s pool is empty',
          evidence: [`established ${fmt(more.connections.established)}; errors ${errorList(more.errors)}`],
        };
      });
  } finally {
    off();
    await first.close();
  }
  return { variant: 'full-range', lift: LIFT, details: { server_ports: ports, ports_in_use_at_start: inUse } };
}

const LIFT = [
  'connect to more destinations (ports or addresses): each (destination IP, port) has its own pool — connlab load --targets 127.0.0.1:9000-9003',
  'use more source IPs: each has its own pool — connlab load --source-ips 127.0.0.2-127.0.0.9',
  'plan the source ports yourself: one port then serves every destination at once — connlab load --source-ports 10000-65000',
  `widen the range: sysctl -w ${RANGE_SYSCTL}="1024 65535" (and the same line in /etc/sysctl.d/ to keep it)`,
];

export const portsDemo: DemoDefinition = {
  name: 'ports',
  title: 'Ephemeral ports bind only one (source IP, destination) pair',
  summary: 'One source IP toward one destination runs out of ephemeral ports with EADDRNOTAVAIL after exactly as many connections as ip_local_port_range holds; a second destination port or source IP doubles it.',
  changesSettings: true,
  async run(context) {
    const { variant, why } = choosePortsVariant(context.options.uid, context.options.variant);
    if (why) context.note(why);
    const ports = await freeServerPorts(3);
    const facts = engineFacts(context.host());
    const serveOptions = { listen: ports.map((port) => ({ host: '127.0.0.1', port })), fdSoftLimit: facts.fdSoftLimit, connections: variant === 'narrowed' ? 4_000 : facts.kernelPoolSize + 1_200 };
    return withServe(context, serveOptions, () => (variant === 'narrowed' ? narrowed(context, ports) : fullRange(context, ports)));
  },
};
