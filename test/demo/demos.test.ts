// Every demo on this machine: its JSON carries the contract keys, the observation matches
// doctor's prediction, and whatever it changed reads back as before. Run serially: the
// demos open up to 70,000 connections and change ip_local_port_range.

import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { main } from '../../src/cli/main.ts';
import { runNamedDemo } from '../../src/demo/index.ts';
import { choosePortsVariant } from '../../src/demo/ports.ts';
import { normalizeSetting } from '../../src/demo/settings.ts';
import { DEMO_NAMES, type DemoResult } from '../../src/demo/types.ts';
import { recordingIo } from '../helpers/io.ts';

const readRange = (): string => normalizeSetting(readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8'));
const somaxconn = Number(readFileSync('/proc/sys/net/core/somaxconn', 'utf8'));

async function demoJson(name: string, extra: string[] = []): Promise<DemoResult> {
  const io = recordingIo({ uid: 0 });
  const status = await main(['demo', name, '--json', ...extra], io);
  assert.equal(status, 0, io.err());
  return JSON.parse(io.out()) as DemoResult;
}

function assertContract(result: DemoResult, name: string): void {
  assert.equal(result.schema, 'connlab.demo/1');
  assert.equal(result.name, name);
  for (const key of ['predicted', 'observed'] as const) {
    assert.deepEqual(Object.keys(result[key]).sort(), ['connections', 'error']);
  }
  assert.deepEqual(result.observed, result.predicted, `${name}: observed matches predicted`);
  assert.equal(result.restored, true);
  assert.equal(result.matches, true, JSON.stringify(result.steps.filter((s) => !s.matches), null, 2));
  assert.ok(result.steps.length >= 1 && result.lift.length >= 1);
}

describe('connlab demo', () => {
  it('ports: EADDRNOTAVAIL after exactly the narrowed range, doubled by a second port or source, range restored', async () => {
    const before = readRange();
    const result = await demoJson('ports');
    assertContract(result, 'ports');
    assert.deepEqual(result.predicted, { error: 'EADDRNOTAVAIL', connections: 1000 });
    assert.deepEqual(result.steps.map((s) => s.observed), [
      { error: 'EADDRNOTAVAIL', connections: 1000 },
      { error: 'EADDRNOTAVAIL', connections: 2000 },
      { error: 'EADDRNOTAVAIL', connections: 2000 },
    ]);
    assert.equal(result.settings[0]?.name, 'net.ipv4.ip_local_port_range');
    assert.equal(result.settings[0]?.from, before);
    assert.equal(readRange(), before);
  });

  it('tuple: more than 65,535 connections to one port and one source port to three destinations', async () => {
    const result = await demoJson('tuple');
    assertContract(result, 'tuple');
    assert.ok(result.observed.connections > 65_535);
    assert.deepEqual(result.steps[1]?.observed, { error: null, connections: 3 });
  });

  it('fds: EMFILE under a lowered limit; a naive server dies of it, connlab serve survives and holds all once lifted', async () => {
    const result = await demoJson('fds');
    assert.equal(result.name, 'fds');
    assert.equal(result.predicted.error, 'EMFILE');
    assert.equal(result.observed.error, 'EMFILE');
    assert.ok(result.observed.connections >= result.predicted.connections && result.observed.connections < 300);
    assert.equal(result.matches, true, JSON.stringify(result.steps, null, 2));
    assert.equal(result.restored, true);
    assert.deepEqual(result.steps.map((s) => s.observed), [
      result.observed,
      { error: null, connections: 600 },
      { error: 'EMFILE', connections: 0 },
      { error: null, connections: 500 },
    ]);
  });

  it('backlog: min(backlog, somaxconn) + 1 handshakes, the rest time out', async () => {
    const result = await demoJson('backlog');
    assertContract(result, 'backlog');
    assert.deepEqual(result.observed, { error: 'ETIMEDOUT', connections: Math.min(4, somaxconn) + 1 });
  });

  it('udp: TCP connections and a UDP socket on one port at once', async () => {
    const result = await demoJson('udp');
    assertContract(result, 'udp');
    assert.deepEqual(result.observed, { error: null, connections: 100 });
    assert.deepEqual(result.steps[1]?.observed, { error: 'EADDRINUSE', connections: 0 });
  });

  it('memory: kernel bytes per connection by slab cache, near doctor\'s figure', async () => {
    const result = await demoJson('memory', ['--connections', '5000']);
    assertContract(result, 'memory');
    assert.deepEqual(result.observed, { error: null, connections: 5000 });
    const caches = result.details.caches as { cache: string; objects_per_connection: number }[];
    assert.ok(caches.some((c) => c.cache === 'TCP' && Math.abs(c.objects_per_connection - 2) < 0.2), JSON.stringify(caches));
  });

  it('restores the port range when a demo throws midway', async () => {
    const before = readRange();
    let narrowed = '';
    await assert.rejects(
      runNamedDemo('ports', {
        uid: 0,
        afterStep: () => {
          narrowed = readRange();
          throw new Error('midway');
        },
      }),
      /midway/,
    );
    assert.notEqual(narrowed, before, 'the range was narrowed when the step ended');
    assert.equal(readRange(), before);
  });

  it('without root, ports says so in one line and runs the variant that needs none', () => {
    const { variant, why } = choosePortsVariant(1000, undefined);
    assert.equal(variant, 'full-range');
    assert.match(why ?? '', /needs root/);
    assert.ok(!(why ?? '').includes('\n'));
    assert.deepEqual(choosePortsVariant(0, undefined), { variant: 'narrowed', why: null });
    assert.deepEqual(choosePortsVariant(0, 'full-range'), { variant: 'full-range', why: null });
  });

  it('answers a bad name or a missing one with a usage error and exit status 2', async () => {
    for (const args of [['demo'], ['demo', 'nope'], ['demo', 'ports', 'tuple'], ['demo', 'ports', '--frobnicate']]) {
      const io = recordingIo({ uid: 0 });
      assert.equal(await main(args, io), 2, args.join(' '));
      assert.match(io.err(), /\[CONNLAB_ERR_USAGE\]/);
      assert.equal(io.out(), '');
    }
  });

  it('lists every demo in its help', async () => {
    const io = recordingIo();
    assert.equal(await main(['demo', '--help'], io), 0);
    for (const name of DEMO_NAMES) assert.match(io.out(), new RegExp(`^  ${name} `, 'm'));
  });
});
