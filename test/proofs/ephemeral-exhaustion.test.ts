// Proof 3: with one source IP toward one destination and kernel-chosen ports, connect()
// fails with EADDRNOTAVAIL after exactly as many connections as ip_local_port_range
// holds. The range is narrowed for the test and restored afterwards, also on failure.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { classifyErrno } from '../../src/load/classify.ts';
import { startLoad } from '../../src/load/load.ts';
import { startServe } from '../../src/server/serve.ts';
import { parseIpv4 } from '../../src/tuple/address.ts';
import { withSysctl } from '../helpers/kernel.ts';
import { freePort } from '../helpers/net.ts';

// Above the default range (32768-60999): no listener or earlier socket holds a port here,
// and connect() skips ports that any bound socket holds.
const RANGE = { first: 61_000, last: 61_499 };
const POOL = RANGE.last - RANGE.first + 1;

describe('ephemeral port exhaustion', () => {
  it('stops at the range size with EADDRNOTAVAIL, classified as ephemeral ports', async () => {
    const port = await freePort();
    const source = parseIpv4('127.0.0.9') ?? 0;
    const serve = await startServe({ listen: [{ host: '127.0.0.1', port }], workers: 1, fdSoftLimit: 20_000 });
    try {
      await withSysctl('net.ipv4.ip_local_port_range', `${RANGE.first} ${RANGE.last}`, async () => {
        const load = await startLoad({
      protocol: 'connlab',
          destinations: [{ ip: parseIpv4('127.0.0.1') ?? 0, port }],
          connections: POOL + 100,
          sourceIps: [{ first: source, last: source }],
          sourcePorts: 'kernel',
          fdSoftLimit: 20_000,
          // What the planner believed before the range was narrowed: the kernel decides.
          kernelPoolSize: 28_232,
        });
        await load.rampDone();
        const result = await load.close();
        assert.equal(result.connections.established, POOL);
        assert.deepEqual(result.errors, { EADDRNOTAVAIL: 100 });
        assert.equal(result.explained[0]?.cause, 'ephemeral_ports');
      });
    } finally {
      await serve.close();
    }
    assert.equal(classifyErrno('EADDRNOTAVAIL').cause, 'ephemeral_ports');
  });
});
