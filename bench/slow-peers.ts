// Slow peers and kernel memory (issue 8, item 3), before and after, in one invocation:
// `connlab serve` (native holder, 2 workers) once with the kernel's own send buffers
// (sendBufferBytes 0, stallTimeoutMs 0: how serve ran before the caps) and once with
// the defaults, each against
//
//  1. N clients (default 2,000) that never read and write ECHO frames of 4 KiB, each a
//     random total between --min-write and --max-write at once. ss is sampled every
//     ~20 ms: the largest send queue (Send-Q and skmem w) of any serve socket and the
//     peak of their sum (the JSON adds the median socket's largest); then serve's closes
//     after --hold (past the 30 s stall timeout, the capped serve holds none of them).
//  2. reading clients that pipeline a burst of 16 KiB echoes before they read: which
//     burst sizes are answered whole and which are closed slow (the price of the cap).
//
//   node bench/slow-peers.ts [--clients 2000] [--min-write 100KiB] [--max-write 384KiB]
//                            [--hold 3s] [--no-write]
//
// Writes bench/results/slow-peers-<ISO date-time>.json and prints a markdown table.
// Loopback only; every socket and serve it opens is closed, also on failure.

import { once } from 'node:events';
import { mkdirSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { dirname, join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { freeLoopbackPort } from '../src/tuple/free-port.ts';
import type { SocketLimits } from '../src/engine/holder.ts';
import { socketQueues } from '../src/probe/kernel-tools.ts';
import { encodeFrame } from '../src/protocol/frame.ts';
import { startServe, type ServeHandle } from '../src/server/serve.ts';
import { parseBytes, parseCount, parseDurationMs } from '../src/units.ts';

const CONFIGS: Record<string, SocketLimits> = { kernel: { sendBufferBytes: 0, stallTimeoutMs: 0 }, capped: {} };
const BURSTS = [64 * 1024, 128 * 1024, 256 * 1024, 512 * 1024, 1024 * 1024];

const { values: args } = parseArgs({
  options: {
    clients: { type: 'string', default: '2000' },
    'min-write': { type: 'string', default: '100KiB' },
    'max-write': { type: 'string', default: '384KiB' },
    hold: { type: 'string', default: '3s' },
    'no-write': { type: 'boolean', default: false },
  },
});
const clients = parseCount(args.clients, '--clients', { min: 1 });
const minWrite = parseBytes(args['min-write'], '--min-write');
const maxWrite = parseBytes(args['max-write'], '--max-write');
const holdMs = parseDurationMs(args.hold, '--hold');

/** Samples serve's sockets until `stop()`: largest queue, per-socket maxima, peak of the sum. */
function sampleQueues(port: number) {
  const largest = new Map<string, number>();
  const seen = { samples: 0, sendQ: 0, w: 0, peakTotal: 0, sendBuffers: new Set<number>() };
  let running = true;
  const done = (async () => {
    while (running) {
      let total = 0;
      for (const s of await socketQueues(['src', `127.0.0.1:${port}`])) {
        total += s.sendQ;
        seen.sendQ = Math.max(seen.sendQ, s.sendQ);
        seen.w = Math.max(seen.w, s.skmem.w ?? 0);
        if (s.skmem.tb !== undefined) seen.sendBuffers.add(s.skmem.tb);
        largest.set(s.peer, Math.max(largest.get(s.peer) ?? 0, s.sendQ));
      }
      seen.peakTotal = Math.max(seen.peakTotal, total);
      seen.samples++;
      await delay(20);
    }
  })();
  return {
    async stop() {
      running = false;
      await done;
      const maxima = [...largest.values()].sort((a, b) => a - b);
      return { ...seen, sendBuffers: [...seen.sendBuffers], sockets: maxima.length, medianSendQ: maxima[maxima.length >> 1] ?? 0 };
    },
  };
}

async function neverReaders(port: number, sockets: net.Socket[]): Promise<void> {
  const frame = Buffer.from(encodeFrame('echo', 1, 0, Buffer.alloc(4096 - 16, 0x61)));
  for (let i = 0; i < clients; i += 250) {
    await Promise.all(Array.from({ length: Math.min(250, clients - i) }, async () => {
      const socket = net.connect(port, '127.0.0.1');
      socket.pause();
      socket.on('error', () => {});
      sockets.push(socket);
      await once(socket, 'connect');
      const bytes = minWrite + Math.random() * (maxWrite - minWrite);
      for (let written = 0; written < bytes; written += frame.byteLength) socket.write(frame);
    }));
  }
}

/** A reading client that writes `bytes` of 16 KiB echoes at once: 'whole' or where it was closed. */
async function burst(port: number, bytes: number): Promise<string> {
  const frame = Buffer.from(encodeFrame('echo', 2, 0, Buffer.alloc(16 * 1024 - 16, 0x62)));
  const frames = Math.ceil(bytes / frame.byteLength);
  const socket = net.connect(port, '127.0.0.1');
  socket.on('error', () => {});
  await once(socket, 'connect');
  let got = 0;
  const outcome = new Promise<string>((resolve) => {
    socket.on('data', (chunk: Buffer) => { if ((got += chunk.byteLength) >= frames * frame.byteLength) resolve('whole'); });
    socket.on('close', () => resolve(`closed slow after ${got} B`));
  });
  for (let i = 0; i < frames; i++) socket.write(frame);
  const result = await Promise.race([outcome, delay(5_000, 'timed out')]);
  socket.destroy();
  return result;
}

async function runConfig(name: string, limits: SocketLimits) {
  const port = await freeLoopbackPort();
  const serve: ServeHandle = await startServe({ listen: [{ host: '127.0.0.1', port }], workers: 2, holder: 'native', fdSoftLimit: 20_000, ...limits });
  const sockets: net.Socket[] = [];
  try {
    const sampler = sampleQueues(port);
    await neverReaders(port, sockets);
    await delay(holdMs);
    const queues = await sampler.stop();
    const stats = await serve.refresh();
    const heldQueueing = (await socketQueues(['src', `127.0.0.1:${port}`])).filter((q) => q.sendQ > 0).length;
    for (const socket of sockets) socket.destroy();
    const bursts: Record<string, string> = {};
    for (const bytes of BURSTS) bursts[`${bytes / 1024} KiB`] = await burst(port, bytes);
    return { name, limits, queues, closed: stats.totals.closed, held: stats.connections, heldQueueing, bursts };
  } finally {
    for (const socket of sockets) socket.destroy();
    await serve.close();
  }
}

const runs = [];
for (const [name, limits] of Object.entries(CONFIGS)) runs.push(await runConfig(name, limits));
const kib = (bytes: number): string => `${(bytes / 1024).toFixed(1)} KiB`;
console.log(`${clients} never-readers writing ${kib(minWrite)}-${kib(maxWrite)} each, held ${holdMs / 1000} s\n`);
console.log('| serve | send buffer (tb) | largest Send-Q | skmem w | peak sum | closed slow | still held (of them queueing) |');
console.log('| --- | --- | --- | --- | --- | --- | --- |');
for (const r of runs) {
  console.log(`| ${r.name} | ${r.queues.sendBuffers.join(', ')} | ${kib(r.queues.sendQ)} | ${kib(r.queues.w)} | ` +
    `${(r.queues.peakTotal / 1e6).toFixed(1)} MB | ${r.closed.slow} | ${r.held} (${r.heldQueueing}) |`);
}
for (const r of runs) console.log(`\n${r.name}: reading clients pipelining 16 KiB echoes: ${Object.entries(r.bursts).map(([k, v]) => `${k} ${v}`).join('; ')}`);
if (!args['no-write']) {
  const file = join(dirname(fileURLToPath(import.meta.url)), 'results', `slow-peers-${new Date().toISOString().replace(/[:.]/g, '-').slice(0, 19)}Z.json`);
  mkdirSync(dirname(file), { recursive: true });
  writeFileSync(file, `${JSON.stringify({ clients, minWrite, maxWrite, holdMs, runs }, null, 2)}\n`);
  console.log(`\nwrote ${file}`);
}
