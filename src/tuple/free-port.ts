// A port nothing listens on right now (127.0.0.1 unless told): the kernel picks it, the
// probe closes. The port may be taken again before its caller binds it, so callers that
// can fail on EADDRINUSE say so rather than retry blindly.

import { createServer } from 'node:net';

export async function freeLoopbackPort(host = '127.0.0.1'): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, host, resolve);
  });
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}
