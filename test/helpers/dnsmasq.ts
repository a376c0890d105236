// A real DNS server for resolver tests: Debian's dnsmasq on a loopback address and a
// free port, answering only from a hosts file the test writes (no upstream, no
// /etc/hosts; authoritative for connlab.test, so unknown names there are NXDOMAIN), so several A and AAAA records per name point at loopback addresses.

import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promises as dns } from 'node:dns';
import { freePort } from './net.ts';

export const DNSMASQ = '/usr/sbin/dnsmasq';

export interface Dnsmasq {
  /** `127.0.0.1:PORT`, as --dns-server takes it. */
  server: string;
  close(): Promise<void>;
}

/** Starts dnsmasq with these records (`name → addresses`); resolves once it answers. */
export async function startDnsmasq(records: Record<string, string[]>): Promise<Dnsmasq> {
  const dir = mkdtempSync(join(tmpdir(), 'connlab-targets-dns-'));
  const hosts = join(dir, 'hosts');
  writeFileSync(hosts, Object.entries(records).flatMap(([name, addresses]) => addresses.map((a) => `${a} ${name}\n`)).join(''));
  const port = await freePort();
  const child = spawn(DNSMASQ, [
    '--keep-in-foreground', '--conf-file=/dev/null', '--no-resolv', '--no-hosts', `--addn-hosts=${hosts}`,
    '--local=/connlab.test/', '--listen-address=127.0.0.1', '--bind-interfaces', `--port=${port}`, '--user=root', '--pid-file=', '--cache-size=0',
  ], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr?.on('data', (c: Buffer) => (stderr += c.toString()));
  const server = `127.0.0.1:${port}`;
  const close = async (): Promise<void> => {
    if (child.exitCode === null && child.signalCode === null) {
      const gone = new Promise((resolve) => child.once('exit', resolve));
      child.kill('SIGTERM');
      await gone;
    }
    rmSync(dir, { recursive: true, force: true });
  };
  const resolver = new dns.Resolver({ timeout: 200, tries: 1 });
  resolver.setServers([server]);
  const probe = Object.keys(records)[0] ?? 'localhost';
  for (let i = 0; i < 50; i++) {
    if (child.exitCode !== null) break;
    try {
      await resolver.resolve(probe, 'ANY');
      return { server, close };
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ECONNREFUSED' && (error as NodeJS.ErrnoException).code !== 'ETIMEOUT') return { server, close };
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  await close();
  throw new Error(`dnsmasq did not answer on ${server}: ${stderr}`);
}
