import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { emptyStats, retire, sumStats } from '../../src/engine/aggregate.ts';
import { isFromWorker, isToWorker } from '../../src/engine/messages.ts';
import { RateMeter } from '../../src/engine/rate-meter.ts';
import { clientWorkersFor, serverWorkersFor } from '../../src/engine/sizing.ts';

describe('summing worker counters', () => {
  it('adds scalars, close reasons and errno tables', () => {
    const a = { ...emptyStats(), established: 10, accepted: 12, closed: { ...emptyStats().closed, peer: 2 }, errors: { EMFILE: 3 } };
    const b = { ...emptyStats(), established: 5, accepted: 5, closed: { ...emptyStats().closed, peer: 1, slow: 4 }, errors: { EMFILE: 1, ENFILE: 2 } };
    const total = sumStats([a, b]);
    assert.equal(total.established, 15);
    assert.equal(total.accepted, 17);
    assert.deepEqual(total.closed, { peer: 3, reset: 0, protocol: 0, slow: 4, local: 0, timeout: 0, churn: 0, lost: 0, server_close: 0, idle: 0, refused: 0, keepalive: 0, tls: 0, http_headers_too_large: 0, http_body_too_large: 0 });
    assert.deepEqual(total.errors, { EMFILE: 4, ENFILE: 2 });
  });

  it('adds protocol codes and keeps a few distinct protocol-violation samples', () => {
    const a = { ...emptyStats(), closedEarly: 2, codes: { http_status: { 200: 5 }, ws_close: {}, mqtt_connack: { 0: 1 } }, protocolBytes: ['aa', 'bb'] };
    const b = { ...emptyStats(), closedEarly: 1, codes: { http_status: { 200: 1, 503: 2 }, ws_close: { 1001: 1 }, mqtt_connack: {} }, protocolBytes: ['bb', 'cc', 'dd', 'ee'] };
    const total = sumStats([a, b]);
    assert.equal(total.closedEarly, 3);
    assert.deepEqual(total.codes, { http_status: { 200: 6, 503: 2 }, ws_close: { 1001: 1 }, mqtt_connack: { 0: 1 } });
    assert.deepEqual(total.protocolBytes, ['aa', 'bb', 'cc', 'dd']);
  });

  it('keeps a dead worker\'s totals but none of what it held', () => {
    const dead = retire({ ...emptyStats(), established: 7, verified: 7, accepted: 9, listeners: 1 });
    assert.deepEqual([dead.established, dead.verified, dead.listeners, dead.accepted], [0, 0, 0, 9]);
  });
});

describe('worker sizing', () => {
  it('gives servers 25% spare for SO_REUSEPORT\'s uneven spread and clients exact slices', () => {
    assert.equal(serverWorkersFor(70_000, 20_000), 5);
    assert.equal(clientWorkersFor(70_000, 20_000), 4);
    assert.equal(clientWorkersFor(1_000_000, 20_000), 51);
    assert.equal(serverWorkersFor(1, 20_000), 1);
  });
});

describe('rates and messages', () => {
  it('turns a cumulative counter into a per-second rate', () => {
    const meter = new RateMeter();
    meter.update(0, 0);
    assert.equal(meter.update(500, 250), 2000);
    assert.equal(meter.perSecond, 2000);
  });

  it('keeps its rate when read again sooner than its interval, as a metrics scrape does', () => {
    const meter = new RateMeter({ minIntervalMs: 500 });
    meter.update(0, 0);
    assert.equal(meter.update(1000, 1000), 1000);
    assert.equal(meter.update(1001, 1000.01), 1000);
    assert.equal(meter.update(1001, 1200), 1000);
    assert.equal(meter.update(3000, 2000), 2000);
  });

  it('accepts only known message types in each direction', () => {
    assert.equal(isToWorker({ type: 'ping', seq: 1, timeoutMs: 10 }), true);
    assert.equal(isToWorker({ type: 'ramped' }), false);
    assert.equal(isFromWorker({ type: 'ramped' }), true);
    assert.equal(isFromWorker({ type: 'start' }), false);
    assert.equal(isFromWorker('ramped'), false);
  });
});
