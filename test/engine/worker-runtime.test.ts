import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { runtimeSupports, workerRuntimeFor } from '../../src/engine/worker-runtime.ts';
import type { ProtocolOptions } from '../../src/engine/holder.ts';
import { cWorkerAvailable, resolveWorkerRuntime } from '../../src/engine/worker-process.ts';

const https: ProtocolOptions = { kind: 'http', tls: { verify: false } };
const http: ProtocolOptions = { kind: 'http' };

describe('worker runtime rule: TLS needs Node', () => {
  it('lets the C runtime hold plain protocols but not TLS', () => {
    assert.equal(runtimeSupports('c', http), true);
    assert.equal(runtimeSupports('c', undefined), true);
    assert.equal(runtimeSupports('c', https), false);
    assert.equal(runtimeSupports('node', https), true);
  });

  it('resolves auto to Node for a TLS run even where the C runtime is available', () => {
    assert.equal(workerRuntimeFor('auto', https, true), 'node');
    assert.equal(workerRuntimeFor('auto', http, true), 'c');
    assert.equal(workerRuntimeFor('auto', http, false), 'node');
  });

  it('refuses the C runtime asked for by name with TLS, with CONNLAB_ERR_PROTOCOL_UNSUPPORTED', () => {
    assert.throws(() => workerRuntimeFor('c', https, true), { code: 'CONNLAB_ERR_PROTOCOL_UNSUPPORTED' });
    assert.equal(workerRuntimeFor('c', http, true), 'c');
  });
});

describe('the runtime a supervisor resolves', () => {
  it('runs a TLS load in Node workers even where the C worker is built', () => {
    assert.equal(cWorkerAvailable(), true, 'npm install builds the C worker in a checkout');
    assert.equal(resolveWorkerRuntime('auto', 'native', http), 'c');
    assert.equal(resolveWorkerRuntime('auto', 'native', https), 'node');
    assert.throws(() => resolveWorkerRuntime('c', 'native', https), { code: 'CONNLAB_ERR_PROTOCOL_UNSUPPORTED' });
  });
});
