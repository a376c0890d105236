// The soak in 30 seconds: 4,000 connections held by serve and load on loopback while 5%
// of them are reset and reconnected every second (about 6,000 recycled, each connection
// about one and a half times). A leak shows as growth with the number recycled: one
// descriptor per churn would add thousands; the held count must stay whole.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { readHostFacts } from '../../src/limits/host-facts.ts';
import { runSoak, type SoakSample } from '../../src/soak/run-soak.ts';
import { freePort } from '../helpers/net.ts';

const CONNECTIONS = 4000;
const CHURN_PERCENT = 5;
const SECONDS = 30;

const total = (sides: { serve: number; load: number }): number => sides.serve + sides.load;

describe('a 30-second soak with 5% of 4,000 connections recycled every second', () => {
  it('recycles connections without growing descriptors, memory or kernel buffers', async () => {
    const facts = readHostFacts();
    const result = await runSoak({
      connections: CONNECTIONS, churnPercentPerSec: CHURN_PERCENT, durationMs: SECONDS * 1000,
      sampleIntervalMs: 2000, warmupMs: 6000, host: '127.0.0.1', port: await freePort(),
      fdSoftLimit: facts.fdSoftLimit, kernelPoolSize: facts.kernelPoolSize,
    });
    const expected = (CONNECTIONS * CHURN_PERCENT / 100) * SECONDS;
    assert.ok(result.churned >= 0.8 * expected, `recycled ${result.churned} of about ${expected}`);
    assert.equal(result.reconnect_errors, 0);
    // Each churn is in flight for well under a second; a few tens may be mid-handshake.
    const inFlight = CONNECTIONS * CHURN_PERCENT / 100;
    assert.ok(result.established.min.load >= CONNECTIONS - inFlight, JSON.stringify(result.established));
    assert.ok(result.established.min.serve >= CONNECTIONS - inFlight, JSON.stringify(result.established));

    const fitted = result.samples.filter((s: SoakSample) => s.seconds >= 6);
    assert.ok(fitted.length >= 8, `${fitted.length} samples after warm-up`);
    const fds = fitted.map((s) => total(s.descriptors));
    // Two descriptors per connection at most (one each side), plus each worker's fixed
    // few; the spread is the churn in flight, not growth.
    assert.ok(Math.max(...fds) - Math.min(...fds) <= 2 * inFlight, `descriptors ranged ${Math.min(...fds)}-${Math.max(...fds)}`);
    const first = fitted[0] as SoakSample;
    const last = fitted.at(-1) as SoakSample;
    // Node workers' old space grows between major collections, by a few hundred KB a
    // worker over 30 s; a leak of even 1 KB per recycled connection would add 6 MB.
    const privateGrowth = total(last.private_bytes) - total(first.private_bytes);
    assert.ok(privateGrowth < Math.max(4 * 2 ** 20, 0.15 * total(first.private_bytes)), `private memory grew ${privateGrowth} B`);
    // The soak's own sockets only (ss): the host-wide TCP figure moves with anything else.
    const ownGrowth = last.kernel.own_buffer_bytes - first.kernel.own_buffer_bytes;
    assert.ok(ownGrowth < 2 ** 20, `the soak's socket buffers grew ${ownGrowth} B`);
  });
});
