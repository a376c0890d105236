// Loopback helpers for tests that open real sockets.

import { once } from 'node:events';
import net from 'node:net';

/** A port nothing listens on right now on `host`. */
export { freeLoopbackPort as freePort } from '../../src/tuple/free-port.ts';

/** A connected plain client socket to 127.0.0.1:port. */
export async function rawSocket(port: number): Promise<net.Socket> {
  const socket = net.connect(port, '127.0.0.1');
  await once(socket, 'connect');
  return socket;
}
