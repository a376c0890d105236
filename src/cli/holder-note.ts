// The line serve, load and bench print when a run is not on the native holder in C
// workers: which holder and worker runtime it got and why, with what that costs and how
// to get the native ones, so a slow or memory-hungry run is not a mystery (a checkout
// without a C compiler falls back silently otherwise). Nothing on the native C path.

import { loadNativeBinding } from '../engine/native-holder.ts';
import { C_WORKER_PATH } from '../engine/worker-process.ts';
import { isConnlabError } from '../errors.ts';

/** What a run asked for (undefined: auto) and what it got. */
export interface RuntimeFacts {
  holderChoice: string | undefined;
  holder: string;
  runtimeChoice: string | undefined;
  runtime: string;
  tls?: boolean;
}

const BUILD_HINT = 'install a C toolchain (gcc, make, python3), then run `npm run build:native` in a checkout, `npm rebuild connlab` where installed';

/** Why the native addon did not load: its error, in one line. */
function nativeMissing(): string {
  try {
    loadNativeBinding();
    return 'the native holder loads, but was not chosen';
  } catch (error) {
    return isConnlabError(error) ? `${error.message} [${error.code}]${error.hint ? `; ${error.hint}` : ''}` : String(error);
  }
}

/** One `note:` line (with its newline), or '' on the native holder in C workers. */
export function runtimeNote(f: RuntimeFacts): string {
  if (f.holder === 'native' && f.runtime === 'c') return '';
  if (f.holder !== 'native') {
    const why = (f.holderChoice ?? 'auto') === 'auto' ? nativeMissing() : 'as --holder node asks';
    return `note: running on the plain-Node holder in Node workers (about 2 KB per connection and 11 MB per worker, against ~100 B and ~1 MB on the native holder in C workers): ${why}\n`;
  }
  const why = (f.runtimeChoice ?? 'auto') !== 'auto'
    ? `as --worker-runtime ${f.runtimeChoice} asks`
    : f.tls ? 'TLS needs OpenSSL 3 (libssl.so.3), which the C worker could not load here' : `the C worker ${C_WORKER_PATH} is not built; ${BUILD_HINT}`;
  return `note: running on the native holder in Node workers (about 11 MB per worker instead of ~1 MB): ${why}\n`;
}
