// Loopback helpers for tests that open real sockets.

import { once } from 'node:events';
import net from 'node:net';

/** A port nothing listens on right now on `host`: bind 0, read it, close. */
export async function freePort(host = '127.0.0.1'): Promise<number> {
  const server = net.createServer();
  server.listen(0, host);
  await once(server, 'listening');
  const { port } = server.address() as net.AddressInfo;
  server.close();
  await once(server, 'close');
  return port;
}

/** A connected plain client socket to 127.0.0.1:port. */
export async function rawSocket(port: number): Promise<net.Socket> {
  const socket = net.connect(port, '127.0.0.1');
  await once(socket, 'connect');
  return socket;
}
