// Measures what holding idle loopback connections costs, per connection and per side:
// (a) the native holder (server holder + client holder), (b) plain `net.createServer`
// + plain `net.connect` clients. Each side runs in its own Node 24 child process; the
// parent reads /proc/PID/smaps_rollup (Private_Clean + Private_Dirty, Pss) of each
// child before and after the connections exist, and the kernel slab caches a socket
// uses from /proc/slabinfo. Writes bench/results/holder-memory-<date>.json.
//
//   node bench/holder-memory.ts [connections]      (default 19000, at most 19000)
//
// Loopback only. Every child is ended by PID, and every step has a deadline.

import { fork, spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { release } from 'node:os';
import { dirname, join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';

type Kind = 'native' | 'plain';
type Role = 'server' | 'client';

/** Parent -> child. */
type Command =
  | { cmd: 'listen'; port: number }
  | { cmd: 'connect'; count: number; srcIp: string; srcPortBase: number; dstPort: number }
  | { cmd: 'settle' }
  | { cmd: 'verify' };

/** Child -> parent. */
type Reply =
  | { type: 'ready' }
  | { type: 'done'; established: number; detail?: Record<string, unknown> }
  | { type: 'failed'; message: string };

const MAX_CONNECTIONS = 19_000; // the per-process descriptor limit here is 20,000
const STEP_TIMEOUT_MS = 120_000;
const SLAB_CACHES = ['TCP', 'sock_inode_cache', 'filp', 'dentry', 'eventpoll_epi'] as const;
const HERE = fileURLToPath(import.meta.url);

// ---------------------------------------------------------------------------------
// Children: one process per side, driven by IPC commands.

interface Side {
  handle(command: Command): Promise<Reply>;
}

async function nativeSide(): Promise<Side> {
  const { createNativeHolder, ipv4ToU32 } = await import('../src/engine/native-holder.ts');
  const holder = createNativeHolder({ connectTimeoutMs: 30_000, maxSamples: MAX_CONNECTIONS });
  const waitEstablished = async (count: number): Promise<Reply> => {
    const deadline = Date.now() + STEP_TIMEOUT_MS;
    while (holder.stats().established < count && Date.now() < deadline) await delay(20);
    holder.drainSamples();
    const stats = holder.stats();
    return { type: 'done', established: stats.established, detail: { errors: stats.errors } };
  };
  return {
    async handle(command) {
      switch (command.cmd) {
        case 'listen':
          await holder.listen('127.0.0.1', command.port, 8192);
          return { type: 'done', established: 0 };
        case 'connect': {
          const tuples = new Uint32Array(command.count * 4);
          const src = ipv4ToU32(command.srcIp);
          const dst = ipv4ToU32('127.0.0.1');
          for (let i = 0; i < command.count; i++) {
            tuples[i * 4] = src;
            tuples[i * 4 + 1] = command.srcPortBase + i;
            tuples[i * 4 + 2] = dst;
            tuples[i * 4 + 3] = command.dstPort;
          }
          holder.connect(tuples);
          return waitEstablished(command.count);
        }
        case 'settle':
          return waitEstablished(Number(process.env.CONNLAB_BENCH_EXPECT ?? 0));
        case 'verify': {
          holder.pingAll(1);
          const deadline = Date.now() + STEP_TIMEOUT_MS;
          while (holder.stats().verified < holder.stats().established && Date.now() < deadline) await delay(20);
          const stats = holder.stats();
          return { type: 'done', established: stats.established, detail: { verified: stats.verified } };
        }
      }
    },
  };
}

function plainSide(): Side {
  const sockets = new Set<net.Socket>();
  const onError = (): void => {};
  const onClose = function (this: net.Socket): void {
    sockets.delete(this);
  };
  const track = (socket: net.Socket): void => {
    sockets.add(socket);
    socket.on('error', onError);
    socket.on('close', onClose);
  };
  const server = net.createServer(track);
  return {
    async handle(command) {
      if (command.cmd === 'listen') {
        server.listen({ port: command.port, host: '127.0.0.1', backlog: 8192 });
        await once(server, 'listening');
      } else if (command.cmd === 'connect') {
        await plainConnect(command, track);
      } else if (command.cmd === 'settle') {
        const expect = Number(process.env.CONNLAB_BENCH_EXPECT ?? 0);
        const deadline = Date.now() + STEP_TIMEOUT_MS;
        while (sockets.size < expect && Date.now() < deadline) await delay(20);
      }
      return { type: 'done', established: sockets.size };
    },
  };
}

/** Connects in batches of 500, each batch awaited, with shared handlers only. */
async function plainConnect(
  command: Extract<Command, { cmd: 'connect' }>,
  track: (socket: net.Socket) => void,
): Promise<void> {
  for (let start = 0; start < command.count; start += 500) {
    const batch: Promise<unknown>[] = [];
    for (let i = start; i < Math.min(start + 500, command.count); i++) {
      const socket = net.connect({
        host: '127.0.0.1', port: command.dstPort, localAddress: command.srcIp, localPort: command.srcPortBase + i,
      });
      track(socket);
      batch.push(once(socket, 'connect').catch(() => undefined));
    }
    await Promise.all(batch);
  }
}

async function runChild(kind: Kind): Promise<void> {
  const side = kind === 'native' ? await nativeSide() : plainSide();
  process.on('message', (command: Command) => {
    side.handle(command).then(
      (reply) => {
        globalThis.gc?.();
        process.send?.(reply);
      },
      (err: Error) => process.send?.({ type: 'failed', message: String(err?.stack ?? err) } satisfies Reply),
    );
  });
  globalThis.gc?.();
  process.send?.({ type: 'ready' } satisfies Reply);
}

// ---------------------------------------------------------------------------------
// Parent: /proc readers, child control, arithmetic.

/**
 * Private_* counts pages mapped by this process alone: the Node binary's text is
 * "private clean" when no other Node 24 process maps it, so the idle baseline depends on
 * what else runs. Private_Dirty / Anonymous are the process's own writes.
 */
interface ProcessMemory {
  privateBytes: number;
  privateDirtyBytes: number;
  anonymousBytes: number;
  pssBytes: number;
  rssBytes: number;
}

function readSmapsRollup(pid: number): ProcessMemory {
  const kb = (field: string, text: string): number => {
    const match = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(text);
    return match ? Number(match[1]) * 1024 : Number.NaN;
  };
  const text = readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8');
  return {
    privateBytes: kb('Private_Clean', text) + kb('Private_Dirty', text),
    privateDirtyBytes: kb('Private_Dirty', text),
    anonymousBytes: kb('Anonymous', text),
    pssBytes: kb('Pss', text),
    rssBytes: kb('Rss', text),
  };
}

type SlabSnapshot = Record<string, { activeObjs: number; objSize: number }>;

function readSlabs(): SlabSnapshot {
  const out: SlabSnapshot = {};
  for (const line of readFileSync('/proc/slabinfo', 'utf8').split('\n')) {
    const [name, active, , size] = line.split(/\s+/);
    if (name && (SLAB_CACHES as readonly string[]).includes(name)) {
      out[name] = { activeObjs: Number(active), objSize: Number(size) };
    }
  }
  return out;
}

interface Child { process: ChildProcess; pid: number; role: Role }

async function nextReply(child: Child): Promise<Reply> {
  const timer = new AbortController();
  try {
    const [reply] = (await Promise.race([
      once(child.process, 'message'),
      delay(STEP_TIMEOUT_MS, undefined, { signal: timer.signal }).then(() => {
        throw new Error(`${child.role} ${child.pid}: no reply in ${STEP_TIMEOUT_MS} ms`);
      }),
    ])) as [Reply];
    if (reply.type === 'failed') throw new Error(`${child.role} ${child.pid} failed: ${reply.message}`);
    return reply;
  } finally {
    timer.abort();
  }
}

async function startChild(kind: Kind, role: Role, expect: number): Promise<Child> {
  const proc = fork(HERE, ['child', kind], {
    execPath: process.execPath,
    execArgv: ['--expose-gc'],
    env: { ...process.env, CONNLAB_BENCH_EXPECT: String(expect) },
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  const child: Child = { process: proc, pid: proc.pid ?? -1, role };
  await nextReply(child);
  return child;
}

async function command(child: Child, cmd: Command): Promise<Extract<Reply, { type: 'done' }>> {
  child.process.send(cmd);
  return (await nextReply(child)) as Extract<Reply, { type: 'done' }>;
}

async function stopChild(child: Child): Promise<void> {
  if (child.process.exitCode !== null || child.process.signalCode !== null) return;
  const exited = once(child.process, 'exit');
  process.kill(child.pid, 'SIGKILL');
  await exited;
}

async function freePort(): Promise<number> {
  const server = net.createServer().listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as net.AddressInfo;
  server.close();
  await once(server, 'close');
  return port;
}

function perConnection(before: ProcessMemory, after: ProcessMemory, count: number) {
  const per = (field: keyof ProcessMemory): number => Math.round((after[field] - before[field]) / count);
  return {
    privateBytesPerConnection: per('privateBytes'),
    privateDirtyBytesPerConnection: per('privateDirtyBytes'),
    anonymousBytesPerConnection: per('anonymousBytes'),
    pssBytesPerConnection: per('pssBytes'),
  };
}

function slabDelta(before: SlabSnapshot, after: SlabSnapshot, count: number) {
  const caches: Record<string, { objSize: number; activeObjsDelta: number; bytesPerConnection: number }> = {};
  let total = 0;
  for (const name of SLAB_CACHES) {
    const a = after[name];
    const b = before[name];
    if (!a || !b) continue;
    const bytes = (a.activeObjs - b.activeObjs) * a.objSize;
    caches[name] = { objSize: a.objSize, activeObjsDelta: a.activeObjs - b.activeObjs, bytesPerConnection: Math.round(bytes / count) };
    total += bytes;
  }
  // One object of each cache per socket, two sockets per loopback connection: the
  // expected cost, which the global deltas above approach only on a quiet machine.
  const objectBytesPerSocket = Object.values(caches).reduce((sum, c) => sum + c.objSize, 0);
  return {
    caches,
    bytesPerConnection: Math.round(total / count),
    objectBytesPerSocket,
    note: 'slab counters are system-wide: other socket activity during the run inflates the deltas',
  };
}

async function scenario(kind: Kind, count: number, srcIp: string) {
  const server = await startChild(kind, 'server', count);
  const client = await startChild(kind, 'client', count);
  try {
    const port = await freePort();
    await command(server, { cmd: 'listen', port });
    const idle = { server: readSmapsRollup(server.pid), client: readSmapsRollup(client.pid) };
    const slabBefore = readSlabs();
    const startedMs = performance.now();
    const connected = await command(client, { cmd: 'connect', count, srcIp, srcPortBase: 20_000, dstPort: port });
    const rampSeconds = (performance.now() - startedMs) / 1000;
    const accepted = await command(server, { cmd: 'settle' });
    await command(client, { cmd: 'settle' });
    const held = { server: readSmapsRollup(server.pid), client: readSmapsRollup(client.pid) };
    const slabAfter = readSlabs();
    const verified = kind === 'native' ? await command(client, { cmd: 'verify' }) : undefined;
    return {
      kind,
      connections: { target: count, clientEstablished: connected.established, serverEstablished: accepted.established },
      verified: verified?.detail?.verified ?? null,
      clientErrors: connected.detail?.errors ?? null,
      rampSeconds: Number(rampSeconds.toFixed(2)),
      idleProcess: idle,
      holding: held,
      server: perConnection(idle.server, held.server, count),
      client: perConnection(idle.client, held.client, count),
      kernelSlab: slabDelta(slabBefore, slabAfter, count),
    };
  } finally {
    await stopChild(client);
    await stopChild(server);
  }
}

// What a worker process costs before it holds anything, by how it loads the holder:
// Node's runtime type stripping loads a TypeScript transformer into every process
// that imports a .ts file, which matters when the engine runs ~100 workers.
const ADDON_URL = new URL('../build/Release/connlab_holder.node', import.meta.url).pathname;
const IDLE_VARIANTS: Record<string, string> = {
  bareNode: '',
  tsImport: `await import(${JSON.stringify(new URL('../src/errors.ts', import.meta.url).href)});`,
  tsWrapperHolder: `const m = await import(${JSON.stringify(new URL('../src/engine/native-holder.ts', import.meta.url).href)});
globalThis.h = m.createNativeHolder();`,
  jsAddonHolder: `const { createRequire } = await import('node:module');
const b = createRequire(import.meta.url)(${JSON.stringify(ADDON_URL)});
globalThis.h = b.create(0, 1000);`,
};

async function idleBaseline(code: string): Promise<ProcessMemory> {
  const script = `${code}\nglobalThis.gc(); process.stdout.write('ready\\n'); setInterval(() => {}, 60_000);`;
  const child = spawn(process.execPath, ['--expose-gc', '--input-type=module', '-e', script], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const pid = child.pid ?? -1;
  try {
    const exitedEarly = once(child, 'exit').then(() => {
      throw new Error(`idle baseline child ${pid} exited before it was ready`);
    });
    await Promise.race([once(child.stdout as NodeJS.ReadableStream, 'data'), exitedEarly]);
    exitedEarly.catch(() => {});
    return readSmapsRollup(pid);
  } finally {
    if (child.exitCode === null && child.signalCode === null) {
      const exited = once(child, 'exit');
      process.kill(pid, 'SIGKILL');
      await exited;
    }
  }
}

async function idleBaselines(): Promise<Record<string, ProcessMemory>> {
  const out: Record<string, ProcessMemory> = {};
  for (const [name, code] of Object.entries(IDLE_VARIANTS)) out[name] = await idleBaseline(code);
  return out;
}

async function runParent(count: number): Promise<void> {
  if (!Number.isInteger(count) || count < 1 || count > MAX_CONNECTIONS) {
    throw new RangeError(`connections must be 1..${MAX_CONNECTIONS}`);
  }
  const native = await scenario('native', count, '127.0.0.2');
  await delay(1000); // let the kernel finish freeing the first run's sockets (RCU)
  const plain = await scenario('plain', count, '127.0.0.3');
  const idleProcesses = await idleBaselines();
  const result = {
    benchmark: 'holder-memory',
    date: new Date().toISOString(),
    node: process.version,
    kernel: release(),
    connectionsPerProcess: count,
    method: 'smaps_rollup Private_Clean+Private_Dirty and Pss before/after, after gc(); slab = objsize x active_objs delta, both sockets of each loopback connection',
    native,
    plain,
    idleProcesses,
  };
  const file = join(dirname(HERE), 'results', `holder-memory-${result.date.slice(0, 10)}.json`);
  mkdirSync(dirname(file), { recursive: true });
  writeFileSync(file, `${JSON.stringify(result, null, 2)}\n`);
  const idlePrivateDirtyBytes = Object.fromEntries(
    Object.entries(idleProcesses).map(([name, mem]) => [name, mem.privateDirtyBytes]),
  );
  const report = { file, native: summary(native), plain: summary(plain), idlePrivateDirtyBytes };
  process.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
}

function summary(run: Awaited<ReturnType<typeof scenario>>) {
  return {
    server: run.server, client: run.client, kernelSlabBytesPerConnection: run.kernelSlab.bytesPerConnection,
    established: run.connections, verified: run.verified, rampSeconds: run.rampSeconds,
    idlePrivateBytes: { server: run.idleProcess.server.privateBytes, client: run.idleProcess.client.privateBytes },
    idlePrivateDirtyBytes: {
      server: run.idleProcess.server.privateDirtyBytes, client: run.idleProcess.client.privateDirtyBytes,
    },
  };
}

if (process.argv[2] === 'child') {
  await runChild(process.argv[3] as Kind);
} else {
  await runParent(Number(process.argv[2] ?? MAX_CONNECTIONS));
}
