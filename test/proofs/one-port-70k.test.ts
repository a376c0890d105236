// Proof 1: more than 65,535 concurrent connections to ONE server address and port from
// this one host, counted by serve, by load and by the kernel, each verified by a ping.

import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { startLoad, type LoadHandle } from '../../src/load/load.ts';
import { startServe, type ServeHandle } from '../../src/server/serve.ts';
import { parseIpv4 } from '../../src/tuple/address.ts';
import { establishedSockets, isGone } from '../helpers/kernel.ts';
import { freePort } from '../helpers/net.ts';
import { waitFor } from '../helpers/wait.ts';

const CONNECTIONS = 70_000;

describe('70,000 connections to one port from one host', () => {
  let serve: ServeHandle | undefined;
  let load: LoadHandle | undefined;
  after(async () => {
    await load?.close();
    await serve?.close();
  });

  it('are established, counted three ways, verified, and leave no process behind', async () => {
    const port = await freePort();
    serve = await startServe({ listen: [{ host: '127.0.0.1', port }], connections: CONNECTIONS, fdSoftLimit: 20_000, reportIntervalMs: 250 });
    load = await startLoad({
      protocol: 'connlab',
      destinations: [{ ip: parseIpv4('127.0.0.1') ?? 0, port }],
      connections: CONNECTIONS,
      fdSoftLimit: 20_000,
      kernelPoolSize: 28_232,
      reportIntervalMs: 250,
    });
    await load.rampDone();
    assert.ok(load.plan.sourceIps >= 2, 'past one source address: the planner added a second');

    const ping = await load.ping(20_000);
    assert.deepEqual(ping, { verified: CONNECTIONS, established: CONNECTIONS });
    const server = serve;
    await waitFor(() => server.stats().connections === CONNECTIONS, { timeoutMs: 5_000, describe: () => `serve holds ${server.stats().connections}` });
    assert.equal((await establishedSockets(['sport', '=', `:${port}`])).length, CONNECTIONS, 'kernel: server side sockets on the one port');

    const pids = [...serve.pool.pids(), ...load.pool.pids()];
    const result = await load.close();
    load = undefined;
    assert.equal(result.connections.established, CONNECTIONS);
    assert.equal(result.connections.verified, CONNECTIONS);
    assert.deepEqual(result.errors, {});
    await serve.close();
    serve = undefined;
    assert.ok(pids.every(isGone), 'every worker process has exited');
  });
});
