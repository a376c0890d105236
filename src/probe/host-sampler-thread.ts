// The sampling thread of host-sampler.ts: one timer, and per tick a synchronous read of
// the four cheap files. /proc/slabinfo, the one that can take seconds on a saturated CPU
// (host-sample.ts), is read in the background, one read at a time; each tick uses the
// latest complete one and says how old it is, so a slow slabinfo never delays a tick.
// Stops (and lets the thread exit) on 'stop'.

import { readFile } from 'node:fs/promises';
import { readFileSync } from 'node:fs';
import { parentPort, workerData } from 'node:worker_threads';
import { sampleHostSync } from './host-sample.ts';

const { intervalMs, root } = workerData as { intervalMs: number; root: string };
const port = parentPort;
const wallMs = (): number => performance.timeOrigin + performance.now();
const SLABINFO = `${root}proc/slabinfo`;

function readSlabinfo(): string {
  try {
    return readFileSync(SLABINFO, 'utf8');
  } catch {
    return '';
  }
}

if (port) {
  let slab = { text: readSlabinfo(), atMs: wallMs() };
  let slabReading = false;
  const refreshSlab = (): void => {
    if (slabReading) return;
    slabReading = true;
    const atMs = wallMs();
    readFile(SLABINFO, 'utf8')
      .then((text) => (slab = { text, atMs }), () => {})
      .finally(() => (slabReading = false));
  };
  const timer = setInterval(() => {
    const atMs = wallMs();
    refreshSlab();
    const sample = sampleHostSync(root, slab.text);
    port.postMessage({ atMs, readMs: wallMs() - atMs, slabAgeMs: Math.max(0, atMs - slab.atMs), sample });
  }, intervalMs);
  port.on('message', (message: unknown) => {
    if (message !== 'stop') return;
    clearInterval(timer);
    port.close();
  });
}
