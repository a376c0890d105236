import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import net from 'node:net';
import { describe, it } from 'node:test';
import { Worker } from 'node:worker_threads';
import type { Holder } from '../../src/engine/holder.ts';
import { createNativeHolder, errnoName, ipv4ToU32 } from '../../src/engine/native-holder.ts';
import { freePort } from '../helpers/net.ts';
import { SCHED_BATCH, SCHED_OTHER, threadCpu, threadPolicies } from '../helpers/sched.ts';
import { holderContract } from './holder-contract.ts';

// The behaviour both holders share (2,000 connections both sides, verify, broadcast,
// four-tuple reuse, errno counts, wire format, slow peers, lifecycle).
holderContract('native', createNativeHolder, { sharedSourcePort: true });

const HOLDER_URL = new URL('../../src/engine/native-holder.ts', import.meta.url).href;

/**
 * Runs `burst` against a listening native holder, then checks that its loop thread is
 * asleep in epoll_wait: over 1 s, no CPU to speak of and no switches (a yield that
 * became a spin would switch thousands of times and take most of a core).
 */
async function burstThenAsleep(burst: (h: Holder, port: number, clients: net.Socket[]) => Promise<void>): Promise<void> {
  const before = threadPolicies('self');
  const h = createNativeHolder();
  const port = await freePort();
  const clients: net.Socket[] = [];
  try {
    await h.listen('127.0.0.1', port);
    // The loop is the one new SCHED_BATCH thread.
    const loop = [...threadPolicies('self')].find(([tid, policy]) => !before.has(tid) && policy === SCHED_BATCH)?.[0];
    assert.ok(loop, 'found the loop thread');
    await burst(h, port, clients);
    await new Promise((r) => setTimeout(r, 100)); // past the burst's last turn
    const a = threadCpu(process.pid, loop);
    await new Promise((r) => setTimeout(r, 1_000));
    const b = threadCpu(process.pid, loop);
    assert.ok(b.cpuMs - a.cpuMs <= 50, `loop thread CPU over 1 s idle: ${b.cpuMs - a.cpuMs} ms`);
    assert.ok(b.switches - a.switches <= 5, `loop thread switches over 1 s idle: ${b.switches - a.switches}`);
  } finally {
    for (const c of clients) c.destroy();
    h.destroy();
  }
}

describe('native holder: threads and process lifetime', () => {
  it('sleeps once a burst of accepts is over: the yield after an accept never becomes a spin', async () => {
    await burstThenAsleep(async (h, port, clients) => {
      for (let i = 0; i < 200; i++) clients.push(net.connect(port, '127.0.0.1'));
      for (const deadline = Date.now() + 10_000; h.stats().accepted < 200 && Date.now() < deadline;) await new Promise((r) => setTimeout(r, 20));
      assert.equal(h.stats().accepted, 200);
    });
  });

  it('sleeps once a burst of reads is over: the yield after a read never becomes a spin', async () => {
    await burstThenAsleep(async (_h, port, clients) => {
      for (let i = 0; i < 50; i++) clients.push(net.connect(port, '127.0.0.1'));
      await Promise.all(clients.map((c) => once(c, 'connect')));
      // 40 PING frames (16 bytes: type 'P', length 0, seq, time) from each client, in bursts.
      const pongs = clients.map(() => 0);
      clients.forEach((c, i) => c.on('data', (d: Buffer) => (pongs[i] = (pongs[i] ?? 0) + d.length)));
      for (let burst = 0; burst < 4; burst++) {
        for (const c of clients) c.write(Buffer.concat(Array.from({ length: 10 }, (_, k) => Buffer.from([0x50, 0, 0, 0, 0, 0, 0, burst * 10 + k, 0, 0, 0, 0, 0, 0, 0, 1]))));
        await new Promise((r) => setTimeout(r, 20));
      }
      for (const deadline = Date.now() + 10_000; pongs.some((n) => n < 40 * 16) && Date.now() < deadline;) await new Promise((r) => setTimeout(r, 20));
      assert.deepEqual(pongs, clients.map(() => 40 * 16), 'every ping answered: the holder read them all');
    });
  });

  it('runs its loop thread SCHED_BATCH and leaves the caller\'s thread as it was', async () => {
    const before = threadPolicies('self');
    const h = createNativeHolder();
    try {
      await h.listen('127.0.0.1', await freePort());
      const now = threadPolicies('self');
      // The loop is the one new SCHED_BATCH thread (libuv may have started its pool too).
      const batch = [...now].filter(([tid, policy]) => !before.has(tid) && policy === SCHED_BATCH);
      assert.equal(batch.length, 1, JSON.stringify([...now]));
      for (const [tid, policy] of before) if (now.has(tid)) assert.equal(now.get(tid), policy, `thread ${tid} kept its policy`);
      assert.equal(now.get(process.pid), SCHED_OTHER);
    } finally {
      h.destroy();
    }
  });

  it('does not keep a process alive when it is never destroyed', async () => {
    const port = await freePort();
    const script = [
      `const m = await import(${JSON.stringify(HOLDER_URL)});`,
      `const h = m.createNativeHolder(); await h.listen('127.0.0.1', ${port});`,
      `h.connect(new Uint32Array([0, 0, 0x7f000001, ${port}]));`,
    ].join('\n');
    const child = spawn(process.execPath, ['--input-type=module', '-e', script], { stdio: 'inherit' });
    const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
    const [code, signal] = await once(child, 'exit');
    clearTimeout(timer);
    assert.deepEqual([code, signal], [0, null]);
  });

  it('stops its thread and frees its sockets when a worker thread ends without destroy', async () => {
    const port = await freePort();
    const worker = new Worker(
      `const { parentPort } = require('node:worker_threads');
       import(${JSON.stringify(HOLDER_URL)}).then(async (m) => {
         const h = m.createNativeHolder();
         await h.listen('127.0.0.1', ${port});
         parentPort.postMessage('listening');
       });`,
      { eval: true },
    );
    assert.equal((await once(worker, 'message'))[0], 'listening');
    await worker.terminate();
    // A plain listener (no SO_REUSEPORT) gets the address only if the holder's
    // listener was closed by the environment cleanup hook.
    const plain = net.createServer().listen(port, '127.0.0.1');
    await once(plain, 'listening');
    plain.close();
    await once(plain, 'close');
  });
});

describe('native holder: helpers', () => {
  it('names errno numbers the way Node does', () => {
    assert.equal(errnoName(99), 'EADDRNOTAVAIL');
    assert.equal(errnoName(11), 'EAGAIN');
    assert.equal(errnoName(4000), 'ERRNO_4000');
  });

  it('turns a dotted IPv4 address into the host-order u32 tuples carry', () => {
    assert.equal(ipv4ToU32('127.0.0.2'), 0x7f000002);
    assert.equal(ipv4ToU32('255.255.255.255'), 0xffffffff);
    assert.throws(() => ipv4ToU32('::1'), { code: 'CONNLAB_ERR_INVALID_ARGUMENT' });
  });
});
