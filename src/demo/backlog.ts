// Demo `backlog`: a listener that never calls accept(). The kernel still completes
// handshakes on its own and queues them for accept(): min(backlog, somaxconn) + 1 of
// them (the queue is full only when it holds more than the backlog). Past that, each
// SYN is dropped — ListenOverflows and ListenDrops rise — and the client retries it
// until its connect times out.
//
// Node's net.Server accepts as soon as its event loop runs, even with pauseOnConnect
// (that only pauses reading), and connlab's holders accept too. So the listener lives
// in a worker thread that calls listen() and then blocks in Atomics.wait: that thread's
// event loop never runs again, so nothing ever calls accept() on the socket. The main
// thread wakes it with Atomics.notify to close; the wait also ends by itself after a
// bounded time.

import { once } from 'node:events';
import { Worker } from 'node:worker_threads';
import { counterDelta, readNetstatCounters } from '../probe/netstat.ts';
import { openClients } from './clients.ts';
import { ssAddresses, ssRows } from './kernel.ts';
import { fmt } from './predict.ts';
import type { DemoContext, DemoDefinition, StepObservation } from './types.ts';

const CLIENTS = 20;
const SMALL_BACKLOG = 4;
const LARGE_BACKLOG = 100_000;
const CONNECT_TIMEOUT_MS = 2_500;
/** The listener thread gives up waiting by itself after this, whatever happens. */
const LISTENER_MAX_MS = 30_000;

const LISTENER_CODE = `
const { parentPort, workerData } = require('node:worker_threads');
const net = require('node:net');
const server = net.createServer();
server.on('error', (error) => parentPort.postMessage({ error: error.code }));
server.listen({ host: '127.0.0.1', port: 0, backlog: workerData.backlog }, () => {
  parentPort.postMessage({ port: server.address().port });
  Atomics.wait(workerData.flag, 0, 0, workerData.maxMs);
  server.close();
});`;

interface Listener {
  port: number;
  close(): Promise<void>;
}

/** A listening socket on 127.0.0.1 with `backlog` that never accepts. */
async function nonAcceptingListener(context: DemoContext, backlog: number): Promise<Listener> {
  const flag = new Int32Array(new SharedArrayBuffer(4));
  const worker = new Worker(LISTENER_CODE, { eval: true, workerData: { backlog, flag, maxMs: LISTENER_MAX_MS } });
  const wake = (): void => {
    Atomics.store(flag, 0, 1);
    Atomics.notify(flag, 0);
  };
  const off = context.onAbort(wake);
  const [message] = (await once(worker, 'message')) as [{ port?: number; error?: string }];
  const close = async (): Promise<void> => {
    off();
    const exited = once(worker, 'exit');
    wake();
    await exited;
  };
  if (message.port === undefined) {
    await close();
    throw new Error(`the demo listener could not listen: ${message.error}`);
  }
  return { port: message.port, close };
}

/** The listener's row in ss: Recv-Q is the accept queue now, Send-Q its limit. */
async function listenQueue(port: number): Promise<{ queued: number; limit: number; row: string }> {
  const [row = ''] = await ssRows(['-ltn', 'sport', '=', `:${port}`]);
  const fields = row.trim().split(/\s+/);
  // -l rows: State Recv-Q Send-Q Local Peer
  return { queued: Number(fields[1]), limit: Number(fields[2]), row: `${ssAddresses(row).local} Recv-Q ${fields[1]} Send-Q ${fields[2]}` };
}

async function tryBacklog(context: DemoContext, backlog: number, predictedQueue: number, because: string): Promise<StepObservation> {
  const listener = await nonAcceptingListener(context, backlog);
  try {
    const before = await readNetstatCounters();
    const clients = openClients(context, '127.0.0.1', listener.port, CLIENTS, CONNECT_TIMEOUT_MS);
    try {
      // The handshakes that fit complete at once on loopback; wait for the rest to time out.
      const stats = await clients.settled(CONNECT_TIMEOUT_MS + 2_000);
      const queue = await listenQueue(listener.port);
      const delta = counterDelta(before, await readNetstatCounters());
      const timedOut = stats.errors.ETIMEDOUT ?? 0;
      const predicted = { error: predictedQueue < CLIENTS ? 'ETIMEDOUT' : null, connections: Math.min(CLIENTS, predictedQueue) };
      const observed = { error: timedOut > 0 ? 'ETIMEDOUT' : (Object.keys(stats.errors)[0] ?? null), connections: stats.established };
      const dropped = CLIENTS - predicted.connections;
      return {
        predicted,
        observed,
        because,
        tolerance: dropped > 0 ? `and ListenOverflows rises by at least ${dropped} (every dropped SYN counts, retries too; the counter is host-wide)` : undefined,
        matches: observed.error === predicted.error && observed.connections === predicted.connections &&
          delta['TcpExt.ListenOverflows'] >= dropped && queue.queued === predicted.connections,
        evidence: [
          `${CLIENTS} clients: ${fmt(stats.established)} connected, ${fmt(timedOut)} timed out after ${CONNECT_TIMEOUT_MS} ms; accept() was never called`,
          `kernel listen queue (ss -lnt): ${queue.row}`,
          `TcpExt.ListenOverflows +${fmt(delta['TcpExt.ListenOverflows'])}, ListenDrops +${fmt(delta['TcpExt.ListenDrops'])}`,
        ],
      };
    } finally {
      clients.destroy();
    }
  } finally {
    await listener.close();
  }
}

export const backlogDemo: DemoDefinition = {
  name: 'backlog',
  title: 'The accept queue: handshakes the kernel completes before accept()',
  summary: 'A listener with a tiny backlog that never accepts: min(backlog, somaxconn) + 1 handshakes complete, the rest of the SYNs are dropped (ListenOverflows) and those clients time out; somaxconn caps whatever backlog listen() asks for.',
  changesSettings: false,
  async run(context) {
    const host = context.host();
    const somaxconn = host.backlog.somaxconn ?? 4096;
    const small = Math.min(SMALL_BACKLOG, somaxconn);
    const large = Math.min(LARGE_BACKLOG, somaxconn);
    await context.step('limit', `backlog ${SMALL_BACKLOG}, never accepting`,
      `listen(backlog ${SMALL_BACKLOG}) on 127.0.0.1 without ever calling accept(), then connect ${CLIENTS} clients that give up after ${CONNECT_TIMEOUT_MS} ms`,
      () => tryBacklog(context, SMALL_BACKLOG, small + 1,
        `the accept queue holds min(backlog ${SMALL_BACKLOG}, somaxconn ${fmt(somaxconn)}) + 1 = ${small + 1} completed handshakes; doctor: backlog — "handshakes beyond the accept queue are dropped; clients retry the SYN and time out"`));
    await context.step('lifted', `backlog ${fmt(LARGE_BACKLOG)} asked, somaxconn ${fmt(somaxconn)} given`,
      `the same listener asking listen(backlog ${fmt(LARGE_BACKLOG)}), still never accepting: the kernel caps it at somaxconn`,
      () => tryBacklog(context, LARGE_BACKLOG, large + 1,
        `the queue is min(${fmt(LARGE_BACKLOG)}, somaxconn ${fmt(somaxconn)}) + 1 = ${fmt(large + 1)}: all ${CLIENTS} fit without a single accept()`));
    return {
      variant: 'default',
      lift: [
        'accept faster than connections arrive: the backlog only absorbs bursts (connlab serve accepts on every worker through SO_REUSEPORT)',
        'ask for a larger backlog in listen() (Node: server.listen({ backlog }), default 511; connlab serve --backlog)',
        `raise the cap: sysctl -w net.core.somaxconn=65535 (now ${fmt(somaxconn)}), and net.ipv4.tcp_max_syn_backlog for half-open handshakes (now ${fmt(host.backlog.tcpMaxSynBacklog ?? 0)})`,
      ],
      details: { somaxconn, tcp_max_syn_backlog: host.backlog.tcpMaxSynBacklog ?? null, syncookies: host.backlog.syncookies ?? null, clients: CLIENTS },
    };
  },
};
