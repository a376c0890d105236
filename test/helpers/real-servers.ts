// Servers no one here wrote, started for tests on loopback and stopped by PID: nginx and
// Mosquitto from Debian with configs in a temp dir, the ws test server (several processes
// on one port), plus an echo server and an accept-then-close server in this process.

import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import tls from 'node:tls';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';

export const NGINX = '/usr/sbin/nginx';
export const MOSQUITTO = '/usr/sbin/mosquitto';

export interface RealServer {
  port: number;
  pids: number[];
  stop(): Promise<void>;
}

async function canConnect(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect({ host: '127.0.0.1', port });
    const done = (ok: boolean): void => {
      socket.destroy();
      resolve(ok);
    };
    socket.once('connect', () => done(true));
    socket.once('error', () => done(false));
  });
}

async function untilListening(port: number, child: ChildProcess, what: string, stderr: () => string): Promise<void> {
  const deadline = Date.now() + 10_000;
  while (!(await canConnect(port))) {
    if (child.exitCode !== null || Date.now() > deadline) throw new Error(`${what} did not start: ${stderr()}`);
    await delay(20);
  }
}

/** SIGTERM by PID, SIGKILL after 5 s; resolves when the process is gone. */
async function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = once(child, 'exit');
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 5_000);
  await exited;
  clearTimeout(timer);
}

function spawnLogged(cmd: string, args: string[]): { child: ChildProcess; stderr: () => string } {
  const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let err = '';
  child.stderr?.on('data', (chunk: Buffer) => (err += chunk.toString()));
  child.stdout?.resume();
  return { child, stderr: () => err.trim() };
}

/**
 * A server of Debian's started from a config file written to a fresh temp directory
 * (`config` gets the directory), stopped by PID, the directory removed with it.
 */
async function startFromConfig(binary: string, what: string, port: number, config: (dir: string) => string,
  args: (dir: string, file: string) => string[]): Promise<RealServer> {
  const dir = mkdtempSync(join(tmpdir(), `connlab-test-${what}-`));
  const file = join(dir, `${what}.conf`);
  writeFileSync(file, config(dir));
  const { child, stderr } = spawnLogged(binary, args(dir, file));
  const stop = async (): Promise<void> => {
    await stopChild(child);
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    await untilListening(port, child, what, stderr);
  } catch (error) {
    await stop();
    throw error;
  }
  return { port, pids: [child.pid as number], stop };
}

const nginxArgs = (dir: string, file: string): string[] => ['-p', `${dir}/`, '-e', `${dir}/error.log`, '-c', file];

/**
 * nginx with 4 workers, keepalive_timeout 300s: `/` answers 200 "ok", `/close` answers
 * with Connection: close, `/big` a 5 MiB file (past connlab's 4 MiB body limit),
 * `/long-header` a 7,000-byte header line (under its 8 KiB line limit).
 */
export function startNginx(port: number, workers = 4): Promise<RealServer> {
  return startFromConfig(NGINX, 'nginx', port, (dir) => {
    writeFileSync(join(dir, 'big'), Buffer.alloc(5 * 1024 * 1024, 0x62));
    return nginxConfig(dir, port, workers);
  }, nginxArgs);
}

function nginxConfig(dir: string, port: number, workers: number): string {
  return `worker_processes ${workers};
worker_rlimit_nofile 20000;
${process.getuid?.() === 0 ? 'user root;' : ''}
daemon off;
pid ${dir}/nginx.pid;
error_log ${dir}/error.log warn;
events { worker_connections 19000; }
http {
  access_log off;
  keepalive_timeout 300s;
  keepalive_requests 1000000;
  client_body_temp_path ${dir}/body;
  server {
    listen 127.0.0.1:${port} reuseport backlog=4096;
    location = /close { keepalive_timeout 0; return 200 "bye\\n"; }
    location = /big { root ${dir}; }
    location = /long-header { set $l "${'l'.repeat(3500)}"; add_header X-Long "$l$l"; return 200 "ok\\n"; }
    location / { return 200 "ok\\n"; }
  }
}
`;
}

/** Mosquitto (one process) on 127.0.0.1:port, anonymous, no persistence. */
export function startMosquitto(port: number): Promise<RealServer> {
  return startMosquittoWith(port, '', 'mosquitto');
}

function startMosquittoWith(port: number, listenerLines: string, what: string): Promise<RealServer> {
  return startFromConfig(MOSQUITTO, what, port, () => `listener ${port} 127.0.0.1
${listenerLines}allow_anonymous true
persistence false
max_connections -1
log_dest stderr
log_type error
`, (_dir, file) => ['-c', file]);
}

const WS_SERVER = new URL('../fixtures/servers/ws-server.mjs', import.meta.url).pathname;

/** `processes` ws-package servers sharing one port with SO_REUSEPORT. */
export async function startWsServer(port: number, processes = 2, broadcastMs = 0): Promise<RealServer> {
  const children = Array.from({ length: processes }, () => spawnLogged(process.execPath, [WS_SERVER, String(port), String(broadcastMs)]));
  const stop = async (): Promise<void> => {
    await Promise.all(children.map(({ child }) => stopChild(child)));
  };
  try {
    await Promise.all(children.map(async ({ child, stderr }) => {
      const [line] = (await Promise.race([once(child.stdout!, 'data'), once(child, 'exit').then(() => { throw new Error(`ws server exited: ${stderr()}`); })])) as [Buffer];
      if (!line.toString().includes('listening')) throw new Error(`ws server: ${line.toString()}`);
    }));
  } catch (error) {
    await stop();
    throw error;
  }
  return { port, pids: children.map(({ child }) => child.pid as number), stop };
}

/** A TCP server in this process: `echo` returns what it gets, `close` accepts and closes at once. */
export async function startPlainServer(port: number, mode: 'echo' | 'close'): Promise<RealServer & { bytesReceived(): number }> {
  let bytes = 0;
  const sockets = new Set<net.Socket>();
  const server = net.createServer((socket) => {
    if (mode === 'close') {
      socket.destroy();
      return;
    }
    sockets.add(socket);
    socket.on('data', (chunk) => {
      bytes += chunk.length;
      socket.write(chunk);
    });
    socket.on('error', () => {});
    socket.on('close', () => sockets.delete(socket));
  });
  server.listen({ host: '127.0.0.1', port, backlog: 4096 });
  await once(server, 'listening');
  return {
    port,
    pids: [process.pid],
    bytesReceived: () => bytes,
    async stop() {
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

export const haveNginx = (): boolean => existsSync(NGINX);
export const haveMosquitto = (): boolean => existsSync(MOSQUITTO);

/** Where a TLS test server finds its certificate and key (test/helpers/tls-certs.ts). */
export interface TlsFiles {
  certFile: string;
  keyFile: string;
}

/**
 * nginx with `ssl` on 127.0.0.1:port, keep-alive as startNginx. It answers 200 "ok" to a
 * connection whose TLS server_name (SNI) was `sniName`, 421 to any other or none, so the
 * status codes show the name the server saw.
 */
export function startNginxTls(port: number, files: TlsFiles, sniName: string, workers = 2): Promise<RealServer> {
  return startFromConfig(NGINX, 'nginx-tls', port, (dir) => `worker_processes ${workers};
worker_rlimit_nofile 20000;
${process.getuid?.() === 0 ? 'user root;' : ''}
daemon off;
pid ${dir}/nginx.pid;
error_log ${dir}/error.log warn;
events { worker_connections 19000; }
http {
  access_log off;
  keepalive_timeout 300s;
  keepalive_requests 1000000;
  client_body_temp_path ${dir}/body;
  server {
    listen 127.0.0.1:${port} ssl reuseport backlog=4096;
    ssl_certificate ${files.certFile};
    ssl_certificate_key ${files.keyFile};
    location / {
      if ($ssl_server_name != "${sniName}") { return 421 "wrong name\\n"; }
      return 200 "ok\\n";
    }
  }
}
`, nginxArgs);
}

/** Mosquitto with a TLS listener on 127.0.0.1:port (MQTT over TLS), anonymous. */
export function startMosquittoTls(port: number, files: TlsFiles): Promise<RealServer> {
  return startMosquittoWith(port, `certfile ${files.certFile}\nkeyfile ${files.keyFile}\n`, 'mosquitto-tls');
}

/** The ws test server behind https.createServer (wss), `processes` sharing the port. */
export async function startWssServer(port: number, files: TlsFiles, processes = 2): Promise<RealServer> {
  const children = Array.from({ length: processes }, () => spawnLogged(process.execPath, [WS_SERVER, String(port), '0', files.certFile, files.keyFile]));
  const stop = async (): Promise<void> => {
    await Promise.all(children.map(({ child }) => stopChild(child)));
  };
  try {
    await Promise.all(children.map(async ({ child, stderr }) => {
      const [line] = (await Promise.race([once(child.stdout!, 'data'), once(child, 'exit').then(() => { throw new Error(`wss server exited: ${stderr()}`); })])) as [Buffer];
      if (!line.toString().includes('listening')) throw new Error(`wss server: ${line.toString()}`);
    }));
  } catch (error) {
    await stop();
    throw error;
  }
  return { port, pids: children.map(({ child }) => child.pid as number), stop };
}

/** A node:tls echo server in this process (TLS over tcp); it records the SNI names it saw. */
export async function startTlsEcho(port: number, files: TlsFiles): Promise<RealServer & { serverNames(): Map<string, number> }> {
  const names = new Map<string, number>();
  const sockets = new Set<tls.TLSSocket>();
  const server = tls.createServer({ cert: readFileSync(files.certFile), key: readFileSync(files.keyFile) }, (socket) => {
    const name = socket.servername || '(none)';
    names.set(name, (names.get(name) ?? 0) + 1);
    sockets.add(socket);
    socket.on('data', (chunk) => socket.write(chunk));
    socket.on('error', () => {});
    socket.on('close', () => sockets.delete(socket));
  });
  server.on('tlsClientError', () => {});
  server.listen({ host: '127.0.0.1', port, backlog: 4096 });
  await once(server, 'listening');
  return {
    port,
    pids: [process.pid],
    serverNames: () => names,
    async stop() {
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
