// Proof 5: TCP and UDP bound to the same port number at the same time — the protocol
// is the fifth element of the tuple.

import assert from 'node:assert/strict';
import { createSocket } from 'node:dgram';
import { once } from 'node:events';
import { connect, createServer } from 'node:net';
import { describe, it } from 'node:test';
import { freePort } from '../helpers/net.ts';

describe('TCP and UDP on one port number', () => {
  it('both bind it and both carry data at once', async () => {
    const port = await freePort();
    const tcp = createServer((socket) => socket.end('tcp'));
    tcp.listen(port, '127.0.0.1');
    await once(tcp, 'listening');
    const udp = createSocket('udp4');
    udp.bind(port, '127.0.0.1');
    await once(udp, 'listening');
    try {
      assert.equal((udp.address()).port, port);
      const client = connect(port, '127.0.0.1');
      let text = '';
      client.on('data', (chunk: Buffer) => (text += chunk.toString()));
      await once(client, 'end');
      assert.equal(text, 'tcp');
      const sender = createSocket('udp4');
      sender.send('udp', port, '127.0.0.1');
      const [message] = (await once(udp, 'message')) as [Buffer];
      assert.equal(message.toString(), 'udp');
      sender.close();
    } finally {
      udp.close();
      tcp.close();
    }
  });
});
