import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createNodeHolder } from '../../src/engine/node-holder.ts';
import { holderContract } from './holder-contract.ts';

// libuv binds a planned source with SO_REUSEADDR, so Node shares source ports too.
holderContract('node', createNodeHolder, { sharedSourcePort: true });

describe('node holder: what only the plain-Node holder does', () => {
  it('says it is the node holder', () => {
    const holder = createNodeHolder();
    assert.equal(holder.kind, 'node');
    holder.destroy();
  });
});
