// Which runtime a run's workers may use: Node processes that load the addon (every
// holder, every protocol), or the C worker program (native/worker/, no Node). Both run
// TLS with native/tls.c: the addon with the OpenSSL inside the node binary, the C worker
// with the system's libssl.so.3, which it loads only when TLS is asked for. So the one
// rule here: a TLS run takes the C worker only where that library loads (the worker's
// `--tls-library` answer, worker-process.ts); `auto` falls back to Node workers where it
// does not, and asking for the C one by name there is an error that says why.

import { ConnlabError } from '../errors.ts';

export type WorkerRuntime = 'node' | 'c';
export type WorkerRuntimeChoice = WorkerRuntime | 'auto';

/** What the C worker can do here: whether it is built, and why it cannot run TLS (undefined: it can). */
export interface CWorkerAbility {
  available: boolean;
  /** Asked only for a TLS run (it starts the worker once): the reason TLS cannot load, or undefined. */
  tlsUnavailable?: () => string | undefined;
}

/**
 * The runtime for a run: `auto` takes the C one where it is available and can run the
 * run's TLS, else Node; the C one asked for by name where it cannot run TLS is an error.
 */
export function workerRuntimeFor(choice: WorkerRuntimeChoice, tls: boolean, c: CWorkerAbility): WorkerRuntime {
  if (choice === 'node') return 'node';
  const why = c.available && tls ? c.tlsUnavailable?.() : undefined;
  if (choice === 'c' && why !== undefined) {
    throw new ConnlabError('CONNLAB_ERR_PROTOCOL_UNSUPPORTED', `the C worker runtime cannot run TLS here: ${why}`, {
      hint: 'install libssl3 (the system OpenSSL 3), or drop --worker-runtime c: TLS then runs in Node workers with the native holder',
    });
  }
  if (choice === 'auto') return c.available && why === undefined ? 'c' : 'node';
  return choice;
}
