// Proof 2: one source address and port carries connections to several destination
// ports at the same time, as the kernel's own socket table shows.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { startLoad } from '../../src/load/load.ts';
import { startServe } from '../../src/server/serve.ts';
import { parseIpv4 } from '../../src/tuple/address.ts';
import { establishedSockets, freePortRange } from '../helpers/kernel.ts';

// A source address of its own, so a load running from 127.0.0.2 at the same time
// cannot show up in the kernel's rows.
const SOURCE = '127.0.88.2';

describe('one source port, several destinations', () => {
  it('holds three connections from one source address and port to three server ports at once', async () => {
    const base = await freePortRange(3);
    const sourcePort = base + 5_000;
    const serve = await startServe({ listen: [0, 1, 2].map((i) => ({ host: '127.0.0.1', port: base + i })), workers: 1, fdSoftLimit: 20_000 });
    const load = await startLoad({
      protocol: 'connlab',
      destinations: [0, 1, 2].map((i) => ({ ip: parseIpv4('127.0.0.1') ?? 0, port: base + i })),
      connections: 3,
      sourceIps: [{ first: parseIpv4(SOURCE) ?? 0, last: parseIpv4(SOURCE) ?? 0 }],
      sourcePorts: { first: sourcePort, last: sourcePort },
      fdSoftLimit: 20_000,
      kernelPoolSize: 28_232,
    });
    try {
      await load.rampDone();
      const rows = await establishedSockets(['src', `${SOURCE}:${sourcePort}`]);
      const peers = rows.map((row) => row.trim().split(/\s+/).at(-1)).sort();
      assert.deepEqual(peers, [0, 1, 2].map((i) => `127.0.0.1:${base + i}`));
      assert.deepEqual(await load.ping(), { verified: 3, established: 3 });
    } finally {
      await load.close();
      await serve.close();
    }
  });
});
