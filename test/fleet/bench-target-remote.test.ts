// bench --target against a server on another "host": the server (a Node server with
// prom-client's default metrics) and Debian's node_exporter run in one network
// namespace, connlab bench in another, joined over veth pairs and a bridge. connlab reads
// nothing of that host but its two /metrics endpoints, fits bytes per connection from
// them, and predicts that host's capacity; thresholds judge the result. node_exporter in
// a namespace reads that namespace's /proc/net/sockstat: the server's sockets alone.

import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { describe, it } from 'node:test';
import { renderBenchReport } from '../../src/bench/report-html.ts';
import type { BenchResult } from '../../src/bench/result.ts';
import { renderTargetText } from '../../src/cli/render/bench-target-text.ts';
import type { ThresholdVerdict } from '../../src/thresholds/evaluate.ts';
import { connlabIn, leftoverNamespaces, spawnIn, withHosts, type NetnsHost, type Spawned } from '../helpers/netns.ts';

const NODE_EXPORTER = '/usr/bin/prometheus-node-exporter';
const PREFIX = 'connlab-thresholds-';
const PORT = 24001;
const METRICS_PORT = 24002;
const EXPORTER_PORT = 24100;
const SERVER = new URL('../fixtures/servers/prom-server.mjs', import.meta.url).pathname;

async function until(what: string, timeoutMs: number, ready: () => boolean): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!ready()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/** The server and node_exporter on the server host; resolves once both listen. */
async function startServerHost(host: NetnsHost): Promise<{ server: Spawned; exporter: Spawned }> {
  const server = spawnIn(host, process.execPath, [SERVER, host.address, String(PORT), String(METRICS_PORT)]);
  const exporter = spawnIn(host, NODE_EXPORTER, [
    `--web.listen-address=${host.address}:${EXPORTER_PORT}`, '--collector.disable-defaults',
    '--collector.sockstat', '--collector.meminfo', '--collector.slabinfo', '--collector.filefd', '--collector.netstat',
    '--collector.cpu', '--collector.uname', '--collector.conntrack',
  ]);
  await until('the server', 20_000, () => server.stdout().includes('listening'));
  await until('node_exporter', 20_000, () => exporter.stderr().includes('Listening on'));
  return { server, exporter };
}

type Judged = BenchResult & { thresholds: ThresholdVerdict };

describe('bench --target --server-metrics: a server in another network namespace', { skip: !existsSync(NODE_EXPORTER) && 'prometheus-node-exporter is not installed (.ci/run)' }, () => {
  it('steps up, fits bytes per connection from the endpoints, predicts that host, and judges thresholds', async () => {
    await withHosts(['server', 'client'], async ([serverHost, clientHost]) => {
      const { server } = await startServerHost(serverHost!);
      const base = `http://${serverHost!.address}`;
      const bench = connlabIn(clientHost!, [
        'bench', '--target', `${serverHost!.address}:${PORT}`, '--connections', '3000', '--steps', '3', '--hold', '500ms',
        '--server-metrics', `${base}:${METRICS_PORT}/metrics`, '--server-metrics', `${base}:${EXPORTER_PORT}/metrics`,
        '--no-report', '--json',
        '--threshold', 'verified>=100%', '--threshold', 'errors==0', '--threshold', 'extrapolation.connections>=10k',
        '--threshold', 'memory.server_user_bytes_per_connection>=16KiB', '--threshold', 'connect_ms.p90<30s',
      ]);
      assert.equal(await bench.exited, 0, bench.stderr());
      const r = JSON.parse(bench.stdout()) as Judged;
      const t = r.target!;
      assert.equal(r.outcome, 'completed');
      assert.equal(r.ramp.connect_ms.count, 3000, 'connect latency over every step, from the added histograms');
      assert.ok(r.histograms?.connect_us, 'carried, for merge and for percentiles the summary lacks');
      assert.deepEqual(t.steps.map((s) => [s.target, s.established, s.verified, s.ok]), [[1000, 1000, 1000, true], [2000, 2000, 2000, true], [3000, 3000, 3000, true]]);
      // node_exporter in the server's namespace counts the server's sockets only: 1,000 more each step.
      const sockets = t.steps.map((s) => s.kernel_sockets);
      assert.ok(sockets.every((n, i) => n >= (i + 1) * 1000 && n < (i + 1) * 1000 + 50), `sockstat per step: ${sockets.join(', ')}`);
      assert.equal(t.remote?.memory_metric, 'process_resident_memory_bytes');
      assert.deepEqual(t.remote?.endpoints.map((e) => [e.role, e.error]), [['server', null], ['host', null]]);
      assert.equal(t.remote?.kernel_source, 'slabinfo');
      assert.equal(t.remote?.steps.length, 3);
      assert.equal(t.remote?.failed_scrapes, 0);
      assert.ok(t.remote?.unseen.some((s) => s.startsWith('net.ipv4.tcp_mem')));
      // The server writes a 16 KiB buffer per connection: the fit over its RSS sees at least that.
      assert.ok(t.fit.bytes_per_connection >= 16 * 1024 && t.fit.r2 > 0.9, `fit ${JSON.stringify(t.fit)}`);
      assert.equal(t.server.fd_soft_limit, 20_000, 'process_max_fds from prom-client');
      assert.equal(t.extrapolation.binding, 'process_fds');
      assert.match(t.extrapolation.line, /^holds ~[\d,]+ connections on that host, bound by process_fds/);
      assert.equal(r.thresholds.passed, true, JSON.stringify(r.thresholds.checks));
      assert.equal(server.child.exitCode, null, 'the server is still up');
      assert.match(renderTargetText(r, undefined), /on another host, read from .*:24002\/metrics \(server\)/);
      assert.match(renderTargetText(r, undefined), /not seen +.*net\.ipv4\.tcp_mem/);
      const page = renderBenchReport(r);
      assert.match(page, /Server process_resident_memory_bytes above its idle baseline/);
      assert.match(page, /<th scope="row">Not seen<\/th>/);
      assert.match(page, /data-verdict="pass">All 5 thresholds passed/);
    }, PREFIX);
    assert.deepEqual(await leftoverNamespaces(PREFIX), []);
  });

  it('fails a step when the server dies, and a threshold turns that into exit 1 with the reason', async () => {
    await withHosts(['server', 'client'], async ([serverHost, clientHost]) => {
      const { server } = await startServerHost(serverHost!);
      const base = `http://${serverHost!.address}`;
      const bench = connlabIn(clientHost!, [
        'bench', '--target', `${serverHost!.address}:${PORT}`, '--connections', '3000', '--steps', '3', '--hold', '2s',
        '--server-metrics', `${base}:${METRICS_PORT}/metrics`, '--server-metrics', `${base}:${EXPORTER_PORT}/metrics`,
        '--no-report', '--json', '--threshold', 'verified>=100%',
      ]);
      await until('the first step', 60_000, () => bench.stderr().includes('step 1/3 held'));
      server.child.kill('SIGKILL');
      assert.equal(await bench.exited, 1, bench.stderr());
      const r = JSON.parse(bench.stdout()) as Judged;
      assert.equal(r.outcome, 'failed');
      assert.equal(r.target?.failure?.server_alive, false, 'its /metrics stopped answering');
      assert.ok((r.target?.remote?.failed_scrapes ?? 0) > 0);
      assert.deepEqual(r.thresholds.failed, ['verified>=100%']);
      assert.match(bench.stderr(), /threshold failed: verified>=100%/);
    }, PREFIX);
    assert.deepEqual(await leftoverNamespaces(PREFIX), []);
  });
});
