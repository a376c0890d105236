// Separate "hosts" on this machine: one network namespace each, all joined by a bridge
// that lives in a namespace of its own, addresses from 198.18.0.0/15 (reserved for
// network benchmarks). No namespace has a route anywhere else, and the host's own
// namespace is never touched, so traffic stays between the hosts the test made.
// Everything is removed afterwards: on success, on failure, and on SIGINT/SIGTERM.

import { execFile, execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { promisify } from 'node:util';

const run = promisify(execFile);
const PREFIX = 'connlab-fleet-';

export interface NetnsHost {
  /** The namespace: connlab-fleet-<pid>-<label>. */
  ns: string;
  label: string;
  /** Its one address, in 198.18.0.0/24. */
  address: string;
}

const ip = (...args: string[]) => run('ip', args);

/** Namespaces this process made and has not removed yet. */
const made = new Set<string>();
const children = new Set<ChildProcess>();

function removeAllSync(): void {
  for (const child of children) if (child.exitCode === null && child.pid) {
    try {
      process.kill(child.pid, 'SIGKILL');
    } catch { /* already gone */ }
  }
  for (const ns of made) {
    try {
      execFileSync('ip', ['netns', 'del', ns], { stdio: 'ignore' });
    } catch { /* already gone */ }
    made.delete(ns);
  }
}

async function addNamespace(ns: string): Promise<void> {
  await ip('netns', 'add', ns);
  made.add(ns);
  await ip('-n', ns, 'link', 'set', 'lo', 'up');
}

async function build(labels: readonly string[], prefix: string): Promise<NetnsHost[]> {
  const bridgeNs = `${prefix}${process.pid}-br`;
  await addNamespace(bridgeNs);
  await ip('-n', bridgeNs, 'link', 'add', 'br0', 'type', 'bridge');
  await ip('-n', bridgeNs, 'link', 'set', 'br0', 'up');
  const hosts: NetnsHost[] = [];
  for (const [i, label] of labels.entries()) {
    const host = { ns: `${prefix}${process.pid}-${label}`, label, address: `198.18.0.${i + 1}` };
    await addNamespace(host.ns);
    // The pair is made inside the host's namespace, its peer moved straight to the
    // bridge's: neither end ever exists in the namespace of this machine.
    await ip('-n', host.ns, 'link', 'add', 'eth0', 'type', 'veth', 'peer', 'name', `p${i}`, 'netns', bridgeNs);
    await ip('-n', host.ns, 'addr', 'add', `${host.address}/24`, 'dev', 'eth0');
    await ip('-n', host.ns, 'link', 'set', 'eth0', 'up');
    await ip('-n', bridgeNs, 'link', 'set', `p${i}`, 'master', 'br0', 'up');
    hosts.push(host);
  }
  return hosts;
}

/**
 * Builds the hosts, runs fn, and removes every namespace (and child) whatever happens.
 * `prefix` names the namespaces (`<prefix><pid>-<label>`): a suite's own, to tell them apart.
 */
export async function withHosts<T>(labels: readonly string[], fn: (hosts: NetnsHost[]) => Promise<T>, prefix = PREFIX): Promise<T> {
  const onSignal = (signal: NodeJS.Signals): void => {
    removeAllSync();
    process.kill(process.pid, signal);
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  try {
    return await fn(await build(labels, prefix));
  } finally {
    removeAllSync();
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
}

/** Namespaces with our prefix that exist now (to prove the cleanup). */
export async function leftoverNamespaces(prefix = PREFIX): Promise<string[]> {
  const { stdout } = await ip('netns', 'list');
  return stdout.split('\n').map((l) => l.split(' ')[0] ?? '').filter((n) => n.startsWith(`${prefix}${process.pid}-`));
}

export interface Spawned {
  child: ChildProcess;
  stdout(): string;
  stderr(): string;
  exited: Promise<number | null>;
}

/** Runs `node bin/connlab.js args` inside a host; killed by the cleanup if still running. */
export function connlabIn(host: NetnsHost, args: readonly string[]): Spawned {
  const bin = new URL('../../bin/connlab.js', import.meta.url).pathname;
  return spawnIn(host, process.execPath, [bin, ...args]);
}

/** Runs any program inside a host (a server, an exporter); killed by the cleanup if still running. */
export function spawnIn(host: NetnsHost, command: string, args: readonly string[]): Spawned {
  const child = spawn('ip', ['netns', 'exec', host.ns, command, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  children.add(child);
  let out = '';
  let err = '';
  child.stdout?.on('data', (d: Buffer) => (out += d));
  child.stderr?.on('data', (d: Buffer) => (err += d));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => {
    children.delete(child);
    resolve(code);
  }));
  return { child, stdout: () => out, stderr: () => err, exited };
}

/** Established TCP sockets inside a host: [local, peer] address strings. */
export async function establishedIn(host: NetnsHost): Promise<[string, string][]> {
  const { stdout } = await run('ip', ['netns', 'exec', host.ns, 'ss', '-Htn', 'state', 'established'], { maxBuffer: 64 * 1024 * 1024 });
  return stdout.split('\n').filter((l) => l.trim()).map((l) => {
    const f = l.trim().split(/\s+/);
    return [f.at(-2) ?? '', f.at(-1) ?? ''];
  });
}
