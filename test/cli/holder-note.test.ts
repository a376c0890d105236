import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { runtimeNote } from '../../src/cli/holder-note.ts';

describe('the holder and worker runtime note', () => {
  it('says nothing on the native holder in C workers', () => {
    assert.equal(runtimeNote({ holderChoice: undefined, holder: 'native', runtimeChoice: undefined, runtime: 'c' }), '');
  });

  it('names the holder, the runtime and the reason otherwise', () => {
    const base = { holderChoice: undefined, holder: 'native', runtimeChoice: undefined, runtime: 'node' } as const;
    assert.match(runtimeNote({ ...base, tls: true }), /^note: running on the native holder in Node workers .*TLS needs the OpenSSL inside Node\n$/);
    assert.match(runtimeNote(base), /the C worker .*connlab-worker is not built; install a C toolchain/);
    assert.match(runtimeNote({ ...base, runtimeChoice: 'node' }), /as --worker-runtime node asks/);
    assert.match(runtimeNote({ ...base, holder: 'node', holderChoice: 'node' }), /^note: running on the plain-Node holder in Node workers .*as --holder node asks\n$/);
  });
});
