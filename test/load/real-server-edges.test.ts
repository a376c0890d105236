// The protocol edges against servers no one here wrote: nginx sending a 5 MiB body (past
// the 4 MiB drain limit) and a 7,000-byte header line (under the 8 KiB line limit); the
// ws package pinging with 125 bytes, closing with 1001, and a raw close with the invalid
// code 999. Through the CLI, as a user runs it.

import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { freePort } from '../helpers/net.ts';
import { loadJson } from '../helpers/procs.ts';
import { startNginx, startWsServer, type RealServer } from '../helpers/real-servers.ts';



describe('HTTP limits against nginx', () => {
  let nginx: RealServer;
  before(async () => (nginx = await startNginx(await freePort(), 1)));
  after(() => nginx?.stop());

  it('closes a 5 MiB body as http_body_too_large and says why, instead of draining it', async () => {
    const run = await loadJson(nginx.port, ['-c', '20', '--protocol', 'http', '--path', '/big', '--duration', '1s']);
    assert.equal(run.status, 1);
    assert.deepEqual([run.result.closed.http_body_too_large, run.result.closed.protocol], [20, 0]);
    assert.equal(run.result.explained.find((e) => e.errno === 'http_body_too_large')?.cause, 'server_limits');
    assert.match(run.stderr, /http_body_too_large × 20: server_limits/);
  });

  it('reads a 7,000-byte header line and verifies every connection', async () => {
    const run = await loadJson(nginx.port, ['-c', '50', '--protocol', 'http', '--path', '/long-header', '--duration', '1s', '--ping', '500ms']);
    assert.deepEqual([run.status, run.result.connections.verified, run.result.closed.protocol, run.result.closed.http_headers_too_large], [0, 50, 0, 0], run.stderr);
  });
});

describe('WebSocket control frames and closes against the ws package', () => {
  let ws: RealServer;
  before(async () => (ws = await startWsServer(await freePort(), 1)));
  after(() => ws?.stop());

  it('answers 125-byte pings with the same payload, which the server checks', async () => {
    const run = await loadJson(ws.port, ['-c', '20', '--protocol', 'ws', '--path', '/ping125', '--duration', '2s', '--ping', '1s']);
    assert.deepEqual([run.status, run.result.connections.verified, run.result.closed.protocol], [0, 20, 0], run.stderr);
    assert.ok(run.result.broadcast.received >= 20, `the server acknowledged ${run.result.broadcast.received} pongs`);
  });

  it('labels a close with 1001 as the server\'s close, going away, not a timeout', async () => {
    const run = await loadJson(ws.port, ['-c', '20', '--protocol', 'ws', '--path', '/close-1001', '--duration', '1s']);
    assert.deepEqual([run.result.closed.server_close, run.result.codes.ws_close['1001']], [20, 20]);
    const why = run.result.explained.find((e) => e.errno === 'server_close');
    assert.equal(why?.cause, 'server_close');
    assert.match(why?.explanation ?? '', /going away/);
  });

  it('refuses a close with the invalid code 999 as protocol, never counting or echoing it, and samples that frame', async () => {
    const run = await loadJson(ws.port, ['-c', '20', '--protocol', 'ws', '--path', '/close-999', '--duration', '1s']);
    assert.equal(run.result.closed.protocol, 20);
    assert.equal(run.result.codes.ws_close['999'], undefined);
    assert.ok(run.result.protocol_bytes.every((hex) => hex.startsWith('880203e7')), JSON.stringify(run.result.protocol_bytes));
  });
});
