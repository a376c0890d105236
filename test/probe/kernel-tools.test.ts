import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseSocketQueues } from '../../src/probe/kernel-tools.ts';

// `ss -H -tmin state established sport = :43971` on this machine (info shortened): a
// serve socket whose never-reading peer left 135,712 bytes unsent, and an idle one.
const ROWS = [
  '0      135712 127.0.0.1:43971 127.0.0.1:60490',
  '\t skmem:(r0,rb1115196,t0,tb131072,f1888,w137376,o0,bl0,d0) bbr wscale:10,10 rto:208 backoff:3 ' +
    'bytes_sent:127456 bytes_acked:127456 rwnd_limited:2872ms(100.0%) notsent:135712 minrtt:0.006',
  '0      0      127.0.0.1:43971 127.0.0.1:60998',
  '\t skmem:(r0,rb131072,t0,tb131072,f0,w0,o0,bl0,d0)',
];

describe('parseSocketQueues', () => {
  it('reads each socket line with the skmem line under it', () => {
    const [held, idle, ...rest] = parseSocketQueues(ROWS);
    assert.deepEqual(rest, []);
    assert.deepEqual(held, {
      local: '127.0.0.1:43971', peer: '127.0.0.1:60490', recvQ: 0, sendQ: 135_712,
      skmem: { r: 0, rb: 1_115_196, t: 0, tb: 131_072, f: 1888, w: 137_376, o: 0, bl: 0, d: 0 },
      notsent: 135_712,
    });
    assert.equal(idle?.sendQ, 0);
    assert.equal(idle?.notsent, 0);
    assert.equal(idle?.skmem.tb, 131_072);
  });

  it('keeps a socket without an skmem line and skips what is not a socket row', () => {
    const sockets = parseSocketQueues(['State Recv-Q Send-Q', '3 4 127.0.0.1:1 127.0.0.1:2', '']);
    assert.deepEqual(sockets, [{ local: '127.0.0.1:1', peer: '127.0.0.1:2', recvQ: 3, sendQ: 4, skmem: {}, notsent: 0 }]);
  });
});
