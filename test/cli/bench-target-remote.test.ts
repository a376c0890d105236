// bench --target --server-metrics refuses what cannot work before a connection is opened:
// a URL that is not http(s), a server named twice (PID and metrics), a memory metric
// without endpoints, and endpoints none of which answers.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { freePort } from '../helpers/net.ts';
import { runMain as run } from '../helpers/io.ts';


describe('bench --target --server-metrics: bad input', () => {
  it('exits 2 with the code and the flag named', async () => {
    const silent = await freePort();
    const cases: [string[], string, RegExp][] = [
      [['--server-metrics', 'ftp://10.0.0.5/metrics'], 'CONNLAB_ERR_INVALID_ARGUMENT', /--server-metrics "ftp:/],
      [['--server-metrics', 'not a url'], 'CONNLAB_ERR_INVALID_ARGUMENT', /--server-metrics/],
      [['--server-metrics', 'http://127.0.0.1:9100/metrics', '--server-pid', '1'], 'CONNLAB_ERR_USAGE', /drop --server-pid/],
      [['--server-pid', '1', '--server-memory-metric', 'rss'], 'CONNLAB_ERR_USAGE', /--server-memory-metric needs --server-metrics/],
      [['--server-metrics', 'http://127.0.0.1:9100/metrics', '--server-memory-metric', 'bad name'], 'CONNLAB_ERR_INVALID_ARGUMENT', /--server-memory-metric/],
      [['--server-metrics', `http://127.0.0.1:${silent}/metrics`], 'CONNLAB_ERR_INVALID_ARGUMENT', /no endpoint answered .*ECONNREFUSED/],
    ];
    for (const [flags, code, message] of cases) {
      const { status, err } = await run(['bench', '--target', `127.0.0.1:${silent}`, '--no-report', ...flags]);
      assert.equal(status, 2, flags.join(' '));
      assert.ok(err.includes(`[${code}]`), `${flags.join(' ')}: ${err}`);
      assert.match(err, message);
    }
  });

  it('still refuses a non-loopback target without --server-metrics', async () => {
    const { status, err } = await run(['bench', '--target', '198.18.0.1:8080', '--server-pid', String(process.pid), '--no-report']);
    assert.equal(status, 2);
    assert.match(err, /loopback/);
  });
});
