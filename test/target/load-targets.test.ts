// `connlab load` with targets as users write them, end to end: a name with several A and
// AAAA records from a real DNS server (dnsmasq) spreads connections over every address
// (the kernel's socket table shows it), a URL sets the protocol, path and Host, --resolve
// pins a name, and IPv6 literals work in every engine (C worker, Node worker over the
// native holder, plain-Node holder) against serve on [::] (dual-stack) and [::1].

import assert from 'node:assert/strict';
import { once } from 'node:events';
import http from 'node:http';
import { after, before, describe, it } from 'node:test';
import { WebSocketServer } from 'ws';
import { startServe, type ServeHandle } from '../../src/server/serve.ts';
import { startDnsmasq, type Dnsmasq } from '../helpers/dnsmasq.ts';
import { runMain as run } from '../helpers/io.ts';
import { establishedSockets } from '../helpers/kernel.ts';
import { freePort } from '../helpers/net.ts';
import { waitFor } from '../helpers/wait.ts';


describe('load to a name with several A and AAAA records (dnsmasq)', () => {
  let dns: Dnsmasq;
  let serve: ServeHandle;
  let port: number;
  before(async () => {
    dns = await startDnsmasq({ 'multi.connlab.test': ['127.0.0.21', '127.0.0.22', '127.0.0.23', '::1'] });
    port = await freePort();
    serve = await startServe({ listen: [{ host: '::', port }], workers: 1, fdSoftLimit: 20_000, reportIntervalMs: 100 });
  });
  after(async () => {
    await serve?.close();
    await dns?.close();
  });

  it('spreads the connections over every address, prints them and puts them in the JSON', async () => {
    const running = run(['load', `multi.connlab.test:${port}`, '--dns-server', dns.server, '-c', '400', '--protocol', 'connlab', '--duration', '3s', '--ping', '0', '--json']);
    await waitFor(() => serve.stats().connections === 400, { timeoutMs: 15_000, describe: () => `serve holds ${serve.stats().connections}` });
    const perAddress = await Promise.all(['127.0.0.21', '127.0.0.22', '127.0.0.23', '[::1]'].map(async (a) => (await establishedSockets(['dst', `${a}:${port}`])).length));
    assert.deepEqual(perAddress, [100, 100, 100, 100], 'ss: a quarter of the connections to each address');
    const { status, out } = await running;
    assert.equal(status, 0);
    const result = JSON.parse(out);
    assert.equal(result.connections.verified, 400);
    assert.deepEqual(result.targets.resolved, [{ name: 'multi.connlab.test', addresses: ['127.0.0.21', '127.0.0.22', '127.0.0.23', '::1'], via: 'dns' }]);
    assert.deepEqual(result.targets.destinations, ['127.0.0.21', '127.0.0.22', '127.0.0.23', '[::1]'].map((a) => `${a}:${port}`));
    assert.equal(result.plan.destinations, 4, 'each address is a four-tuple pool of its own');
  });

  it('uses only the family asked for', async () => {
    const { status, out, err } = await run(['load', `multi.connlab.test:${port}`, '--dns-server', dns.server, '--ip-family', '6', '-c', '50', '--protocol', 'connlab', '--duration', '0s', '--ping', '0', '--json']);
    assert.equal(status, 0, err);
    assert.deepEqual(JSON.parse(out).targets.destinations, [`[::1]:${port}`]);
  });

  it('fails before anything starts, exit 2, with the resolver\'s error for a name it does not know', async () => {
    const { status, err } = await run(['load', `nowhere.connlab.test:${port}`, '--dns-server', dns.server, '-c', '1']);
    assert.equal(status, 2);
    assert.match(err, /cannot resolve nowhere\.connlab\.test: ENOTFOUND \[CONNLAB_ERR_INVALID_ARGUMENT\]/);
  });
});

describe('load to a URL', () => {
  let server: http.Server;
  let port: number;
  const seen: { url: string | undefined; host: string | undefined }[] = [];
  before(async () => {
    server = http.createServer((req, res) => {
      seen.push({ url: req.url, host: req.headers.host });
      res.end('ok');
    });
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    port = (server.address() as { port: number }).port;
  });
  after(() => new Promise<void>((resolve) => { server.closeAllConnections(); server.close(() => resolve()); }));

  it('speaks the scheme\'s protocol with the URL\'s path and the name as Host, pinned by --resolve', async () => {
    const { status, err } = await run(['load', `http://pinned.connlab.test:${port}/health?probe=1`, '--resolve', `pinned.connlab.test:${port}:127.0.0.1`, '-c', '3', '--duration', '0s', '--ping', '0']);
    assert.equal(status, 0, err);
    assert.match(err, /pinned\.connlab\.test → 127\.0\.0\.1 \(resolve\)/);
    assert.ok(seen.length >= 3);
    for (const s of seen) assert.deepEqual(s, { url: '/health?probe=1', host: `pinned.connlab.test:${port}` });
  });

  it('refuses a flag that contradicts the URL, exit 2, before connecting', async () => {
    const before = seen.length;
    for (const flags of [['--protocol', 'ws'], ['--tls'], ['--path', '/other']]) {
      const { status, err } = await run(['load', `http://127.0.0.1:${port}/health`, '-c', '1', ...flags]);
      assert.equal(status, 2, flags.join(' '));
      assert.match(err, /\[CONNLAB_ERR_USAGE\]/);
    }
    assert.equal(seen.length, before);
  });
});

describe('load to a ws:// URL', () => {
  it('asks for the URL\'s path and query in the upgrade, with the name as Host, over IPv6 when the name pins to ::1', async () => {
    const seen: { url: string | undefined; host: string | undefined }[] = [];
    const wss = new WebSocketServer({ host: '::1', port: 0 });
    wss.on('connection', (_socket, req) => seen.push({ url: req.url, host: req.headers.host }));
    await once(wss, 'listening');
    const port = (wss.address() as { port: number }).port;
    try {
      const { status, err } = await run(['load', `ws://socket.connlab.test:${port}/live?room=7`, '--resolve', `socket.connlab.test:${port}:[::1]`, '-c', '20', '--duration', '0s', '--ping', '0']);
      assert.equal(status, 0, err + JSON.stringify(seen));
      assert.equal(seen.length, 20);
      for (const s of seen) assert.deepEqual(s, { url: '/live?room=7', host: `socket.connlab.test:${port}` });
    } finally {
      for (const client of wss.clients) client.terminate();
      await new Promise<void>((resolve) => wss.close(() => resolve()));
    }
  });
});

describe('serve --listen [::] is dual-stack in every serving engine', () => {
  for (const engine of [{ workerRuntime: 'c' }, { workerRuntime: 'node', holder: 'native' }, { holder: 'node' }] as const) {
    it(`takes IPv4 and IPv6 on one [::] listener with ${JSON.stringify(engine)}`, async () => {
      const port = await freePort();
      const serve = await startServe({ listen: [{ host: '::', port }], workers: 1, fdSoftLimit: 20_000, reportIntervalMs: 100, ...engine });
      try {
        const { status, out, err } = await run(['load', `127.0.0.1:${port}`, `[::1]:${port}`, '-c', '200', '--protocol', 'connlab', '--duration', '0s', '--ping', '0', '--json']);
        assert.equal(status, 0, err);
        assert.equal(JSON.parse(out).connections.verified, 200);
        // serve's count comes with its workers' next report.
        await waitFor(() => serve.stats().totals.accepted === 200, { describe: () => `accepted ${serve.stats().totals.accepted}` });
      } finally {
        await serve.close();
      }
    });
  }
});

describe('IPv6 literals in every engine', () => {
  let serve: ServeHandle;
  let port: number;
  before(async () => {
    port = await freePort();
    serve = await startServe({ listen: [{ host: '::1', port }], workers: 1, fdSoftLimit: 20_000, reportIntervalMs: 100 });
  });
  after(async () => { await serve?.close(); });

  for (const engine of [['--worker-runtime', 'c'], ['--worker-runtime', 'node', '--holder', 'native'], ['--holder', 'node']]) {
    it(`holds and verifies connections to [::1] with ${engine.join(' ')}`, async () => {
      const { status, out, err } = await run(['load', `[::1]:${port}`, '-c', '300', '--protocol', 'connlab', '--duration', '0s', '--ping', '0', '--json', ...engine]);
      assert.equal(status, 0, err);
      const result = JSON.parse(out);
      assert.equal(result.connections.verified, 300);
      assert.deepEqual(result.errors, {});
      assert.deepEqual(result.targets.destinations, [`[::1]:${port}`]);
    });
  }
});
