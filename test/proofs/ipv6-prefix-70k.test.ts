// Proof: the four-tuple at its extreme. In a network namespace this test makes, a /64 is
// routed to the loopback (ip -6 route add local fd00:18::/64 dev lo table local), so
// every one of its 2^64 addresses is this host's. 70,000 connections go to ONE server
// address and ONE port, all from ONE source port: only the source address differs, each
// its own (the planner gives every connection its own address on the /64; the holder
// binds it with IP_FREEBIND, since IPv6 bind() wants an interface address). serve and
// load run inside the namespace as a user would run them (ip netns exec … connlab …);
// the kernel's socket table shows the spread. Only fd00::/8 addresses, only inside the
// namespace, which is removed afterwards, also on failure or interruption.

import assert from 'node:assert/strict';
import { execFile, execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { BIN } from '../helpers/procs.ts';

const run = promisify(execFile);
const CONNECTIONS = 70_000;
const NS = `connlab-targets-${process.pid}`;
const PORT = 23070;
const SERVER = 'fd00:18::ffff:0:0:1';
const children = new Set<ChildProcess>();

function cleanupSync(): void {
  for (const child of children) {
    // Each child leads its own process group: its workers go with it.
    if (child.pid && child.exitCode === null) try { process.kill(-child.pid, 'SIGKILL'); } catch { /* gone */ }
  }
  try { execFileSync('ip', ['netns', 'del', NS], { stdio: 'ignore' }); } catch { /* not made or gone */ }
}
const onSignal = (signal: NodeJS.Signals): void => { cleanupSync(); process.kill(process.pid, signal); };

interface Proc { child: ChildProcess; out: () => string; err: () => string; exited: Promise<number | null>; line(re: RegExp, ms: number): Promise<string> }

function inNamespace(args: string[]): Proc {
  const child = spawn('ip', ['netns', 'exec', NS, process.execPath, BIN, ...args], { stdio: ['ignore', 'pipe', 'pipe'], detached: true });
  children.add(child);
  let out = '';
  let err = '';
  child.stdout?.on('data', (c: Buffer) => (out += c.toString()));
  child.stderr?.on('data', (c: Buffer) => (err += c.toString()));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  const line = (re: RegExp, ms: number) => new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no line ${re} within ${ms} ms; stderr: ${err}`)), ms);
    const check = (): void => {
      const found = err.split('\n').find((l) => re.test(l));
      if (found === undefined) return;
      clearTimeout(timer);
      child.stderr?.off('data', check);
      resolve(found);
    };
    child.stderr?.on('data', check);
    void exited.then(() => { clearTimeout(timer); reject(new Error(`exited before ${re}; stderr: ${err}`)); });
    check();
  });
  return { child, out: () => out, err: () => err, exited, line };
}

/** Established client sockets toward the server, as ss inside the namespace lists them. */
async function clientSockets(): Promise<{ local: string; peer: string }[]> {
  const { stdout } = await run('ip', ['netns', 'exec', NS, 'ss', '-Htn6', 'state', 'established', 'dst', `[${SERVER}]:${PORT}`], { maxBuffer: 64 * 1024 * 1024 });
  return stdout.trim().split('\n').filter(Boolean).map((row) => {
    const cols = row.trim().split(/\s+/);
    return { local: cols[2] ?? '', peer: cols[3] ?? '' };
  });
}

describe('more than 65,535 connections to one IPv6 server port from one source port, sources spread over a /64', () => {
  before(async () => {
    process.once('SIGINT', onSignal);
    process.once('SIGTERM', onSignal);
    await run('ip', ['netns', 'add', NS]);
    await run('ip', ['-n', NS, 'link', 'set', 'lo', 'up']);
    await run('ip', ['-n', NS, '-6', 'route', 'add', 'local', 'fd00:18::/64', 'dev', 'lo', 'table', 'local']);
  });
  after(() => {
    cleanupSync();
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  });

  it('holds 70,000, each verified, and ss shows 70,000 source addresses on one (address, port) pair', { timeout: 90_000 }, async () => {
    const serve = inNamespace(['serve', '--listen', `[::]:${PORT}`, '--connections', String(CONNECTIONS)]);
    await serve.line(/^serving on/, 20_000);
    const load = inNamespace(['load', `[${SERVER}]:${PORT}`, '-c', String(CONNECTIONS), '--source-ips', 'fd00:18::/64', '--source-ports', '10000-10000',
      '--protocol', 'connlab', '--duration', '4s', '--ping', '0', '--json']);
    await load.line(/^ramped/, 60_000);

    const sockets = await clientSockets();
    assert.equal(sockets.length, CONNECTIONS, 'the kernel holds every connection to the one server port');
    const sources = new Set(sockets.map((s) => s.local.replace(/:\d+$/, '')));
    const sourcePorts = new Set(sockets.map((s) => s.local.replace(/^.*:/, '')));
    const peers = new Set(sockets.map((s) => s.peer));
    assert.equal(sources.size, CONNECTIONS, 'every connection has a source address of its own');
    assert.deepEqual([...sourcePorts], ['10000'], 'and they all share one source port');
    assert.deepEqual([...peers], [`[${SERVER}]:${PORT}`], 'to one server address and port');
    assert.ok([...sources].every((s) => s.startsWith('[fd00:18::')), 'all inside the /64');

    assert.equal(await load.exited, 0, load.err());
    const result = JSON.parse(load.out());
    assert.equal(result.connections.verified, CONNECTIONS, 'each answered a connlab ping after the hold');
    assert.deepEqual(result.errors, {});
    assert.equal(result.plan.sourceIps, 2 ** 32 - 1, 'the planner counts the /64\'s usable window as sources');
    serve.child.kill('SIGTERM');
    assert.equal(await serve.exited, 0, serve.err());
  });

  it('the plain-Node holder, which cannot set IP_FREEBIND, binds the /64 with ip_nonlocal_bind set in the namespace only', { timeout: 60_000 }, async () => {
    await run('ip', ['netns', 'exec', NS, 'sysctl', '-qw', 'net.ipv6.ip_nonlocal_bind=1']);
    const serve = inNamespace(['serve', '--listen', `[::]:${PORT + 1}`, '--workers', '1']);
    await serve.line(/^serving on/, 20_000);
    const load = inNamespace(['load', `[${SERVER}]:${PORT + 1}`, '-c', '2000', '--source-ips', 'fd00:18::/64', '--source-ports', '10000-10000',
      '--holder', 'node', '--protocol', 'connlab', '--duration', '0s', '--ping', '0', '--json']);
    assert.equal(await load.exited, 0, load.err());
    assert.equal(JSON.parse(load.out()).connections.verified, 2000);
    serve.child.kill('SIGTERM');
    assert.equal(await serve.exited, 0, serve.err());
  });
});
