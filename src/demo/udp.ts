// Demo `udp`: the protocol is the fifth element of the tuple. A TCP listener and a UDP
// socket hold the same port number at the same time, and both carry traffic: connlab
// serve holds TCP connections on the port (verified by a ping round trip) while a UDP
// socket bound to the same address and port echoes datagrams. A second TCP listener on
// that port, by contrast, collides: same protocol, same address, same port.

import { createSocket, type Socket as UdpSocket } from 'node:dgram';
import { once } from 'node:events';
import { createServer } from 'node:net';
import { engineFacts, withServe } from './engine-runs.ts';
import { openClients } from './clients.ts';
import { freeServerPorts, ssAddresses, ssRows } from './kernel.ts';
import { fmt } from './predict.ts';
import type { DemoContext, DemoDefinition, StepObservation } from './types.ts';

const TCP_CONNECTIONS = 100;
const DATAGRAMS = 100;
const TIMEOUT_MS = 5_000;

async function bindUdp(port: number): Promise<UdpSocket> {
  const socket = createSocket('udp4');
  socket.bind(port, '127.0.0.1');
  await once(socket, 'listening');
  socket.on('message', (message, from) => socket.send(message, from.port, from.address));
  return socket;
}

/** Sends `count` datagrams to the port from a second UDP socket; resolves with the echoes. */
async function echoDatagrams(port: number, count: number): Promise<number> {
  const sender = createSocket('udp4');
  let echoed = 0;
  const all = new Promise<void>((resolve) => sender.on('message', () => {
    if (++echoed === count) resolve();
  }));
  sender.bind(0, '127.0.0.1');
  await once(sender, 'listening');
  for (let i = 0; i < count; i++) sender.send(`udp ${i}`, port, '127.0.0.1');
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([all, new Promise((resolve) => (timer = setTimeout(resolve, TIMEOUT_MS)))]);
  clearTimeout(timer);
  sender.close();
  return echoed;
}

/** Tries a plain second TCP listener on the port: the errno it gets, or null. */
async function secondTcpListener(port: number): Promise<string | null> {
  const server = createServer();
  try {
    server.listen({ port, host: '127.0.0.1', exclusive: true });
    await once(server, 'listening');
    return null;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code ?? 'unknown';
  } finally {
    server.close();
  }
}

async function bothAtOnce(context: DemoContext, port: number): Promise<StepObservation> {
  const udp = await bindUdp(port);
  const clients = openClients(context, '127.0.0.1', port, TCP_CONNECTIONS, TIMEOUT_MS);
  try {
    await clients.settled(TIMEOUT_MS);
    clients.holder.pingAll(1);
    const tcp = await clients.until((s) => s.verified === s.established, TIMEOUT_MS);
    const echoed = await echoDatagrams(port, DATAGRAMS);
    const rows = await ssRows(['-tuln', 'sport', '=', `:${port}`]);
    const error = Object.keys(tcp.errors)[0] ?? (echoed < DATAGRAMS ? 'udp-lost' : null);
    return {
      predicted: { error: null, connections: TCP_CONNECTIONS },
      observed: { error, connections: tcp.verified },
      because: 'a socket is found by (protocol, source IP, source port, destination IP, destination port): TCP and UDP on one port number never share a tuple',
      tolerance: `and all ${DATAGRAMS} datagrams come back from the UDP socket on the same port`,
      matches: error === null && tcp.verified === TCP_CONNECTIONS && echoed === DATAGRAMS,
      evidence: [
        `TCP: ${fmt(tcp.established)} connections to 127.0.0.1:${port}, ${fmt(tcp.verified)} answered a ping`,
        `UDP: ${fmt(echoed)} of ${fmt(DATAGRAMS)} datagrams echoed by the socket bound to 127.0.0.1:${port}`,
        ...rows.map((row) => `kernel: ${row.trim().split(/\s+/)[0]} ${row.trim().split(/\s+/)[1]} ${ssAddresses(row).local}`),
      ],
    };
  } finally {
    clients.destroy();
    udp.close();
  }
}

export const udpDemo: DemoDefinition = {
  name: 'udp',
  title: 'TCP and UDP on one port number: the fifth element of the tuple',
  summary: 'A TCP server holding connections and a UDP socket bound to the same port at the same time, both carrying data; only a second TCP listener on that port collides.',
  changesSettings: false,
  async run(context) {
    const [port = 0] = await freeServerPorts(1);
    const facts = engineFacts(context.host());
    await withServe(context, { listen: [{ host: '127.0.0.1', port }], workers: 1, fdSoftLimit: facts.fdSoftLimit }, async () => {
      await context.step('evidence', 'TCP and UDP on the same port at once',
        `connlab serve listens on TCP 127.0.0.1:${port}; bind UDP 127.0.0.1:${port} too, hold ${TCP_CONNECTIONS} TCP connections and echo ${DATAGRAMS} datagrams`,
        () => bothAtOnce(context, port));
      await context.step('limit', 'a second TCP listener on that port',
        `listen on TCP 127.0.0.1:${port} again from a plain server (no SO_REUSEPORT)`,
        async () => {
          const error = await secondTcpListener(port);
          return {
            predicted: { error: 'EADDRINUSE', connections: 0 },
            observed: { error, connections: 0 },
            because: 'same protocol, same address, same port: that tuple is taken (connlab serve shares it only with its own SO_REUSEPORT workers)',
            evidence: [`listen() on TCP 127.0.0.1:${port}: ${error ?? 'succeeded'}`],
          };
        });
    });
    return {
      variant: 'default',
      lift: [
        'nothing to lift: a port number is not a resource TCP and UDP compete for — HTTP/3 (QUIC, UDP) and HTTP/1-2 (TCP) share 443 this way',
        'two TCP servers on one port need SO_REUSEPORT on both (the kernel then balances them), as connlab serve workers do',
      ],
      details: { port, tcp_connections: TCP_CONNECTIONS, datagrams: DATAGRAMS },
    };
  },
};
