// Which runtime a run's workers may use: Node processes that load the addon (every
// holder, every protocol), or the C worker program (native/worker/, no Node). The one
// rule here: TLS needs Node. native/tls.c uses the OpenSSL inside the node binary (its
// symbols resolve when Node dlopen()s the addon), so a program without Node has no
// OpenSSL to call, and a run with --tls always runs its workers in Node.

import { ConnlabError } from '../errors.ts';
import type { ProtocolOptions } from './holder.ts';

export type WorkerRuntime = 'node' | 'c';
export type WorkerRuntimeChoice = WorkerRuntime | 'auto';

/** Whether a worker runtime can hold connections that speak `protocol`. */
export function runtimeSupports(runtime: WorkerRuntime, protocol: ProtocolOptions | undefined): boolean {
  return runtime === 'node' || protocol?.tls === undefined;
}

/**
 * The runtime for a run: `auto` takes the C one where it is available and can speak the
 * protocol, else Node; the C one asked for by name with TLS is an error.
 */
export function workerRuntimeFor(choice: WorkerRuntimeChoice, protocol: ProtocolOptions | undefined, cAvailable: boolean): WorkerRuntime {
  if (choice === 'c' && !runtimeSupports('c', protocol)) {
    throw new ConnlabError('CONNLAB_ERR_PROTOCOL_UNSUPPORTED', 'the C worker runtime cannot speak TLS: TLS uses the OpenSSL inside Node', {
      hint: 'drop the C runtime choice: TLS runs in Node workers with the native holder',
    });
  }
  if (choice === 'auto') return cAvailable && runtimeSupports('c', protocol) ? 'c' : 'node';
  return choice;
}
