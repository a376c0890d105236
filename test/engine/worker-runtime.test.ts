import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { describe, it } from 'node:test';
import { workerRuntimeFor } from '../../src/engine/worker-runtime.ts';
import { C_WORKER_PATH, cWorkerAvailable, cWorkerTlsUnavailable, resolveWorkerRuntime } from '../../src/engine/worker-process.ts';

const withTls = { available: true, tlsUnavailable: () => undefined };
const noLibssl = { available: true, tlsUnavailable: () => 'TLS needs OpenSSL 3 (libssl.so.3)' };
const notBuilt = { available: false, tlsUnavailable: () => assert.fail('not asked when the worker is not built') };

describe('worker runtime rule: TLS in the C worker where libssl.so.3 loads', () => {
  it('resolves auto to C for plain and TLS runs where the C worker can load OpenSSL 3', () => {
    assert.equal(workerRuntimeFor('auto', false, withTls), 'c');
    assert.equal(workerRuntimeFor('auto', true, withTls), 'c');
    assert.equal(workerRuntimeFor('auto', true, notBuilt), 'node');
  });

  it('falls back to Node workers for a TLS run where libssl.so.3 is missing, and keeps C for plain TCP', () => {
    assert.equal(workerRuntimeFor('auto', true, noLibssl), 'node');
    assert.equal(workerRuntimeFor('auto', false, { available: true, tlsUnavailable: () => assert.fail('plain runs never ask') }), 'c');
  });

  it('refuses the C runtime asked for by name where it cannot run TLS, with CONNLAB_ERR_PROTOCOL_UNSUPPORTED and the reason', () => {
    assert.throws(() => workerRuntimeFor('c', true, noLibssl), { code: 'CONNLAB_ERR_PROTOCOL_UNSUPPORTED', message: /libssl\.so\.3/ });
    assert.equal(workerRuntimeFor('c', false, noLibssl), 'c');
    assert.equal(workerRuntimeFor('node', true, withTls), 'node');
  });
});

describe('the runtime a supervisor resolves', () => {
  it('runs TLS in C workers where the C worker is built and this host has libssl.so.3', () => {
    assert.equal(cWorkerAvailable(), true, 'npm install builds the C worker in a checkout');
    assert.equal(cWorkerTlsUnavailable(), undefined, '.ci/run installs libssl3');
    assert.equal(resolveWorkerRuntime('auto', 'native', false), 'c');
    assert.equal(resolveWorkerRuntime('auto', 'native', true), 'c');
    assert.equal(resolveWorkerRuntime('c', 'native', true), 'c');
  });

  it('the C worker names the OpenSSL it loads, or says what is missing and that plain TCP still runs', () => {
    const found = spawnSync(C_WORKER_PATH, ['--tls-library'], { encoding: 'utf8' });
    assert.equal(found.status, 0);
    assert.match(found.stdout, /^OpenSSL 3\./);
    const missing = spawnSync(C_WORKER_PATH, ['--tls-library'], { encoding: 'utf8', env: { ...process.env, CONNLAB_LIBSSL: 'libssl-connlab-missing.so.3' } });
    assert.equal(missing.status, 3);
    assert.match(missing.stdout, /libssl-connlab-missing\.so\.3.*apt-get install libssl3.*--worker-runtime node.*plain TCP runs without it/);
  });
});
