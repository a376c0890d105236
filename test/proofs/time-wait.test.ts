// EADDRNOTAVAIL explained by what holds the tuples. In a network namespace of its own
// (tcp_tw_reuse 0, as for any non-loopback traffic by default, and a 100-port range), one
// load run closes its connections first and leaves their tuples in TIME_WAIT; a second
// run from the same source at once finds no free port and must blame TIME_WAIT, not a
// full port range, with the counts it read from the socket table.

import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { describe, it } from 'node:test';
import { promisify } from 'node:util';
import { connlabIn, withHosts, type NetnsHost } from '../helpers/netns.ts';
import { waitFor } from '../helpers/wait.ts';

const run = promisify(execFile);
const PORT = 22110;

async function loadOnce(host: NetnsHost): Promise<{ errors: Record<string, number>; explained: { errno: string; cause: string; explanation: string }[]; connections: { established: number } }> {
  const load = connlabIn(host, ['load', `127.0.0.1:${PORT}`, '-c', '100', '--protocol', 'tcp', '--source-ips', '127.0.0.2',
    '--source-ports', 'kernel', '--duration', '0s', '--ping', '0', '--json']);
  await load.exited;
  return JSON.parse(load.stdout()) as Awaited<ReturnType<typeof loadOnce>>;
}

describe('EADDRNOTAVAIL from TIME_WAIT', () => {
  it('is blamed on the TIME_WAIT tuples an earlier run left, not on the port range', { timeout: 120_000 }, async () => {
    await withHosts(['tw'], async ([host]) => {
      if (!host) throw new Error('no host');
      for (const [key, value] of [['net.ipv4.tcp_tw_reuse', '0'], ['net.ipv4.ip_local_port_range', '40000 40099']]) {
        await run('ip', ['netns', 'exec', host.ns, 'sysctl', '-q', '-w', `${key}=${value}`]);
      }
      const serve = connlabIn(host, ['serve', '--listen', `127.0.0.1:${PORT}`, '--duration', '90s']);
      try {
        await waitFor(() => serve.stderr().includes('serving on'), { timeoutMs: 20_000 });
        const first = await loadOnce(host);
        assert.deepEqual([first.connections.established, first.errors], [100, {}]);
        const second = await loadOnce(host);
        assert.ok((second.errors.EADDRNOTAVAIL ?? 0) > 0, `the second run found ports: ${JSON.stringify(second.errors)}`);
        const why = second.explained.find((e) => e.errno === 'EADDRNOTAVAIL');
        assert.equal(why?.cause, 'time_wait', why?.explanation);
        assert.match(why?.explanation ?? '', /\d+ sockets toward the destination were in TIME_WAIT/);
      } finally {
        serve.child.kill('SIGTERM');
        await serve.exited;
      }
    });
  });
});
