// A throwaway certificate authority for the TLS tests, made at test time with the
// `openssl` CLI from Debian (node:crypto cannot issue X.509): a CA and one server
// certificate for DNS:connlab.test and IP:127.0.0.1, signed by it. ECDSA P-256 keeps
// the files and handshakes small.

import { execFileSync } from 'node:child_process';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export const TEST_SERVER_NAME = 'connlab.test';

export interface TestCerts {
  dir: string;
  /** The CA certificate (PEM): what --ca trusts. */
  caFile: string;
  /** The server's certificate and key (PEM). */
  certFile: string;
  keyFile: string;
  remove(): void;
}

function openssl(args: string[], cwd: string): void {
  execFileSync('openssl', args, { cwd, stdio: ['ignore', 'ignore', 'pipe'] });
}

export function makeTestCerts(): TestCerts {
  const dir = mkdtempSync(join(tmpdir(), 'connlab-test-tls-'));
  chmodSync(dir, 0o755); // servers that drop privileges (mosquitto) still read them
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes'];
  openssl(['req', '-x509', ...ec, '-keyout', 'ca.key', '-out', 'ca.pem', '-days', '2', '-subj', '/CN=connlab test CA'], dir);
  openssl(['req', ...ec, '-keyout', 'server.key', '-out', 'server.csr', '-subj', `/CN=${TEST_SERVER_NAME}`], dir);
  writeFileSync(join(dir, 'ext'), `subjectAltName=DNS:${TEST_SERVER_NAME},IP:127.0.0.1\n`);
  openssl(['x509', '-req', '-in', 'server.csr', '-CA', 'ca.pem', '-CAkey', 'ca.key', '-CAcreateserial', '-out', 'server.pem', '-days', '2', '-extfile', 'ext'], dir);
  chmodSync(join(dir, 'server.key'), 0o644);
  return {
    dir,
    caFile: join(dir, 'ca.pem'),
    certFile: join(dir, 'server.pem'),
    keyFile: join(dir, 'server.key'),
    remove: () => rmSync(dir, { recursive: true, force: true }),
  };
}
