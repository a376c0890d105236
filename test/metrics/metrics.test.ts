import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { main } from '../../src/cli/main.ts';
import { startLoad } from '../../src/load/load.ts';
import { parseHostPort, startMetricsServer } from '../../src/metrics/http.ts';
import { exposedSeriesNames } from '../../src/metrics/names.ts';
import { ConnlabMetrics } from '../../src/metrics/registry.ts';
import { startServe } from '../../src/server/serve.ts';
import { errorCode } from '../helpers/errors.ts';
import { recordingIo } from '../helpers/io.ts';
import { freePort } from '../helpers/net.ts';

const scrape = async (url: string): Promise<string> => (await fetch(url)).text();

/** The value of one series, found by its exact name and label set. */
function sample(text: string, series: string): number | undefined {
  const line = text.split('\n').find((l) => l.startsWith(`${series} `));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
}

describe('metrics over HTTP', () => {
  it('expose a load shard and its server with role and shard labels, errors by limit, native histograms', async () => {
    const port = await freePort();
    const serve = await startServe({ listen: [{ host: '127.0.0.1', port }], workers: 1, fdSoftLimit: 20_000, reportIntervalMs: 100 });
    const metrics = new ConnlabMetrics();
    metrics.addPool(serve.pool, { role: 'server' });
    const metricsPort = await freePort();
    const server = await startMetricsServer(metrics.registry, '127.0.0.1', metricsPort);
    const url = `http://127.0.0.1:${metricsPort}/metrics`;
    const base = { fdSoftLimit: 20_000, kernelPoolSize: 28_232, workers: 1, reportIntervalMs: 100, protocol: 'connlab' as const };
    const load = await startLoad({ ...base, destinations: [{ ip: 0x7f000001, port }], connections: 3000, shard: { index: 1, count: 3 } });
    metrics.addPool(load.pool, { role: 'load', shard: '2/3' });
    // Nothing listens on `closed`: every connect is refused, counted under its limit.
    const closed = await freePort();
    const refused = await startLoad({ ...base, destinations: [{ ip: 0x7f000001, port: closed }], connections: 5 });
    metrics.addPool(refused.pool, { role: 'load', shard: 'refused' });
    try {
      await Promise.all([load.rampDone(), refused.rampDone()]);
      await load.ping();
      await Promise.all([load.pool.refresh(), refused.pool.refresh(), serve.refresh()]);
      const text = await scrape(url);
      const loadLabels = 'role="load",shard="2/3"';
      assert.equal(sample(text, `connlab_connections{${loadLabels}}`), 1000);
      assert.equal(sample(text, `connlab_connections_peak{${loadLabels}}`), 1000);
      assert.equal(sample(text, `connlab_connections_verified{${loadLabels}}`), 1000);
      assert.equal(sample(text, `connlab_connects_total{${loadLabels}}`), 1000);
      assert.equal(sample(text, 'connlab_connections{role="server"}'), 1000);
      assert.equal(sample(text, 'connlab_accepted_total{role="server"}'), 1000);
      assert.equal(sample(text, `connlab_connect_seconds_count{${loadLabels}}`), 1000);
      assert.equal(sample(text, `connlab_connect_seconds_bucket{le="+Inf",${loadLabels}}`), 1000);
      assert.equal(sample(text, `connlab_rtt_seconds_count{${loadLabels}}`), 1000);
      assert.match(text, /^# TYPE connlab_connect_seconds histogram$/m);
      assert.equal(sample(text, 'connlab_errors_total{role="load",shard="refused",errno="ECONNREFUSED",limit="server"}'), 5);
      assert.ok((sample(text, 'connlab_private_bytes{role="server"}') ?? 0) > 0);
      // Every series in the scrape is a name from the one table.
      const names = new Set(exposedSeriesNames());
      const seen = new Set(text.split('\n').filter((l) => l && !l.startsWith('#')).map((l) => l.split(/[{ ]/)[0] ?? ''));
      for (const name of seen) assert.ok(names.has(name), `${name} is not in src/metrics/names.ts`);
    } finally {
      server.close();
      await Promise.all([load.close(), refused.close()]);
      await serve.close();
    }
  });

  it('reads [HOST:]PORT with 127.0.0.1 as the default host', () => {
    assert.deepEqual(parseHostPort('9464', '--metrics'), { host: '127.0.0.1', port: 9464 });
    assert.deepEqual(parseHostPort('0.0.0.0:9464', '--metrics'), { host: '0.0.0.0', port: 9464 });
    for (const bad of ['', 'x', ':9464', '127.0.0.1:70000']) assert.equal(errorCode(() => parseHostPort(bad, '--metrics')), 'CONNLAB_ERR_INVALID_ARGUMENT', bad);
  });
});

describe('load --metrics and bench --metrics', () => {
  async function scrapeWhile(run: Promise<number>, url: string, until: (text: string) => boolean): Promise<string> {
    let done = false;
    void run.finally(() => (done = true));
    while (!done) {
      const text = await scrape(url).catch(() => '');
      if (until(text)) return text;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    return '';
  }

  it('load serves /metrics while it runs, with its shard', async () => {
    const port = await freePort();
    const serve = await startServe({ listen: [{ host: '127.0.0.1', port }], workers: 1, fdSoftLimit: 20_000 });
    const metricsPort = await freePort();
    try {
      const io = recordingIo();
      const run = main(['load', `127.0.0.1:${port}`, '-c', '2000', '--protocol', 'connlab', '--shard', '1/2', '--duration', '2s', '--metrics', String(metricsPort), '--json'], io);
      const text = await scrapeWhile(run, `http://127.0.0.1:${metricsPort}/metrics`, (t) => sample(t, 'connlab_connections{role="load",shard="1/2"}') === 1000);
      assert.equal(await run, 0, io.err());
      assert.equal(sample(text, 'connlab_connections{role="load",shard="1/2"}'), 1000);
      await assert.rejects(fetch(`http://127.0.0.1:${metricsPort}/metrics`), 'the endpoint closes with the command');
    } finally {
      await serve.close();
    }
  });

  it('bench serves both roles', async () => {
    const metricsPort = await freePort();
    const io = recordingIo();
    const run = main(['bench', '--connections', '2000', '--hold', '2s', '--no-report', '--metrics', `127.0.0.1:${metricsPort}`, '--json'], io);
    const text = await scrapeWhile(run, `http://127.0.0.1:${metricsPort}/metrics`,
      (t) => sample(t, 'connlab_connections{role="load"}') === 2000 && sample(t, 'connlab_connections{role="server"}') === 2000);
    assert.equal(await run, 0, io.err());
    assert.equal(sample(text, 'connlab_connections{role="server"}'), 2000);
  });
});
