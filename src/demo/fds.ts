// Demo `fds`: the per-process descriptor limit. A load worker whose soft RLIMIT_NOFILE
// is lowered with prlimit fails with EMFILE once its descriptors reach the limit; the
// same connections spread over more workers at the same limit all succeed. On the
// server side the handshake is done before accept(): a naive Node server that reads a
// file per connection dies of an uncaught EMFILE and its clients, which had all
// connected, see a close or a reset; connlab serve under the same limit backs off from
// accept(), keeps running, and accepts every waiting connection once the limit is lifted.
//
// The limit goes on a running worker (prlimit --pid) and not through inheritance: Node
// raises its soft limit to the hard one at startup, and lowering our own hard limit
// could not be undone without CAP_SYS_RESOURCE. The hard limit stays as it is.

import { spawn } from 'node:child_process';
import { once } from 'node:events';
import type { HostSnapshot } from '../limits/snapshot.ts';
import type { LoadOptions } from '../load/load.ts';
import type { ServeHandle } from '../server/serve.ts';
import { parseIpv4 } from '../tuple/address.ts';
import { openClients } from './clients.ts';
import { engineFacts, withLoad, withServe } from './engine-runs.ts';
import { demoSource, freeServerPorts, openDescriptors, prlimitNofile } from './kernel.ts';
import { fmt, loadOutcome, outcomeOf, predict } from './predict.ts';
import type { DemoContext, DemoDefinition, StepObservation } from './types.ts';

const SOFT_LIMIT = 300;
const CLIENT_CONNECTIONS = 600;
const SERVER_CONNECTIONS = 500;
const RATE_PER_SEC = 3_000;
const SETTLE_MS = 8_000;
const LOOPBACK = parseIpv4('127.0.0.1') ?? 0;

/** The host as doctor would read it inside a process with this soft limit. */
const withSoftLimit = (host: HostSnapshot, soft: number): HostSnapshot => ({ ...host, fds: { ...host.fds, processSoft: soft } });

const delay = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** The promise's value, or undefined after ms; the timer never outlives the race. */
async function within<T>(promise: Promise<T>, ms: number): Promise<T | undefined> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([promise, new Promise<undefined>((resolve) => (timer = setTimeout(() => resolve(undefined), ms)))]);
  } finally {
    clearTimeout(timer);
  }
}

/** A load whose every worker gets the lowered soft limit as soon as it has started. */
async function limitedLoad(context: DemoContext, options: LoadOptions): Promise<Pick<StepObservation, 'observed' | 'evidence'>> {
  return withLoad(context, options, async (load) => {
    const pids = load.pool.pids();
    const hard = options.fdSoftLimit;
    await Promise.all(pids.map((pid) => prlimitNofile(pid, SOFT_LIMIT, hard)));
    await load.rampDone();
    const descriptors = pids.map((pid) => openDescriptors(pid) ?? 0);
    const result = await load.close();
    return { observed: loadOutcome(result), evidence: [
      `${pids.length} worker(s) at soft limit ${SOFT_LIMIT} (prlimit --pid, hard ${fmt(hard)}): established ${fmt(result.connections.established)}; ` +
        `errors ${Object.entries(result.errors).map(([e, n]) => `${e} × ${fmt(n)}`).join(', ') || 'none'}`,
      `descriptors open in each worker when done: ${descriptors.map(fmt).join(', ')} (its sockets plus the few it keeps for itself)`,
    ] };
  });
}

async function clientSide(context: DemoContext, port: number, host: HostSnapshot): Promise<void> {
  const facts = engineFacts(host);
  const limited = withSoftLimit(host, SOFT_LIMIT);
  const base = { destinations: [{ ip: LOOPBACK, port }], connections: CLIENT_CONNECTIONS, sourceIps: [{ first: demoSource(20), last: demoSource(20) }], fdSoftLimit: facts.fdSoftLimit, kernelPoolSize: facts.kernelPoolSize, ratePerSec: RATE_PER_SEC };
  const one = predict(limited, { role: 'client', connections: CLIENT_CONNECTIONS, processes: 1 });
  await context.step('limit', `a load worker limited to ${SOFT_LIMIT} descriptors`,
    `lower one load worker's soft RLIMIT_NOFILE to ${SOFT_LIMIT} with prlimit, then open ${fmt(CLIENT_CONNECTIONS)} connections from it`,
    async () => {
      const run = await limitedLoad(context, { ...base, workers: 1 });
      return {
        ...run,
        predicted: outcomeOf(one),
        because: one.detail,
        tolerance: `EMFILE at the same error; doctor keeps 100 descriptors per process for the process itself, so it counts ${fmt(one.connections)} and the worker reaches between that and ${SOFT_LIMIT}`,
        matches: run.observed.error === one.error && run.observed.connections >= one.connections && run.observed.connections < SOFT_LIMIT,
      };
    });
  const needed = Math.ceil(CLIENT_CONNECTIONS / Math.max(1, (one.allows ?? 1)));
  const spread = predict(limited, { role: 'client', connections: CLIENT_CONNECTIONS, processes: needed });
  await context.step('lifted', `the same connections over ${needed} workers at the same limit`,
    `doctor's first fix, --processes ${needed}: ${needed} load workers, each lowered to ${SOFT_LIMIT}, open the ${fmt(CLIENT_CONNECTIONS)} connections together`,
    async () => {
      const run = await limitedLoad(context, { ...base, workers: needed });
      return { ...run, predicted: outcomeOf(spread), because: spread.detail };
    });
}

const NAIVE_SERVER = `
const net = require('node:net');
const fs = require('node:fs');
// Logs every connection with appendFileSync, which opens the log file each time (the log is /dev/null).
const server = net.createServer((socket) => fs.appendFileSync('/dev/null', socket.remoteAddress + ' connected\\n'));
server.listen(Number(process.argv[1]), '127.0.0.1', 511, () => process.stdout.write('listening\\n'));
setTimeout(() => process.exit(0), Number(process.argv[2])).unref();`;

async function naiveServer(context: DemoContext, port: number, host: HostSnapshot): Promise<StepObservation> {
  const child = spawn('prlimit', [`--nofile=${SOFT_LIMIT}:${SOFT_LIMIT}`, process.execPath, '-e', NAIVE_SERVER, String(port), '20000'], { stdio: ['ignore', 'pipe', 'pipe'] });
  const off = context.onAbort(() => child.kill('SIGKILL'));
  let stderr = '';
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const exited = once(child, 'exit') as Promise<[number | null, NodeJS.Signals | null]>;
  try {
    await Promise.race([once(child.stdout, 'data'), exited]);
    const clients = openClients(context, '127.0.0.1', port, SERVER_CONNECTIONS, SETTLE_MS);
    try {
      const [code = null] = (await within(exited, SETTLE_MS)) ?? [];
      const stats = await clients.until((s) => s.pending === 0 && s.queued === 0 && s.established === 0, SETTLE_MS);
      const died = code !== null && code !== 0;
      const emfile = /EMFILE/.test(stderr);
      const prediction = predict(withSoftLimit(host, SOFT_LIMIT), { role: 'server', connections: SERVER_CONNECTIONS });
      return {
        predicted: { error: prediction.error, connections: 0 },
        observed: { error: died && emfile ? 'EMFILE' : died ? `exit ${code}` : null, connections: stats.established },
        because: `${prediction.detail}; a server that dies of it holds nothing`,
        evidence: [
          `the server ${died ? `died: exit code ${code}, "${/Error: [^\n]*/.exec(stderr)?.[0] ?? stderr.trim().split('\n')[0]}"` : 'did not die'}`,
          `clients: ${fmt(stats.connected)} of ${fmt(SERVER_CONNECTIONS)} connected (the kernel completed every handshake), then ${fmt(stats.closed.peer)} closed by the peer and ${fmt(stats.closed.reset)} reset`,
        ],
      };
    } finally {
      clients.destroy();
    }
  } finally {
    off();
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGKILL');
      await exited;
    }
  }
}

async function waitServe(serve: ServeHandle, predicate: (s: Awaited<ReturnType<ServeHandle['refresh']>>) => boolean, timeoutMs: number) {
  const deadline = performance.now() + timeoutMs;
  let stats = await serve.refresh();
  while (!predicate(stats) && performance.now() < deadline) {
    await delay(50);
    stats = await serve.refresh();
  }
  return stats;
}

async function connlabServe(context: DemoContext, port: number, host: HostSnapshot): Promise<StepObservation> {
  const facts = engineFacts(host);
  return withServe(context, { listen: [{ host: '127.0.0.1', port }], workers: 1, fdSoftLimit: facts.fdSoftLimit, reportIntervalMs: 100 }, async (serve) => {
    const pid = serve.pool.pids()[0] ?? 0;
    await prlimitNofile(pid, SOFT_LIMIT, facts.fdSoftLimit);
    const clients = openClients(context, '127.0.0.1', port, SERVER_CONNECTIONS, SETTLE_MS);
    try {
      const client = await clients.settled(SETTLE_MS);
      const under = await waitServe(serve, (s) => s.totals.acceptBackoffs > 0, SETTLE_MS);
      await prlimitNofile(pid, facts.fdSoftLimit, facts.fdSoftLimit);
      const lifted = await waitServe(serve, (s) => s.connections === SERVER_CONNECTIONS, SETTLE_MS);
      const alive = serve.pool.pids()[0] === pid && serve.pool.workers[0]?.restarts === 0;
      return {
        predicted: { error: null, connections: SERVER_CONNECTIONS },
        observed: { error: alive ? null : 'worker died', connections: lifted.connections },
        because: `doctor's other fix, a higher limit: prlimit the worker back to ${fmt(facts.fdSoftLimit)}; the waiting handshakes are in the accept queue, so all ${fmt(SERVER_CONNECTIONS)} are held`,
        evidence: [
          `under ${SOFT_LIMIT}: serve held ${fmt(under.connections)}, EMFILE × ${fmt(under.totals.errors.EMFILE ?? 0)} at accept(), backed off ${fmt(under.totals.acceptBackoffs)} time(s); clients saw ${fmt(client.established)} connected`,
          `worker PID ${pid} ${alive ? 'still running, 0 restarts' : 'did not survive'}`,
          `after prlimit --pid ${pid} --nofile=${facts.fdSoftLimit}:${facts.fdSoftLimit}: serve holds ${fmt(lifted.connections)}`,
        ],
      };
    } finally {
      clients.destroy();
    }
  });
}

export const fdsDemo: DemoDefinition = {
  name: 'fds',
  title: 'File descriptors: EMFILE, "too many open files", per process',
  summary: 'A process whose descriptor limit is lowered hits EMFILE; spreading over processes or raising the limit lifts it. A server hits it at accept(), after the handshake: a naive server dies, connlab serve backs off and survives.',
  changesSettings: false,
  async run(context) {
    const host = context.host();
    const facts = engineFacts(host);
    const [clientPort = 0, naivePort = 0, servePort = 0] = await freeServerPorts(3);
    await withServe(context, { listen: [{ host: '127.0.0.1', port: clientPort }], workers: 1, fdSoftLimit: facts.fdSoftLimit }, () => clientSide(context, clientPort, host));
    await context.step('limit', `a naive server limited to ${SOFT_LIMIT} descriptors`,
      `start a plain net.createServer that appends a log line to a file for each client, under prlimit --nofile=${SOFT_LIMIT}:${SOFT_LIMIT}, and connect ${fmt(SERVER_CONNECTIONS)} clients`,
      () => naiveServer(context, naivePort, host));
    await context.step('lifted', `connlab serve limited to ${SOFT_LIMIT} descriptors, then lifted`,
      `lower a connlab serve worker to ${SOFT_LIMIT} with prlimit, connect ${fmt(SERVER_CONNECTIONS)} clients, then raise it back`,
      () => connlabServe(context, servePort, host));
    return {
      variant: 'default',
      lift: [
        `spread the sockets over processes: doctor --processes N, connlab load/serve --workers N (each process gets its own ${fmt(facts.fdSoftLimit)})`,
        'raise the soft limit: ulimit -n N (up to the hard limit), prlimit --pid PID --nofile=N:N, LimitNOFILE=N in a systemd unit',
        'raise it for new sessions: "* - nofile N" in /etc/security/limits.conf; above 1,048,576 raise fs.nr_open first',
        'and handle EMFILE at accept(): back off and retry (the handshake is already done; the client is waiting)',
      ],
      details: { soft_limit: SOFT_LIMIT, client_connections: CLIENT_CONNECTIONS, server_connections: SERVER_CONNECTIONS },
    };
  },
};
