import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { ConnlabError, ERROR_CODES, isConnlabError, USAGE_CODES, type ErrorCode } from '../src/errors.ts';

const readme = readFileSync(new URL('../docs/errors.md', import.meta.url), 'utf8');
const documented = new Map(
  [...readme.matchAll(/^\| `(CONNLAB_ERR_[A-Z_]+)` \|.*\| (\d) \|$/gm)].map((m) => [m[1], Number(m[2])]),
);

describe('error codes', () => {
  for (const code of Object.keys(ERROR_CODES) as ErrorCode[]) {
    it(`${code} is documented in docs/errors.md with the exit status the CLI gives it`, () => {
      assert.ok(documented.has(code), `${code} missing from docs/errors.md`);
      assert.equal(documented.get(code), USAGE_CODES.has(code) ? 2 : 1);
    });
  }

  it('documents no code that does not exist', () => {
    for (const code of documented.keys()) assert.ok(code !== undefined && code in ERROR_CODES, `${code} is documented but not defined`);
  });

  it('carries its code, hint and cause, and is recognised by code rather than class', () => {
    const cause = new Error('EACCES');
    const error = new ConnlabError('CONNLAB_ERR_SYSCTL_WRITE', 'cannot write', { hint: 'run as root', cause });
    assert.equal(error.code, 'CONNLAB_ERR_SYSCTL_WRITE');
    assert.equal(error.hint, 'run as root');
    assert.equal(error.cause, cause);
    assert.equal(isConnlabError({ code: 'CONNLAB_ERR_USAGE' }), true);
    assert.equal(isConnlabError({ code: 'ENOENT' }), false);
    assert.equal(isConnlabError(null), false);
  });
});
