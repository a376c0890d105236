import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import net from 'node:net';
import { createInterface } from 'node:readline';
import { describe, it } from 'node:test';
import type { HolderStats } from '../../src/engine/holder.ts';
import { createNodeHolder } from '../../src/engine/node-holder.ts';
import { encodeFrame } from '../../src/protocol/frame.ts';
import { freePort } from '../helpers/net.ts';
import { waitFor } from '../helpers/wait.ts';
import { holderContract } from './holder-contract.ts';

// libuv binds a planned source with SO_REUSEADDR, so Node shares source ports too.
holderContract('node', createNodeHolder, { sharedSourcePort: true });

/**
 * A node holder listening on `port` in a child whose descriptor limit is `fdLimit`;
 * any line on its stdin makes it print its stats as one JSON line and exit.
 */
function holderWithFewDescriptors(port: number, fdLimit: number) {
  const holderUrl = new URL('../../src/engine/node-holder.ts', import.meta.url).href;
  const script = `import { createNodeHolder } from ${JSON.stringify(holderUrl)};
import { once } from 'node:events';
const holder = createNodeHolder();
await holder.listen('127.0.0.1', ${port});
process.stdout.write('ready\\n');
await once(process.stdin, 'data');
process.stdout.write(JSON.stringify(holder.stats()) + '\\n');
holder.destroy();
process.stdin.destroy();`;
  const command = `ulimit -n ${fdLimit} && exec "$0" --input-type=module -e "$1"`;
  const child = spawn('bash', ['-c', command, process.execPath, script], { stdio: ['pipe', 'pipe', 'inherit'] });
  const lines = createInterface({ input: child.stdout })[Symbol.asyncIterator]();
  return {
    async ready(): Promise<void> {
      assert.equal((await lines.next()).value, 'ready');
    },
    async finalStats(): Promise<HolderStats> {
      child.stdin.write('stats\n');
      const stats = JSON.parse((await lines.next()).value as string) as HolderStats;
      await once(child, 'exit');
      return stats;
    },
    kill: () => child.kill(),
  };
}

describe('node holder: what only the plain-Node holder does', () => {
  it('says it is the node holder', () => {
    const holder = createNodeHolder();
    assert.equal(holder.kind, 'node');
    holder.destroy();
  });

  it('counts connect() tuples as queued until the next turn of the event loop issues them', async () => {
    const holder = createNodeHolder();
    holder.connect(new Uint32Array([0, 0, 0x7f000001, await freePort()]));
    assert.equal(holder.stats().queued, 1);
    await waitFor(() => holder.stats().errors.ECONNREFUSED === 1);
    holder.destroy();
  });

  // Out of descriptors at accept(), libuv closes its reserved descriptor, accepts and
  // closes every waiting connection, and tells JavaScript nothing. So unlike the native
  // holder, errors.EMFILE and acceptBackoffs stay 0 and the peers are closed rather
  // than left in the backlog; what matters is that the holder neither crashes nor spins.
  it('keeps serving the connections it holds when accept runs out of descriptors', async () => {
    const port = await freePort();
    const child = holderWithFewDescriptors(port, 40);
    const clients: net.Socket[] = [];
    try {
      await child.ready();
      let answered = 0;
      let closed = 0;
      for (let i = 0; i < 60; i++) {
        const socket = net.connect(port, '127.0.0.1', () => socket.write(encodeFrame('ping', i, 1)));
        socket.once('data', () => answered++);
        socket.on('error', () => {});
        socket.on('close', () => closed++);
        clients.push(socket);
      }
      await waitFor(() => answered + closed === 60, { describe: () => `${answered} answered, ${closed} closed` });
      assert.ok(answered > 0 && closed > 0, `${answered} answered, ${closed} closed`);
      const stats = await child.finalStats();
      assert.equal(stats.accepted, answered);
      assert.equal(stats.established, answered);
      assert.deepEqual(stats.errors, {});
      assert.equal(stats.acceptBackoffs, 0);
    } finally {
      child.kill();
      for (const socket of clients) socket.destroy();
    }
  });
});
