// A smoke test of the native holder as the package ships it, for any Node on any
// architecture (an arm64 Node under qemu-user included): loads lib/'s native holder the
// way connlab does (node-gyp-build picks the addon; set PREBUILDS_ONLY=1 to refuse a
// compiled build/), holds N loopback connections between two holders in this one
// process, proves every one answers a ping, and prints one JSON line. Exit 1 on failure.
// Plain JavaScript so it needs no type stripping. Usage: node scripts/smoke-holder.js [ROOT] [N]
// (planned source ports start at SMOKE_FIRST_SOURCE_PORT, default 44000).
import { createServer } from 'node:net';
import { pathToFileURL } from 'node:url';
import { resolve } from 'node:path';

const root = resolve(process.argv[2] ?? '.');
const count = Number(process.argv[3] ?? 200);
const firstSourcePort = Number(process.env.SMOKE_FIRST_SOURCE_PORT ?? 44000);
const deadlineMs = 60_000; // qemu runs the holder threads slowly; still bounded

const { createNativeHolder, nativeAddonInfo } = await import(pathToFileURL(`${root}/lib/engine/native-holder.js`).href);

async function freePort() {
  const probe = createServer();
  await new Promise((ok) => probe.listen(0, '127.0.0.1', ok));
  const { port } = probe.address();
  await new Promise((ok) => probe.close(ok));
  return port;
}

async function until(check) {
  const end = Date.now() + deadlineMs;
  while (!check()) {
    if (Date.now() > end) throw new Error(`timed out: client ${JSON.stringify(client.stats())} server ${JSON.stringify(server.stats())}`);
    await new Promise((ok) => setTimeout(ok, 20));
  }
}

const port = await freePort();
const server = createNativeHolder();
const client = createNativeHolder();
let result;
try {
  await server.listen('127.0.0.1', port);
  const tuples = new Uint32Array(count * 4);
  // Half with the kernel choosing the source, half from planned (127.0.0.2, port) pairs
  // as connlab load plans them. Not (address, port 0): that sets IP_BIND_ADDRESS_NO_PORT,
  // which qemu-user 7.2 does not translate (ENOPROTOOPT), a gap of the emulator only.
  for (let i = 0; i < count; i++) {
    tuples.set(i % 2 === 0 ? [0, 0, 0x7f000001, port] : [0x7f000002, firstSourcePort + i, 0x7f000001, port], i * 4);
  }
  client.connect(tuples);
  await until(() => client.stats().established === count && server.stats().established === count);
  client.pingAll(1);
  await until(() => client.stats().verified === count);
  result = { arch: process.arch, node: process.version, addon: nativeAddonInfo(), established: client.stats().established, verified: client.stats().verified };
} finally {
  client.destroy();
  server.destroy();
}
process.stdout.write(`${JSON.stringify(result)}\n`);
