// The test-only addon (native/test-binding.c, binding.gyp's connlab_test): the protocol
// parsers over raw bytes. Built by npm run build:native beside the holder, in
// build/Release/test/, and never packaged: the production addon has no test entry points.

import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';

/** What protoFeedForTest returns: the parser's events in order, its verdict, the bytes it answered. */
export interface ProtoFeedResult {
  events: string[];
  /** -1 still open; 0 protocol error, 1 server close, 2 refused, 3 HTTP headers too large, 4 HTTP body too large (enum proto_verdict). */
  verdict: number;
  out: Uint8Array;
  /** http: the response in progress ends at EOF. */
  eofComplete: number;
}

/** The test addon's functions. */
export interface NativeTestBinding {
  /** Runs one parser over chunks of raw bytes (native/proto/). */
  protoFeedForTest(kind: number, chunks: Uint8Array[], expectAccept?: string | null): ProtoFeedResult;
  /** The Sec-WebSocket-Key and expected accept for a 16-byte nonce. */
  wsKeyForTest(nonce: Uint8Array): [string, string];
}

const PATH = fileURLToPath(new URL('../../build/Release/test/connlab_test.node', import.meta.url));

/** Loads build/Release/test/connlab_test.node; throws when npm run build:native has not built it. */
export function loadTestBinding(): NativeTestBinding {
  return createRequire(import.meta.url)(PATH) as NativeTestBinding;
}
