import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { emptyStats } from '../../src/engine/aggregate.ts';
import { classifyCloses, classifyErrors } from '../../src/load/classify.ts';
import { protocolOptions } from '../../src/load/protocol-options.ts';
import { judgeLoad } from '../../src/load/verdict.ts';

const connections = (established: number, verified: number, target = 100) => ({ target, established, verified, peak: established, silent: 0 });

describe('judgeLoad', () => {
  it('reaches the target only when every connection is held and verified', () => {
    assert.deepEqual(judgeLoad({ connections: connections(100, 100), explained: [], protocol: 'http' }), { reached: true, line: undefined });
  });

  it('names the first explained cause when connections were not held', () => {
    const v = judgeLoad({ connections: connections(0, 0), explained: classifyErrors({ ECONNREFUSED: 100 }), protocol: 'tcp' });
    assert.equal(v.reached, false);
    assert.equal(v.line, 'load: short of the target: held 0 of 100 (peak 0); ECONNREFUSED × 100: server — nothing is listening on that address and port');
  });

  it('says which round fell short when all were held but not all verified', () => {
    const v = judgeLoad({ connections: connections(100, 60), explained: [], protocol: 'ws' });
    assert.match(v.line ?? '', /held 100 of 100 \(peak 100\), but only 60 verified by ws round trips; no error or close was seen/);
  });
});

describe('classifyCloses', () => {
  it('calls early closes and unanswered handshakes the server\'s descriptor limit', () => {
    const stats = { ...emptyStats(), closedEarly: 30 };
    stats.closed.peer = 30;
    const out = classifyCloses(stats, 'mqtt', 12);
    assert.deepEqual(out.map((c) => [c.errno, c.cause, c.count]), [['closed_early', 'server_fds', 30], ['no_answer', 'server_fds', 12]]);
  });

  it('does not call tcp connections silent: tcp expects no answer', () => {
    assert.deepEqual(classifyCloses(emptyStats(), 'tcp', 50), []);
  });

  it('shows protocol bytes, refusal codes and keep-alive timeouts with their own causes', () => {
    const stats = emptyStats();
    stats.closed.protocol = 2;
    stats.closed.refused = 3;
    stats.closed.idle = 4;
    stats.closed.peer = 5;
    stats.protocolBytes = ['485454502f312e31'];
    stats.codes.mqtt_connack = { 5: 3 };
    const out = classifyCloses(stats, 'mqtt', 0);
    assert.deepEqual(out.map((c) => [c.errno, c.cause, c.count]), [
      ['protocol', 'server_protocol', 2], ['refused', 'server_protocol', 3], ['idle', 'server_timeout', 4], ['closed_by_server', 'server', 5],
    ]);
    assert.match(out[0]?.explanation ?? '', /485454502f312e31/);
    assert.match(out[1]?.explanation ?? '', /CONNACK 5 × 3/);
  });
});

describe('protocolOptions', () => {
  it('builds one HTTP/1.1 GET with the Host, the path and extra headers', () => {
    const p = protocolOptions({ kind: 'http', path: '/health', headers: ['X-Token:  abc'] }, '127.0.0.1:8080');
    assert.equal(Buffer.from(p.request ?? []).toString(), 'GET /health HTTP/1.1\r\nHost: 127.0.0.1:8080\r\nUser-Agent: connlab\r\nAccept: */*\r\nX-Token: abc\r\n\r\n');
  });

  it('leaves the ws upgrade head open for the holder\'s key line', () => {
    const p = protocolOptions({ kind: 'ws', host: 'example.test', subprotocol: 'chat' }, 'x');
    const text = Buffer.from(p.request ?? []).toString();
    assert.match(text, /^GET \/ HTTP\/1.1\r\nHost: example.test\r\n.*Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: chat\r\n$/s);
  });

  it('refuses header injection, a relative path and a password without a user name', () => {
    assert.throws(() => protocolOptions({ kind: 'http', headers: ['X: a\r\nY: b'] }, 'h'), { code: 'CONNLAB_ERR_INVALID_ARGUMENT' });
    assert.throws(() => protocolOptions({ kind: 'http', path: 'health' }, 'h'), { code: 'CONNLAB_ERR_INVALID_ARGUMENT' });
    assert.throws(() => protocolOptions({ kind: 'mqtt', password: 'p' }, 'h'), { code: 'CONNLAB_ERR_INVALID_ARGUMENT' });
    assert.throws(() => protocolOptions({ kind: 'ws', headers: [`X-Big: ${'a'.repeat(2000)}`] }, 'h'), { code: 'CONNLAB_ERR_INVALID_ARGUMENT' });
  });
});
