// Issue 8's small ones: a sub-second --broadcast-every ran once a second; a partial bench
// result said it held for the requested time and measured no memory; `load -c -1`
// answered "argument is ambiguous".

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { startBench } from '../../src/bench/run-bench.ts';
import { joinNegativeValues } from '../../src/cli/args.ts';
import { main } from '../../src/cli/main.ts';
import { createHostReader } from '../../src/limits/host-reader.ts';
import { readHostSnapshot } from '../../src/limits/snapshot.ts';
import { recordingIo } from '../helpers/io.ts';
import { freePort } from '../helpers/net.ts';

describe('serve --broadcast-every', () => {
  it('honours a sub-second interval', async () => {
    const io = recordingIo();
    const status = await main(['serve', '--listen', `127.0.0.1:${await freePort()}`, '--workers', '1', '--duration', '2s', '--broadcast-every', '200ms'], io);
    assert.equal(status, 0, io.err());
    // Off a terminal the rounds are summarised ("N broadcast rounds in …"), not a line each.
    const single = io.err().match(/^broadcast #\d+ written/gm)?.length ?? 0;
    const summed = [...io.err().matchAll(/^(\d+) broadcast rounds in /gm)].reduce((n, m) => n + Number(m[1]), 0);
    const rounds = single + summed;
    // About 9 in 2 s; once a second would be 1 or 2.
    assert.ok(rounds >= 5, `${rounds} broadcasts in 2 s at 200 ms:\n${io.err()}`);
  });

  it('refuses an interval too short to mean anything, with the usage exit status', async () => {
    for (const every of ['5ms', '0']) {
      const io = recordingIo();
      assert.equal(await main(['serve', '--listen', '127.0.0.1:9', '--broadcast-every', every], io), 2, every);
      assert.match(io.err(), /--broadcast-every.*\[CONNLAB_ERR_INVALID_ARGUMENT\]/);
    }
  });
});

describe('negative numbers on the command line', () => {
  const cases: string[][] = [
    ['load', '127.0.0.1:9000', '-c', '-1'],
    ['load', '127.0.0.1:9000', '--connections', '-5k'],
    ['load', '127.0.0.1:9000', '-c', '10', '--rate', '-100'],
    ['load', '127.0.0.1:9000', '-c', '10', '--duration', '-5s'],
    ['load', '127.0.0.1:9000', '-c', '10', '--ping', '-1.5'],
    ['serve', '--listen', '127.0.0.1:9000', '--workers', '-2'],
    ['serve', '--listen', '127.0.0.1:9000', '--connections', '-1'],
    ['bench', '--connections', '-1'],
    ['bench', '--hold', '-30s'],
  ];
  for (const args of cases) {
    it(`${args.join(' ')}: says the flag cannot be negative, exit 2`, async () => {
      const io = recordingIo();
      assert.equal(await main(args, io), 2);
      const flag = args.find((a, i) => a.startsWith('-') && /^-\.?\d/.test(args[i + 1] ?? ''));
      const long = flag === '-c' ? '--connections' : flag;
      assert.match(io.err(), new RegExp(`${long} "-[^"]*" is not valid: .*not a negative number \\[CONNLAB_ERR_INVALID_ARGUMENT\\]`));
      assert.doesNotMatch(io.err(), /ambiguous/);
    });
  }

  it('leaves values after `--` and values of boolean flags alone', () => {
    const options = { connections: { type: 'string', short: 'c' }, json: { type: 'boolean' } } as const;
    assert.deepEqual(joinNegativeValues(['-c', '-1', '--json', '-2', '--', '-c', '-3'], options), ['--connections=-1', '--json', '-2', '--', '-c', '-3']);
  });
});

describe('a bench stopped during its hold', () => {
  it('reports the time actually held and the memory last measured, not the request and zeros', async () => {
    let stopAt: NodeJS.Timeout | undefined;
    const run = startBench({
      connections: 5_000, holdMs: 60_000, host: readHostSnapshot(createHostReader('/')), kernelPoolSize: 28_232, port: await freePort(), command: 'test',
      onPhase: (phase) => {
        if (phase === 'hold') stopAt = setTimeout(() => run.stop('SIGINT'), 1_500);
      },
    });
    const r = await run.done;
    clearTimeout(stopAt);
    assert.equal(r.outcome, 'SIGINT');
    assert.equal(r.hold_requested_seconds, 60);
    assert.ok(r.hold_seconds >= 1.4 && r.hold_seconds < 10, `held ${r.hold_seconds} s`);
    assert.equal(r.connections.established, 5_000);
    assert.equal(r.connections.verified, 0, 'no verify round ran');
    assert.ok(r.memory.server_user_bytes_per_connection > 0, 'serve memory measured');
    assert.ok(r.memory.load_user_bytes_per_connection > 0, 'load memory measured');
    assert.ok(r.memory.server_private_bytes > 0 && r.memory.load_private_bytes > 0);
    assert.ok(r.memory.kernel_bytes_per_connection > 0, 'kernel memory measured');
    assert.deepEqual(r.deaths, { server: [], load: [] });
  });

  it('reports no hold when stopped during the ramp, and close() says `stopped`', async () => {
    const run = startBench({
      connections: 5_000, holdMs: 60_000, host: readHostSnapshot(createHostReader('/')), kernelPoolSize: 28_232, port: await freePort(), command: 'test',
      onPhase: (phase) => {
        if (phase === 'ramp') void run.close();
      },
    });
    const r = await run.done;
    assert.equal(r.outcome, 'stopped');
    assert.equal(r.hold_seconds, 0);
  });
});
