// connlab load against servers no one here wrote (nginx, the ws package, Mosquitto), an
// echo server, an accept-then-close server and a closed port, through the CLI as a user
// runs it: the JSON result, the exit status and the one line that explains a shortfall.

import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { after, before, describe, it } from 'node:test';
import { freePort } from '../helpers/net.ts';
import { BIN, loadJson, type LoadRun } from '../helpers/procs.ts';
import { startMosquitto, startNginx, startPlainServer, startWsServer, type RealServer } from '../helpers/real-servers.ts';

const N = 2_000;



function assertHeldAndVerified(run: LoadRun, count: number): void {
  const c = run.result.connections;
  assert.deepEqual({ status: run.status, established: c.established, verified: c.verified, peak: c.peak }, { status: 0, established: count, verified: count, peak: count }, run.stderr);
}

describe('load --protocol http against nginx (4 workers, keepalive_timeout 300s)', () => {
  let nginx: RealServer;
  before(async () => (nginx = await startNginx(await freePort())));
  after(() => nginx?.stop());

  it('holds and verifies every connection with a complete response after the hold, and counts the statuses', async () => {
    const run = await loadJson(nginx.port, ['-c', String(N), '--protocol', 'http', '--duration', '2s', '--ping', '1s']);
    assertHeldAndVerified(run, N);
    assert.ok((run.result.codes.http_status['200'] ?? 0) >= 2 * N, JSON.stringify(run.result.codes));
    assert.ok(run.result.ping.rtt_ms.count >= 2 * N);
    assert.equal(run.result.closed.protocol, 0);
  });

  it('counts a server that closes after its response as server_close, and exits 1 for it', async () => {
    const run = await loadJson(nginx.port, ['-c', '50', '--protocol', 'http', '--path', '/close', '--duration', '1s']);
    assert.equal(run.status, 1);
    assert.equal(run.result.closed.server_close, 50);
    assert.equal(run.result.connections.established, 0);
    assert.match(run.stderr, /short of the target: held 0 of 50 \(peak \d+\).*server_close × 50/);
  });

  it('calls connlab frames sent to nginx a protocol violation and shows the bytes nginx sent', async () => {
    const run = await loadJson(nginx.port, ['-c', '20', '--protocol', 'connlab', '--duration', '1s']);
    assert.equal(run.status, 1);
    assert.equal(run.result.closed.protocol, 20);
    assert.ok(run.result.protocol_bytes.some((hex) => Buffer.from(hex, 'hex').toString().startsWith('HTTP/1.1 400')), JSON.stringify(run.result.protocol_bytes));
  });
});

describe('load --protocol ws against the ws test server (2 processes, SO_REUSEPORT)', () => {
  let ws: RealServer;
  before(async () => (ws = await startWsServer(await freePort(), 2, 300)));
  after(() => ws?.stop());

  it('upgrades, verifies every connection by a pong, and measures the stamped messages', async () => {
    const run = await loadJson(ws.port, ['-c', String(N), '--protocol', 'ws', '--duration', '2s', '--ping', '1s']);
    assertHeldAndVerified(run, N);
    assert.equal(run.result.codes.http_status['101'], N);
    assert.ok(run.result.broadcast.received >= N, `messages ${run.result.broadcast.received}`);
    assert.ok(run.result.broadcast.latency_ms.count > 0);
  });

  it('is refused with the status it got on a path the server answers without upgrading', async () => {
    const http = await startNginx(await freePort(), 1);
    try {
      const run = await loadJson(http.port, ['-c', '10', '--protocol', 'ws', '--duration', '1s']);
      assert.equal(run.status, 1);
      assert.equal(run.result.closed.refused, 10);
      assert.equal(run.result.codes.http_status['200'], 10);
    } finally {
      await http.stop();
    }
  });
});

describe('load --protocol mqtt against Mosquitto', () => {
  let broker: RealServer;
  before(async () => (broker = await startMosquitto(await freePort())));
  after(() => broker?.stop());

  it('connects with distinct client ids, verifies every connection by PINGRESP, and counts CONNACK codes', async () => {
    const run = await loadJson(broker.port, ['-c', String(N), '--protocol', 'mqtt', '--duration', '2s', '--ping', '1s']);
    // Mosquitto disconnects the older client of a repeated id: all N held means all distinct.
    assertHeldAndVerified(run, N);
    assert.deepEqual(run.result.codes.mqtt_connack, { 0: N });
  });
});

describe('load --protocol tcp (the default) and the exit status', () => {
  it('sends nothing to an echo server and holds every connection to the end, verified by the kernel', async () => {
    const echo = await startPlainServer(await freePort(), 'echo');
    try {
      const run = await loadJson(echo.port, ['-c', '500', '--duration', '1s', '--ping', '0']);
      assertHeldAndVerified(run, 500);
      assert.equal(run.result.protocol, 'tcp');
      assert.equal(echo.bytesReceived(), 0);
    } finally {
      await echo.stop();
    }
  });

  it('does the same on the plain-Node holder, which refuses the protocols it lacks with exit status 2', async () => {
    const echo = await startPlainServer(await freePort(), 'echo');
    try {
      const run = await loadJson(echo.port, ['-c', '200', '--duration', '1s', '--holder', 'node']);
      assertHeldAndVerified(run, 200);
      assert.equal(echo.bytesReceived(), 0);
      const child = spawn(process.execPath, [BIN, 'load', `127.0.0.1:${echo.port}`, '-c', '1', '--protocol', 'mqtt', '--holder', 'node'], { stdio: ['ignore', 'ignore', 'pipe'] });
      let stderr = '';
      child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
      const [status] = (await once(child, 'exit')) as [number];
      assert.equal(status, 2);
      assert.match(stderr, /CONNLAB_ERR_PROTOCOL_UNSUPPORTED/);
    } finally {
      await echo.stop();
    }
  });

  it('exits 1 naming ECONNREFUSED against a closed port, and 0 with --allow-partial', async () => {
    const port = await freePort();
    const run = await loadJson(port, ['-c', '100', '--duration', '0s']);
    assert.equal(run.status, 1);
    assert.equal(run.result.errors.ECONNREFUSED, 100);
    assert.match(run.stderr, /short of the target: held 0 of 100 \(peak 0\); ECONNREFUSED × 100: server/);
    const partial = await loadJson(port, ['-c', '100', '--duration', '0s', '--allow-partial']);
    assert.equal(partial.status, 0);
  });

  it('exits 1 against a server that never accept()s, naming the unanswered handshakes as the server\'s limit', async () => {
    // The kernel completes handshakes into the accept queue of a process that never calls
    // accept(): established on the client, silent forever, like a server out of descriptors.
    const script = `const s = require('node:net').createServer();
s.listen({ port: 0, host: '127.0.0.1', backlog: 100 }, () => process.stdout.write(s.address().port + '\\n',
  () => Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 60000)));`;
    const child = spawn(process.execPath, ['-e', script], { stdio: ['ignore', 'pipe', 'inherit'] });
    const exited = once(child, 'exit');
    try {
      const [line] = (await once(child.stdout, 'data')) as [Buffer];
      const run = await loadJson(Number(line.toString().trim()), ['-c', '20', '--protocol', 'http', '--duration', '0s', '--ping', '0']);
      assert.equal(run.status, 1);
      assert.deepEqual([run.result.connections.established, run.result.connections.verified, run.result.connections.silent], [20, 0, 20]);
      assert.equal(run.result.explained[0]?.errno, 'no_answer');
      assert.match(run.stderr, /held 20 of 20 \(peak 20\), but only 0 verified by http round trips; no_answer × 20: server_fds/);
    } finally {
      child.kill();
      await exited;
    }
  });

  it('exits 1 against a server that accepts and closes, calling it the server\'s descriptor limit', async () => {
    const closer = await startPlainServer(await freePort(), 'close');
    try {
      const run = await loadJson(closer.port, ['-c', '100', '--duration', '1s']);
      assert.equal(run.status, 1);
      assert.equal(run.result.closed_early, 100);
      assert.equal(run.result.explained[0]?.cause, 'server_fds');
      assert.match(run.stderr, /closed_early × 100: server_fds/);
    } finally {
      await closer.stop();
    }
  });
});
