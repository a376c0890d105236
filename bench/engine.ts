// Engine benchmark (issue 3), side by side in one invocation on this host:
//
//  1. connects per second to reach N (default 100,000) connections with each source-port
//     strategy: planned four-tuples (load's default) and kernel-chosen ephemeral ports,
//     each against a fresh `connlab serve`;
//  2. user bytes per held connection on each side (private memory from
//     /proc/PID/smaps_rollup summed over the workers), and a fit of it into a
//     per-process baseline and a per-connection growth (a second, smaller run with the
//     same process counts);
//  3. nginx holding the same N idle connections from the same `connlab load`: its
//     private memory (master + workers) before and after, and the connect rate.
//
// Each run also records where the CPU went during the ramp: utime/stime of every worker
// on both sides (/proc/PID/stat) and the whole machine's user/system/softirq/idle
// (/proc/stat), plus the kernel's listen-queue counters.
//
//   node bench/engine.ts [--connections 100k] [--fit 20k] [--repeat 2] [--no-nginx]
//                        [--only planned,kernel,nginx] [--serve-workers N] [--load-workers N]
//                        [--max-pending N] [--kernel-sources N[,N…]] [--planned-sources N]
//                        [--worker-node-options "..."] [--label TEXT] [--no-write]
//
// Writes bench/results/engine-<ISO date-time>.json and prints a markdown table.
// Loopback only (127.0.0.0/8). Every process it starts is ended by PID, on success, on
// failure and on SIGINT/SIGTERM; every wait has a deadline. Needs nginx for part 3:
// `sh bench/setup.sh` installs it (the script runs it when nginx is missing and we are root).

import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { cpus, release, tmpdir, totalmem } from 'node:os';
import { dirname, join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { readHostFacts } from '../src/limits/host-facts.ts';
import { resolveWorkerEntry } from '../src/engine/worker-entry.ts';
import { startLoad, type LoadHandle, type LoadResult } from '../src/load/load.ts';
import { counterDelta, readNetstatCounters, type NetstatCounters } from '../src/probe/netstat.ts';
import { parseSmapsRollup } from '../src/probe/process-memory.ts';
import { startServe, type ServeHandle } from '../src/server/serve.ts';
import { parseCount } from '../src/units.ts';

const HERE = dirname(fileURLToPath(import.meta.url));
const ROOT = join(HERE, '..');
const RESULTS = join(HERE, 'results');
const NGINX = '/usr/sbin/nginx';
const LOOPBACK = '127.0.0.1';
const PORT_BASE = 9400 + (process.pid % 50) * 10; // fresh four-tuples every run, and per invocation
const RAMP_DEADLINE_MS = 120_000;
const SETTLE_DEADLINE_MS = 10_000;
const NGINX_START_DEADLINE_MS = 10_000;
const NGINX_STOP_DEADLINE_MS = 15_000;
const NGINX_WORKER_CONNECTIONS = 19_000;
const CLK_TCK = 100;

// ---------------------------------------------------------------------------------
// Cleanup: everything started registers how to end it by PID; run on exit paths.

const cleanups = new Map<number, () => void>();
let cleanupSeq = 0;
function onCleanup(fn: () => void): () => void {
  const id = ++cleanupSeq;
  cleanups.set(id, fn);
  return () => cleanups.delete(id);
}
function runCleanups(): void {
  for (const fn of [...cleanups.values()].reverse()) {
    try {
      fn();
    } catch {
      /* best effort: the next one still runs */
    }
  }
  cleanups.clear();
}
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.on(signal, () => {
    process.stderr.write(`\n${signal}: ending every process this benchmark started\n`);
    runCleanups();
    process.exit(130);
  });
}

// ---------------------------------------------------------------------------------
// /proc readings.

interface Memory {
  processes: number;
  privateBytes: number;
  pssBytes: number;
  rssBytes: number;
}

function readMemory(pids: readonly number[]): Memory {
  const out: Memory = { processes: 0, privateBytes: 0, pssBytes: 0, rssBytes: 0 };
  for (const pid of pids) {
    try {
      const m = parseSmapsRollup(readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8'));
      out.processes += 1;
      out.privateBytes += m.privateBytes;
      out.pssBytes += m.pssBytes;
      out.rssBytes += m.rssBytes;
    } catch {
      /* gone */
    }
  }
  return out;
}

interface ProcStat {
  ppid: number;
  utime: number;
  stime: number;
}

function readProcStat(pid: number): ProcStat | undefined {
  try {
    const text = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const f = text.slice(text.lastIndexOf(')') + 2).split(' ');
    return { ppid: Number(f[1]), utime: Number(f[11]) / CLK_TCK, stime: Number(f[12]) / CLK_TCK };
  } catch {
    return undefined;
  }
}

/** Summed CPU seconds of the processes, keyed so a later reading can be diffed. */
function readCpu(pids: readonly number[]): Map<number, ProcStat> {
  const out = new Map<number, ProcStat>();
  for (const pid of pids) {
    const s = readProcStat(pid);
    if (s) out.set(pid, s);
  }
  return out;
}

function cpuDelta(before: Map<number, ProcStat>, after: Map<number, ProcStat>): { user_s: number; sys_s: number } {
  let user = 0;
  let sys = 0;
  for (const [pid, a] of after) {
    const b = before.get(pid);
    user += a.utime - (b?.utime ?? 0);
    sys += a.stime - (b?.stime ?? 0);
  }
  return { user_s: round(user, 2), sys_s: round(sys, 2) };
}

/** Machine-wide jiffies from the first line of /proc/stat. */
function readMachineCpu(): number[] {
  const line = readFileSync('/proc/stat', 'utf8').split('\n')[0] ?? '';
  return line.trim().split(/\s+/).slice(1).map(Number);
}

function machineDelta(before: number[], after: number[]) {
  const d = after.map((v, i) => (v - (before[i] ?? 0)) / CLK_TCK);
  const [user = 0, nice = 0, system = 0, idle = 0, iowait = 0, irq = 0, softirq = 0, steal = 0] = d;
  const total = d.slice(0, 8).reduce((a, b) => a + b, 0);
  return {
    user_s: round(user + nice, 2),
    system_s: round(system, 2),
    softirq_s: round(softirq + irq, 2),
    idle_s: round(idle + iowait, 2),
    steal_s: round(steal, 2),
    busy_fraction: total > 0 ? round(1 - (idle + iowait) / total, 3) : 0,
  };
}

function readSockstat(): { inuse: number; tw: number } {
  const tcp = /TCP: inuse (\d+) orphan \d+ tw (\d+)/.exec(readFileSync('/proc/net/sockstat', 'utf8'));
  return { inuse: Number(tcp?.[1] ?? 0), tw: Number(tcp?.[2] ?? 0) };
}

function childrenOf(ppid: number): number[] {
  const out: number[] = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    if (readProcStat(Number(name))?.ppid === ppid) out.push(Number(name));
  }
  return out;
}

function sysctl(name: string): string {
  try {
    return readFileSync(`/proc/sys/${name.replaceAll('.', '/')}`, 'utf8').trim();
  } catch {
    return 'unreadable';
  }
}

// ---------------------------------------------------------------------------------
// nginx with its own config in a temp dir, never the system's.

interface Nginx {
  master: number;
  workers: number[];
  dir: string;
  config: string;
  statusPort: number;
  stop(): Promise<void>;
  kill(): void;
}

function nginxConfig(dir: string, port: number, statusPort: number, workers: number): string {
  return `# connlab bench/engine.ts: hold idle connections, nothing else
worker_processes ${workers};
worker_rlimit_nofile 20000;
${process.getuid?.() === 0 ? 'user root;\n' : ''}daemon off;
master_process on;
pid ${dir}/nginx.pid;
error_log ${dir}/error.log warn;
events {
  use epoll;
  worker_connections ${NGINX_WORKER_CONNECTIONS};
}
http {
  access_log off;
  client_header_timeout 3600s;
  keepalive_timeout 3600s;
  client_body_temp_path ${dir}/body;
  server {
    # reuseport: one accept queue per worker, spread by four-tuple hash like connlab serve
    listen ${LOOPBACK}:${port} reuseport backlog=4096;
    return 204;
  }
  server {
    listen ${LOOPBACK}:${statusPort};
    location / { stub_status; }
  }
}
`;
}

async function startNginx(port: number, workers: number): Promise<Nginx> {
  const dir = mkdtempSync(join(tmpdir(), 'connlab-nginx-'));
  const statusPort = port + 5;
  const config = nginxConfig(dir, port, statusPort, workers);
  writeFileSync(join(dir, 'nginx.conf'), config);
  const child: ChildProcess = spawn(NGINX, ['-p', `${dir}/`, '-e', `${dir}/error.log`, '-c', join(dir, 'nginx.conf')], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr?.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const master = child.pid;
  if (master === undefined) throw new Error('nginx did not start');
  let workerPids: number[] = [];
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const kill = (): void => {
    for (const pid of [...workerPids, ...childrenOf(master), master]) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        /* gone */
      }
    }
    rmSync(dir, { recursive: true, force: true });
  };
  const forget = onCleanup(kill);
  const deadline = performance.now() + NGINX_START_DEADLINE_MS;
  while (performance.now() < deadline && child.exitCode === null) {
    workerPids = childrenOf(master);
    if (workerPids.length >= workers && (await canConnect(statusPort))) break;
    await delay(50);
  }
  if (child.exitCode !== null || workerPids.length < workers) {
    kill();
    forget();
    throw new Error(`nginx did not start: ${stderr.trim() || readText(join(dir, 'error.log'))}`);
  }
  return {
    master,
    workers: workerPids,
    dir,
    config,
    statusPort,
    kill,
    async stop() {
      try {
        process.kill(master, 'SIGTERM');
      } catch {
        /* gone */
      }
      const timer = delay(NGINX_STOP_DEADLINE_MS, undefined, { ref: false }).then(() => 'timeout');
      if ((await Promise.race([exited.then(() => 'exited'), timer])) === 'timeout') kill();
      // workers of a master that exited are gone too; kill() covers any that is not
      for (const pid of workerPids) {
        if (readProcStat(pid)) kill();
      }
      forget();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

function readText(path: string): string {
  try {
    return readFileSync(path, 'utf8').trim();
  } catch {
    return '';
  }
}

function canConnect(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect({ host: LOOPBACK, port });
    const done = (ok: boolean): void => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(1000, () => done(false));
    socket.once('connect', () => done(true));
    socket.once('error', () => done(false));
  });
}

/** nginx's own count of open client connections (stub_status), less the asking one. */
async function nginxActive(statusPort: number): Promise<number | null> {
  try {
    const response = await fetch(`http://${LOOPBACK}:${statusPort}/`, { signal: AbortSignal.timeout(3000) });
    const match = /Active connections:\s*(\d+)/.exec(await response.text());
    return match ? Number(match[1]) - 1 : null;
  } catch {
    return null;
  }
}

// ---------------------------------------------------------------------------------
// One run: a fresh server (connlab serve or nginx), one connlab load to N, hold, close.

type ServerKind = 'connlab' | 'nginx';
type Strategy = 'planned' | 'kernel';

interface RunSpec {
  name: string;
  server: ServerKind;
  strategy: Strategy;
  connections: number;
  /** Size the server for this many (so a small fit run keeps the big run's process count). */
  sizeFor: number;
  serveWorkers: number | 'auto';
  loadWorkers: number | 'auto';
  maxPending: number | undefined;
  /** Loopback source IPs from 127.0.0.2 on; undefined: load's default. */
  sources: number | undefined;
  ping: boolean;
}

interface RunResult {
  name: string;
  server: ServerKind;
  strategy: Strategy;
  port: number;
  target: number;
  established: number;
  server_held: number | null;
  /** connlab serve: the fullest worker (SO_REUSEPORT spreads by hash), against ~19,900 fds each. */
  server_max_per_worker: number | null;
  verified: number | null;
  ramp: LoadResult['ramp'];
  errors: Record<string, number>;
  processes: { server: number; load: number };
  memory: {
    server_idle_private_bytes: number;
    server_private_bytes: number;
    server_pss_bytes: number;
    server_user_bytes_per_connection: number | null;
    server_growth_bytes_per_connection: number | null;
    load_private_bytes: number;
    load_pss_bytes: number;
    load_user_bytes_per_connection: number | null;
  };
  cpu: {
    ramp: {
      load: { user_s: number; sys_s: number };
      server: { user_s: number; sys_s: number };
      machine: ReturnType<typeof machineDelta>;
      /** (load + server CPU) / connects: what one connection costs the two processes. */
      process_us_per_connect: number | null;
    };
    close_seconds: number;
  };
  kernel: NetstatCounters;
  before: { tcp_inuse: number; tcp_timewait: number };
  options: { max_pending_per_worker: number | 'default'; serve_workers: number | 'auto'; load_workers: number | 'auto'; source_ips: number | 'default' };
  plan: { source_ips: number; capacity: number };
  nginx_config?: string;
}

async function runOne(spec: RunSpec, port: number, facts: ReturnType<typeof readHostFacts>): Promise<RunResult> {
  const before = readSockstat();
  let serve: ServeHandle | undefined;
  let nginx: Nginx | undefined;
  let load: LoadHandle | undefined;
  const forgets: (() => void)[] = [];
  try {
    if (spec.server === 'connlab') {
      serve = await startServe({
        listen: [{ host: LOOPBACK, port }],
        connections: spec.sizeFor,
        workers: spec.serveWorkers,
        fdSoftLimit: facts.fdSoftLimit,
        reportIntervalMs: 500,
      });
      const s = serve;
      forgets.push(onCleanup(() => s.destroy()));
    } else {
      const workers = spec.serveWorkers === 'auto' ? Math.ceil((spec.sizeFor * 1.25) / NGINX_WORKER_CONNECTIONS) : spec.serveWorkers;
      nginx = await startNginx(port, workers);
    }
    await delay(500); // let the fresh workers finish starting before the idle reading
    const serverPids = serve ? serve.pool.pids() : nginx ? [nginx.master, ...nginx.workers] : [];
    const idle = readMemory(serverPids);

    const net0 = await readNetstatCounters();
    const machine0 = readMachineCpu();
    const server0 = readCpu(serverPids);
    load = await startLoad({
      protocol: 'connlab',
      destinations: [{ ip: 0x7f000001, port }],
      connections: spec.connections,
      sourcePorts: spec.strategy === 'kernel' ? 'kernel' : undefined,
      sourceIps: spec.sources === undefined ? undefined : [{ first: 0x7f000002, last: 0x7f000002 + spec.sources - 1 }],
      workers: spec.loadWorkers,
      maxPendingPerWorker: spec.maxPending,
      fdSoftLimit: facts.fdSoftLimit,
      kernelPoolSize: facts.kernelPoolSize,
      connectTimeoutMs: 10_000,
      reportIntervalMs: 500,
    });
    const l = load;
    forgets.push(onCleanup(() => l.destroy()));
    const loadPids = load.pool.pids();
    // Each worker's CPU from its own start: startup (~0.1 s) is part of what a ramp costs.
    const load0 = new Map<number, ProcStat>();
    const rampSeconds = await Promise.race([load.rampDone(), delay(RAMP_DEADLINE_MS, undefined, { ref: false }).then(() => null)]);
    if (rampSeconds === null) throw new Error(`${spec.name}: ramp did not finish within ${RAMP_DEADLINE_MS / 1000} s`);
    const machine1 = readMachineCpu();
    const loadCpu = cpuDelta(load0, readCpu(loadPids));
    const serverCpu = cpuDelta(server0, readCpu(serverPids));
    const net1 = await readNetstatCounters();

    // Settle: the server has accepted what the clients hold (bounded).
    await load.pool.refresh();
    const established = load.progress().established;
    let serverHeld: number | null = null;
    const settleBy = performance.now() + SETTLE_DEADLINE_MS;
    while (performance.now() < settleBy) {
      serverHeld = serve ? (await serve.refresh()).connections : nginx ? await nginxActive(nginx.statusPort) : null;
      if (serverHeld !== null && serverHeld >= established) break;
      await delay(200);
    }
    await delay(300);
    const serverMaxPerWorker = serve ? Math.max(...serve.stats().workers.map((w) => w.established)) : null;
    const serverMem = readMemory(serverPids);
    const loadMem = readMemory(loadPids);
    const verified = spec.ping ? (await load.ping(15_000)).verified : null;

    // The server side closes first, so TIME_WAIT lands on the server's port. Left on the
    // load's bound source ports it would, for 60 s, keep the kernel's ephemeral-port search
    // off every one of those ports (EADDRNOTAVAIL) and the next run's planned binds off the
    // kernel run's ports (EADDRINUSE): runs in one invocation would poison each other.
    const closeStart = performance.now();
    if (serve) await serve.close();
    if (nginx) await nginx.stop();
    const drainBy = performance.now() + SETTLE_DEADLINE_MS;
    while (performance.now() < drainBy) {
      await load.pool.refresh();
      if (load.progress().established === 0) break;
      await delay(100);
    }
    const result = await load.close({ listenOverflowsRose: counterDelta(net0, net1)['TcpExt.ListenOverflows'] > 0 });
    const closeSeconds = (performance.now() - closeStart) / 1000;

    const connects = result.ramp.per_second * result.ramp.seconds;
    const processCpu = loadCpu.user_s + loadCpu.sys_s + serverCpu.user_s + serverCpu.sys_s;
    const held = serverHeld ?? established;
    return {
      name: spec.name,
      server: spec.server,
      strategy: spec.strategy,
      port,
      target: spec.connections,
      established,
      server_held: serverHeld,
      server_max_per_worker: serverMaxPerWorker,
      verified,
      ramp: result.ramp,
      errors: result.errors,
      processes: { server: serverPids.length, load: loadPids.length },
      memory: {
        server_idle_private_bytes: idle.privateBytes,
        server_private_bytes: serverMem.privateBytes,
        server_pss_bytes: serverMem.pssBytes,
        server_user_bytes_per_connection: held > 0 ? Math.round(serverMem.privateBytes / held) : null,
        server_growth_bytes_per_connection: held > 0 ? Math.round((serverMem.privateBytes - idle.privateBytes) / held) : null,
        load_private_bytes: loadMem.privateBytes,
        load_pss_bytes: loadMem.pssBytes,
        load_user_bytes_per_connection: established > 0 ? Math.round(loadMem.privateBytes / established) : null,
      },
      cpu: {
        ramp: {
          load: loadCpu,
          server: serverCpu,
          machine: machineDelta(machine0, machine1),
          process_us_per_connect: connects > 0 ? round((processCpu * 1e6) / connects, 1) : null,
        },
        close_seconds: round(closeSeconds, 2),
      },
      kernel: counterDelta(net0, net1),
      before: { tcp_inuse: before.inuse, tcp_timewait: before.tw },
      options: {
        max_pending_per_worker: spec.maxPending ?? 'default',
        serve_workers: spec.serveWorkers,
        load_workers: spec.loadWorkers,
        source_ips: spec.sources ?? 'default',
      },
      plan: { source_ips: result.plan.sourceIps, capacity: result.plan.capacity },
      ...(nginx ? { nginx_config: nginx.config } : {}),
    };
  } finally {
    // On success these already closed; on failure this ends them by PID.
    load?.destroy();
    serve?.destroy();
    nginx?.kill();
    for (const forget of forgets) forget();
  }
}

// ---------------------------------------------------------------------------------
// Summary and rendering.

const round = (value: number, digits: number): number => Math.round(value * 10 ** digits) / 10 ** digits;

function median(values: number[]): number | null {
  const v = values.filter((x) => Number.isFinite(x)).sort((a, b) => a - b);
  if (v.length === 0) return null;
  const mid = Math.floor(v.length / 2);
  return v.length % 2 ? (v[mid] ?? null) : ((v[mid - 1] ?? 0) + (v[mid] ?? 0)) / 2;
}

function ratio(a: number | null, b: number | null): number | null {
  return a !== null && b !== null && b > 0 ? round(a / b, 2) : null;
}

/** private = processes × base + connections × growth, from two runs with the same processes. */
function fit(big: { privateBytes: number; connections: number; processes: number }, small: { privateBytes: number; connections: number; processes: number }) {
  if (big.processes !== small.processes || big.connections === small.connections) return null;
  const growth = (big.privateBytes - small.privateBytes) / (big.connections - small.connections);
  const base = big.privateBytes - growth * big.connections;
  return {
    processes: big.processes,
    base_bytes_per_process: Math.round(base / big.processes),
    growth_bytes_per_connection: round(growth, 1),
    at_connections: big.connections,
    baseline_share_of_total: round(base / big.privateBytes, 3),
    bytes_per_connection_from_baseline: Math.round(base / big.connections),
  };
}

function summarize(runs: RunResult[], connections: number) {
  const pick = (server: ServerKind, strategy: Strategy) => runs.filter((r) => r.server === server && r.strategy === strategy && r.target === connections);
  const planned = pick('connlab', 'planned');
  const kernel = pick('connlab', 'kernel');
  const nginx = pick('nginx', 'planned');
  const rate = (rs: RunResult[]) => median(rs.map((r) => r.ramp.per_second));
  const m = (rs: RunResult[], f: (r: RunResult) => number | null) => median(rs.flatMap((r) => { const v = f(r); return v === null ? [] : [v]; }));
  const serveBytes = m(planned, (r) => r.memory.server_user_bytes_per_connection);
  const loadBytes = m(planned, (r) => r.memory.load_user_bytes_per_connection);
  const nginxBytes = m(nginx, (r) => r.memory.server_user_bytes_per_connection);
  const nginxGrowth = m(nginx, (r) => r.memory.server_growth_bytes_per_connection);
  const small = runs.filter((r) => r.server === 'connlab' && r.strategy === 'planned' && r.target < connections);
  const big = planned[0];
  const smallest = small[0];
  return {
    connects_per_second: { planned: rate(planned), kernel: rate(kernel), planned_to_nginx: rate(nginx) },
    bytes_per_connection: {
      serve: serveBytes,
      load: loadBytes,
      nginx: nginxBytes,
      nginx_growth_only: nginxGrowth,
      serve_growth_only: m(planned, (r) => r.memory.server_growth_bytes_per_connection),
    },
    ratios_connlab_to_nginx: {
      server_bytes_per_connection: ratio(serveBytes, nginxBytes),
      connects_per_second: ratio(rate(planned), rate(nginx)),
    },
    fit: big && smallest ? {
      serve: fit(
        { privateBytes: big.memory.server_private_bytes, connections: big.server_held ?? big.established, processes: big.processes.server },
        { privateBytes: smallest.memory.server_private_bytes, connections: smallest.server_held ?? smallest.established, processes: smallest.processes.server },
      ),
      load: fit(
        { privateBytes: big.memory.load_private_bytes, connections: big.established, processes: big.processes.load },
        { privateBytes: smallest.memory.load_private_bytes, connections: smallest.established, processes: smallest.processes.load },
      ),
    } : null,
    goals: {
      connects_per_second_30000: { planned: (rate(planned) ?? 0) >= 30_000, kernel: (rate(kernel) ?? 0) >= 30_000 },
      user_bytes_1000: { serve: serveBytes !== null && serveBytes <= 1000, load: loadBytes !== null && loadBytes <= 1000 },
    },
  };
}

const fmt = (n: number | null | undefined, digits = 0): string =>
  n === null || n === undefined ? '—' : n.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits });

function renderTable(runs: RunResult[], summary: ReturnType<typeof summarize>): string {
  const head = '| run | server | source ports | conns | ramp s | connects/s | p50 ms | p99 ms | max ms | errors | server B/conn | load B/conn | load cpu u+s s | server cpu u+s s | machine busy | softirq s |';
  const sep = '|' + head.split('|').slice(1, -1).map(() => ' --- ').join('|') + '|';
  const rows = runs.map((r) => {
    const errors = Object.entries(r.errors).map(([k, v]) => `${k} ${v}`).join(', ') || '0';
    const c = r.cpu.ramp;
    return `| ${r.name} | ${r.server} ×${r.processes.server} | ${r.strategy}, ${r.plan.source_ips} src IP(s) | ${fmt(r.established)} | ${fmt(r.ramp.seconds, 2)} | ${fmt(r.ramp.per_second)} | ` +
      `${fmt(r.ramp.connect_ms.p50, 1)} | ${fmt(r.ramp.connect_ms.p99, 1)} | ${fmt(r.ramp.connect_ms.max, 1)} | ${errors} | ` +
      `${fmt(r.memory.server_user_bytes_per_connection)} | ${fmt(r.memory.load_user_bytes_per_connection)} | ` +
      `${fmt(c.load.user_s, 2)}+${fmt(c.load.sys_s, 2)} | ${fmt(c.server.user_s, 2)}+${fmt(c.server.sys_s, 2)} | ${fmt(c.machine.busy_fraction * 100)}% | ${fmt(c.machine.softirq_s, 2)} |`;
  });
  const s = summary;
  const f = s.fit;
  const lines = [
    head,
    sep,
    ...rows,
    '',
    '| measure | connlab | nginx | connlab/nginx | goal |',
    '| --- | --- | --- | --- | --- |',
    `| connects/s, planned tuples | ${fmt(s.connects_per_second.planned)} | ${fmt(s.connects_per_second.planned_to_nginx)} | ${fmt(s.ratios_connlab_to_nginx.connects_per_second, 2)} | ≥ 30,000: ${s.goals.connects_per_second_30000.planned ? 'met' : 'missed'} |`,
    `| connects/s, kernel ports | ${fmt(s.connects_per_second.kernel)} | | | ≥ 30,000: ${s.goals.connects_per_second_30000.kernel ? 'met' : 'missed'} |`,
    `| server user B/conn | ${fmt(s.bytes_per_connection.serve)} | ${fmt(s.bytes_per_connection.nginx)} | ${fmt(s.ratios_connlab_to_nginx.server_bytes_per_connection, 2)} | ≤ 1,000: ${s.goals.user_bytes_1000.serve ? 'met' : 'missed'} |`,
    `| server growth B/conn (after − idle) | ${fmt(s.bytes_per_connection.serve_growth_only)} | ${fmt(s.bytes_per_connection.nginx_growth_only)} | | |`,
    `| load user B/conn | ${fmt(s.bytes_per_connection.load)} | | | ≤ 1,000: ${s.goals.user_bytes_1000.load ? 'met' : 'missed'} |`,
  ];
  if (f) {
    for (const side of ['serve', 'load'] as const) {
      const x = f[side];
      if (x) lines.push(`| fit ${side}: ${x.processes} × ${fmt(x.base_bytes_per_process / 1048576, 1)} MiB base + ${fmt(x.growth_bytes_per_connection, 0)} B/conn | baseline = ${fmt(x.baseline_share_of_total * 100)}% at ${fmt(x.at_connections)} (${fmt(x.bytes_per_connection_from_baseline)} B/conn) | | | |`);
    }
  }
  return lines.join('\n');
}

// ---------------------------------------------------------------------------------
// Main.

function machine() {
  const meminfo = readText('/proc/meminfo');
  const kb = (key: string) => Number(new RegExp(`^${key}:\\s+(\\d+) kB`, 'm').exec(meminfo)?.[1] ?? 0) * 1024;
  const git = (args: string[]) => spawnSync('git', args, { cwd: ROOT, encoding: 'utf8' }).stdout.trim();
  return {
    nproc: cpus().length,
    cpu_model: cpus()[0]?.model ?? 'unknown',
    mem_total_bytes: kb('MemTotal') || totalmem(),
    mem_available_bytes: kb('MemAvailable'),
    kernel: release(),
    node: process.version,
    nginx: spawnSync(NGINX, ['-v'], { encoding: 'utf8' }).stderr?.trim() || null,
    loadavg: readText('/proc/loadavg'),
    git_commit: git(['rev-parse', 'HEAD']),
    git_dirty_engine: git(['status', '--porcelain', '--', 'native', 'src/engine', 'src/load', 'src/server']).split('\n').filter(Boolean),
    sysctl: Object.fromEntries(['net.core.somaxconn', 'net.ipv4.tcp_max_syn_backlog', 'net.ipv4.tcp_syncookies', 'net.ipv4.ip_local_port_range', 'net.ipv4.tcp_tw_reuse', 'net.ipv4.tcp_max_tw_buckets', 'fs.file-max'].map((k) => [k, sysctl(k)])),
  };
}

function ensureNginx(): string | null {
  const have = () => spawnSync(NGINX, ['-v'], { encoding: 'utf8' }).status === 0;
  if (have()) return null;
  process.stderr.write('nginx is missing: running bench/setup.sh\n');
  const setup = spawnSync('sh', [join(HERE, 'setup.sh')], { stdio: 'inherit', timeout: 300_000 });
  return setup.status === 0 && have() ? null : 'nginx is not installed and bench/setup.sh could not install it';
}

function ensureBuilt(): void {
  const entry = resolveWorkerEntry();
  if (entry.kind === 'js') return;
  process.stderr.write(`workers would run TypeScript (${entry.reason}): building lib/\n`);
  const tsc = spawnSync(join(ROOT, 'node_modules', '.bin', 'tsc'), ['-p', 'tsconfig.build.json'], { cwd: ROOT, stdio: 'inherit', timeout: 120_000 });
  if (tsc.status !== 0 || resolveWorkerEntry().kind !== 'js') throw new Error('npm run build failed: workers would pay ~12 MB each for type stripping');
}

async function main(): Promise<number> {
  const { values } = parseArgs({
    options: {
      connections: { type: 'string', default: '100000' },
      fit: { type: 'string', default: '20000' },
      repeat: { type: 'string', default: '2' },
      only: { type: 'string', default: 'planned,kernel,nginx' },
      'no-nginx': { type: 'boolean', default: false },
      'serve-workers': { type: 'string' },
      'load-workers': { type: 'string' },
      'max-pending': { type: 'string' },
      'kernel-sources': { type: 'string' },
      'planned-sources': { type: 'string' },
      'worker-node-options': { type: 'string' },
      label: { type: 'string' },
      'no-write': { type: 'boolean', default: false },
    },
  });
  const connections = parseCount(values.connections, '--connections', { min: 1 });
  const fitAt = parseCount(values.fit, '--fit', { min: 0 });
  const repeat = Math.min(5, parseCount(values.repeat, '--repeat', { min: 1 }));
  const only = new Set(values.only.split(','));
  const serveWorkers: number | 'auto' = values['serve-workers'] === undefined ? 'auto' : parseCount(values['serve-workers'], '--serve-workers', { min: 1 });
  const loadWorkers: number | 'auto' = values['load-workers'] === undefined ? 'auto' : parseCount(values['load-workers'], '--load-workers', { min: 1 });
  const maxPending = values['max-pending'] === undefined ? undefined : parseCount(values['max-pending'], '--max-pending', { min: 1 });
  // Experiments only: workers are forked with this process's environment.
  if (values['worker-node-options'] !== undefined) process.env.NODE_OPTIONS = values['worker-node-options'];

  ensureBuilt();
  const nginxSkipped = values['no-nginx'] || !only.has('nginx') ? 'not requested' : ensureNginx();
  const facts = readHostFacts();
  const started = new Date();
  const command = ['node', ...process.argv.slice(1).map((a) => (a.startsWith(ROOT) ? a.slice(ROOT.length + 1) : a))].join(' ');

  const sourcesFlag = (name: 'kernel-sources' | 'planned-sources'): number | undefined => {
    const text = values[name];
    return text === undefined ? undefined : Math.min(250, parseCount(text, `--${name}`, { min: 1 }));
  };
  // A list runs one kernel run per value (an A/B in one invocation): --kernel-sources 4,15
  const kernelSources: (number | undefined)[] = values['kernel-sources'] === undefined
    ? [undefined]
    : values['kernel-sources'].split(',').slice(0, 4).map((v) => Math.min(250, parseCount(v, '--kernel-sources', { min: 1 })));
  const plannedSources = sourcesFlag('planned-sources');
  const base = { connections, sizeFor: connections, serveWorkers, loadWorkers, maxPending, sources: plannedSources };
  const specs: RunSpec[] = [];
  for (let i = 1; i <= repeat; i++) {
    const suffix = repeat > 1 ? ` #${i}` : '';
    // Kernel ports first: the one strategy other runs' TIME_WAIT can still hurt (see runOne).
    if (only.has('kernel')) {
      for (const sources of kernelSources) {
        const name = kernelSources.length > 1 ? `kernel ${sources ?? 'default'} src${suffix}` : `kernel${suffix}`;
        specs.push({ ...base, name, server: 'connlab', strategy: 'kernel', ping: true, sources });
      }
    }
    if (only.has('planned')) specs.push({ ...base, name: `planned${suffix}`, server: 'connlab', strategy: 'planned', ping: true });
    if (!nginxSkipped) specs.push({ ...base, name: `nginx${suffix}`, server: 'nginx', strategy: 'planned', ping: false });
  }

  const runs: RunResult[] = [];
  const failures: { name: string; error: string }[] = [];
  let port = PORT_BASE;
  const runSpec = async (spec: RunSpec): Promise<RunResult | undefined> => {
    process.stderr.write(`${spec.name}: ${spec.server} ← connlab load, ${spec.strategy} source ports, ${spec.connections.toLocaleString('en-US')} connections on port ${port}\n`);
    try {
      const r = await runOne(spec, port, facts);
      port += 10;
      runs.push(r);
      process.stderr.write(`  ${r.established.toLocaleString('en-US')} in ${r.ramp.seconds} s = ${r.ramp.per_second.toLocaleString('en-US')}/s; server ${r.memory.server_user_bytes_per_connection} B/conn${r.server_max_per_worker === null ? '' : ` (fullest worker ${r.server_max_per_worker})`}, load ${r.memory.load_user_bytes_per_connection} B/conn\n`);
      await delay(1000); // let the closes drain before the next ramp
      return r;
    } catch (error) {
      port += 10;
      failures.push({ name: spec.name, error: error instanceof Error ? error.message : String(error) });
      process.stderr.write(`  failed: ${error instanceof Error ? error.message : String(error)}\n`);
      return undefined;
    }
  };
  try {
    let first: RunResult | undefined;
    for (const spec of specs) {
      const r = await runSpec(spec);
      if (spec.server === 'connlab' && spec.strategy === 'planned') first ??= r;
    }
    // The fit run: fewer connections, the same process counts on both sides.
    if (fitAt > 0 && fitAt < connections && first) {
      await runSpec({
        ...base,
        name: `planned fit ${fitAt.toLocaleString('en-US')}`,
        server: 'connlab',
        strategy: 'planned',
        connections: fitAt,
        serveWorkers: first.processes.server,
        loadWorkers: first.processes.load,
        ping: true,
      });
    }
  } finally {
    runCleanups();
  }

  const summary = summarize(runs, connections);
  const result = {
    schema: 'connlab.bench-engine/1',
    label: values.label ?? null,
    started_at: started.toISOString(),
    duration_seconds: round((Date.now() - started.getTime()) / 1000, 1),
    command,
    worker_node_options: values['worker-node-options'] ?? null,
    /** Inherited by every worker: what changes their memory besides the code. */
    env: { NODE_OPTIONS: process.env.NODE_OPTIONS ?? null, MALLOC_ARENA_MAX: process.env.MALLOC_ARENA_MAX ?? null },
    machine: machine(),
    facts,
    summary,
    runs,
    failures,
    nginx_skipped: nginxSkipped,
  };
  const table = renderTable(runs, summary);
  if (!values['no-write']) {
    mkdirSync(RESULTS, { recursive: true });
    const file = join(RESULTS, `engine-${started.toISOString().replace(/\.\d+Z$/, 'Z').replaceAll(':', '-')}.json`);
    writeFileSync(file, `${JSON.stringify(result, null, 2)}\n`);
    process.stderr.write(`wrote ${file.slice(ROOT.length + 1)}\n`);
  }
  process.stdout.write(`\n${table}\n\nmachine: ${result.machine.nproc} cores, ${fmt(result.machine.mem_total_bytes / 2 ** 30, 1)} GiB, Linux ${result.machine.kernel}, Node ${result.machine.node}; ${command}\n`);
  return failures.length > 0 ? 1 : 0;
}

main().then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    runCleanups();
    process.stderr.write(`bench/engine.ts: ${error instanceof Error ? error.stack ?? error.message : String(error)}\n`);
    process.exitCode = 1;
  },
);
