// bench --tls: both ends of the bench speak TLS through connlab's own engine (serve
// --tls-cert, load --tls --ca), with a throwaway certificate made for the run, and the
// result says what the handshakes cost: how many a second the ramp completed, and the
// CPU time the workers of each side spent per handshake.

import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ServerTlsOptions } from '../engine/holder.ts';
import type { WorkerPool } from '../engine/worker-pool.ts';
import { tlsLibraryOf } from '../engine/worker-process.ts';
import { ConnlabError } from '../errors.ts';

/** A certificate and key for 127.0.0.1 in a directory of their own; remove() deletes it. */
export interface ThrowawayCert extends ServerTlsOptions {
  remove(): void;
}

/**
 * A self-signed ECDSA P-256 certificate for IP:127.0.0.1, valid one day, made with the
 * openssl CLI (node:crypto makes keys but cannot issue X.509). load trusts exactly it
 * (--ca) and verifies the address, as a client of a real server would.
 */
export function makeThrowawayCert(): ThrowawayCert {
  const dir = mkdtempSync(join(tmpdir(), 'connlab-bench-tls-'));
  const certFile = join(dir, 'cert.pem');
  const keyFile = join(dir, 'key.pem');
  try {
    execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', keyFile, '-out', certFile,
      '-days', '1', '-subj', '/CN=connlab bench', '-addext', 'subjectAltName=IP:127.0.0.1'], { stdio: ['ignore', 'ignore', 'pipe'] });
  } catch (error) {
    rmSync(dir, { recursive: true, force: true });
    throw new ConnlabError('CONNLAB_ERR_WORKER', 'bench --tls could not make its throwaway certificate with the openssl CLI', {
      cause: error, hint: 'install the openssl command (Debian/Ubuntu: apt-get install openssl)',
    });
  }
  return { certFile, keyFile, remove: () => rmSync(dir, { recursive: true, force: true }) };
}

/** The certificate's PEM text: what load trusts. */
export function certPem(cert: ThrowawayCert): string {
  return readFileSync(cert.certFile, 'utf8');
}

const CLOCK_TICKS_PER_SECOND = 100; // USER_HZ: the unit of /proc/PID/stat on every Linux ABI

/** utime + stime of one process in seconds (/proc/PID/stat), 0 when it is gone. */
export function processCpuSeconds(pid: number, proc = '/proc'): number {
  try {
    const stat = readFileSync(join(proc, String(pid), 'stat'), 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' '); // fields from 3 (state) on
    return (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS_PER_SECOND; // 14 utime, 15 stime
  } catch {
    return 0;
  }
}

/** CPU seconds the pool's live workers have used so far. */
export function poolCpuSeconds(pool: WorkerPool | undefined): number {
  return (pool?.workers ?? []).reduce((sum, w) => sum + (w.pid === undefined || w.exited ? 0 : processCpuSeconds(w.pid)), 0);
}

/** What the TLS handshakes of a bench --tls ramp cost (BenchResult.tls). */
export interface BenchTlsSection {
  /** OpenSSL as each side's workers load it (the C worker: the system's libssl.so.3). */
  library: string | null;
  /** Handshakes completed, by side, and the failures by OpenSSL's reason. */
  handshakes: { server: number; load: number };
  errors: Record<string, number>;
  /** Load-side handshakes over the ramp's seconds. */
  handshakes_per_second: number;
  /** CPU seconds of each side's workers over the ramp (TCP connects and accepts included). */
  cpu_seconds: { server: number; load: number };
  /** Those seconds per handshake, in µs: the CPU cost of one handshake on each side. */
  cpu_us_per_handshake: { server: number; load: number; both: number };
}

/** The section from the handshake counts, the ramp's length and the CPU each side spent in it. */
export function benchTlsSection(input: { library: string | null; server: number; load: number; errors: Record<string, number>; rampSeconds: number; serverCpuSeconds: number; loadCpuSeconds: number }): BenchTlsSection {
  const per = (seconds: number, handshakes: number): number => (handshakes > 0 ? Math.round((seconds * 1e6) / handshakes) : 0);
  return {
    library: input.library,
    handshakes: { server: input.server, load: input.load },
    errors: input.errors,
    handshakes_per_second: input.rampSeconds > 0 ? Math.round(input.load / input.rampSeconds) : 0,
    cpu_seconds: { server: Math.round(input.serverCpuSeconds * 100) / 100, load: Math.round(input.loadCpuSeconds * 100) / 100 },
    cpu_us_per_handshake: {
      server: per(input.serverCpuSeconds, input.server),
      load: per(input.loadCpuSeconds, input.load),
      both: per(input.serverCpuSeconds + input.loadCpuSeconds, input.load),
    },
  };
}

/** What measureHandshakes needs of the run: both pools, the CPU mark, and its stop-aware clock. */
export interface HandshakeRun {
  serve: WorkerPool;
  load: WorkerPool;
  /** The serve workers' CPU seconds when the ramp began. */
  serverCpuAtRamp: number;
  /** Seconds until load's rampDone(): every connect answered. */
  rampSeconds: number;
  timeoutMs: number;
  sleep: (ms: number) => Promise<void>;
  stopped: () => boolean;
}

/**
 * A TLS ramp ends when every connected socket has finished its handshake (or failed it),
 * not when the last connect() was answered: waits for that (bounded by timeoutMs), then
 * reads both sides' handshakes and the CPU their workers spent since the ramp began.
 */
export async function measureHandshakes(run: HandshakeRun): Promise<BenchTlsSection> {
  const start = performance.now();
  while (!run.stopped() && performance.now() - start < run.timeoutMs) {
    await run.load.refresh();
    const t = run.load.totals();
    if (t.tls.handshakes + t.closed.tls + t.closed.peer + t.closed.reset >= t.connected) break;
    await run.sleep(100);
  }
  const rampSeconds = run.rampSeconds + (performance.now() - start) / 1000;
  const serverCpuSeconds = poolCpuSeconds(run.serve) - run.serverCpuAtRamp;
  const loadCpuSeconds = poolCpuSeconds(run.load);
  await run.serve.refresh();
  const server = run.serve.totals().tls;
  const load = run.load.totals().tls;
  const errors: Record<string, number> = { ...load.errors };
  for (const [reason, n] of Object.entries(server.errors)) errors[`server: ${reason}`] = n;
  return benchTlsSection({ library: tlsLibraryOf(run.load.runtime), server: server.handshakes, load: load.handshakes, errors, rampSeconds, serverCpuSeconds, loadCpuSeconds });
}
