// Errors explained by what actually caused them: EADDRNOTAVAIL by what holds the tuples
// (TIME_WAIT from an earlier run, or live sockets filling the port range), read from a
// socket table captured in a network namespace; TLS to a server that does not speak it;
// a server's in-protocol close and the HTTP limits named as what they are.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { HolderStats } from '../../src/engine/holder.ts';
import { emptyClosed } from '../../src/engine/aggregate.ts';
import { classifyCloses, classifyErrno } from '../../src/load/classify.ts';
import { countTableLine, parsePortRange, readTupleOccupancy, tableKey } from '../../src/probe/socket-table.ts';

const FIXTURE = new URL('../fixtures/socket-table/', import.meta.url).pathname;
const LOOPBACK = 0x7f000001;

describe('the socket table behind EADDRNOTAVAIL', () => {
  it('writes a destination as /proc/net/tcp does: host-order hex address, hex port', () => {
    assert.equal(tableKey({ ip: LOOPBACK, port: 22103 }), '0100007F:5657');
    assert.equal(tableKey({ ip: 0xc6120005, port: 80 }), '050012C6:0050');
  });

  it('counts TIME_WAIT and live sockets toward the destinations only, never listeners', async () => {
    const got = await readTupleOccupancy([{ ip: LOOPBACK, port: 22103 }], FIXTURE);
    assert.deepEqual(got, { destinations: 1, time_wait: 3, live: 1, port_range: 100 });
    const both = await readTupleOccupancy([{ ip: LOOPBACK, port: 22103 }, { ip: LOOPBACK, port: 22102 }], FIXTURE);
    assert.deepEqual(both, { destinations: 2, time_wait: 4, live: 1, port_range: 100 });
  });

  it('reads nothing from a tree without the table, and says the range is unknown', async () => {
    assert.deepEqual(await readTupleOccupancy([{ ip: LOOPBACK, port: 1 }], '/nonexistent/'), { destinations: 1, time_wait: 0, live: 0, port_range: null });
    assert.equal(parsePortRange('garbage'), null);
    const counts = { time_wait: 0, live: 0 };
    countTableLine('  sl  local_address rem_address   st', new Set(['0100007F:5657']), counts);
    assert.deepEqual(counts, { time_wait: 0, live: 0 });
  });

  it('blames TIME_WAIT when it holds the tuples, the port range when live sockets do', () => {
    const tw = classifyErrno('EADDRNOTAVAIL', { listenOverflowsRose: false, tuples: { destinations: 1, time_wait: 296, live: 0, port_range: 100 } });
    assert.equal(tw.cause, 'time_wait');
    assert.match(tw.explanation, /296 sockets .* TIME_WAIT/);
    const full = classifyErrno('EADDRNOTAVAIL', { listenOverflowsRose: false, tuples: { destinations: 1, time_wait: 3, live: 100, port_range: 100 } });
    assert.equal(full.cause, 'ephemeral_ports');
    assert.match(full.explanation, /100 live/);
    assert.equal(classifyErrno('EADDRNOTAVAIL').cause, 'ephemeral_ports');
  });
});

function stats(patch: Partial<HolderStats> & { tlsHandshakes?: number }): Parameters<typeof classifyCloses>[0] {
  return {
    closed: { ...emptyClosed(), ...patch.closed },
    closedEarly: patch.closedEarly ?? 0,
    codes: patch.codes ?? { http_status: {}, ws_close: {}, mqtt_connack: {} },
    protocolBytes: [],
    ...(patch.tlsHandshakes === undefined ? {} : { tls: { handshakes: patch.tlsHandshakes, errors: patch.tls?.errors ?? {} } }),
  };
}

describe('closes named for what they are', () => {
  it('names TLS to a server that never answers the ClientHello, not the server descriptor limit', () => {
    const silent = classifyCloses(stats({ tlsHandshakes: 0 }), 'http', 20, true);
    assert.deepEqual(silent.map((c) => [c.errno, c.cause, c.count]), [['no_tls_answer', 'tls', 20]]);
    assert.match(silent[0]?.explanation ?? '', /does not speak TLS/);
    // some handshakes completed: the silent ones wait in an accept queue
    assert.equal(classifyCloses(stats({ tlsHandshakes: 5 }), 'http', 20, true)[0]?.cause, 'server_fds');
    // a plaintext server that closes on the ClientHello
    const closed = classifyCloses(stats({ tlsHandshakes: 0, closed: { ...emptyClosed(), tls: 20 }, tls: { handshakes: 0, errors: { 'unexpected eof while reading': 20 } } }), 'http', 0, true);
    assert.match(closed[0]?.explanation ?? '', /does not speak TLS/);
  });

  it('labels a server close as server_close with what its WebSocket code means, not a timeout', () => {
    const got = classifyCloses(stats({ closed: { ...emptyClosed(), server_close: 7 }, codes: { http_status: {}, ws_close: { 1001: 7 }, mqtt_connack: {} } }), 'ws', 0);
    assert.deepEqual(got.map((c) => [c.errno, c.cause, c.count]), [['server_close', 'server_close', 7]]);
    assert.match(got[0]?.explanation ?? '', /close code 1001 × 7.*going away/);
  });

  it('names the HTTP limits a server ran past', () => {
    const got = classifyCloses(stats({ closed: { ...emptyClosed(), http_headers_too_large: 2, http_body_too_large: 3 } }), 'http', 0);
    assert.deepEqual(got.map((c) => [c.errno, c.cause, c.count]), [['http_headers_too_large', 'server_limits', 2], ['http_body_too_large', 'server_limits', 3]]);
  });
});
