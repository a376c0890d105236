// The one lifecycle of every long-running handle (worker pool, serve, load, bench run),
// written once so the four cannot drift apart, after undici's dispatcher-base:
//  - close() is graceful and idempotent: the first call starts the work, every later
//    call returns the same promise;
//  - destroy() is abrupt and idempotent, and also cuts a close() that is under way;
//  - an action (send, ping, broadcast, refresh ...) after either throws
//    CONNLAB_ERR_CLOSED; reads (stats(), progress()) keep answering with the final counts;
//  - close() after destroy() is not an error: it waits for the end and returns what the
//    last reports left, so `finally { await handle.close() }` is always safe.

import { ConnlabError } from '../errors.ts';

export type LifecycleState = 'open' | 'closing' | 'closed' | 'destroyed';

export class Lifecycle<T> {
  readonly #what: string;
  #state: LifecycleState = 'open';
  #closed: Promise<T> | undefined;

  /** `what` names the handle in the error: `serve`, `load`, `worker pool`. */
  constructor(what: string) {
    this.#what = what;
  }

  get state(): LifecycleState {
    return this.#state;
  }

  /** Throws CONNLAB_ERR_CLOSED unless the handle is open; `verb` names the call. */
  assertOpen(verb: string): void {
    if (this.#state === 'open') return;
    const after = this.#state === 'destroyed' ? 'destroy()' : 'close()';
    throw new ConnlabError('CONNLAB_ERR_CLOSED', `${this.#what}.${verb}() called after ${after}`, {
      hint: `start a new ${this.#what}; a closed one only answers reads such as stats()`,
    });
  }

  /** Runs `work` on the first call only; every call returns its promise. */
  close(work: () => Promise<T>): Promise<T> {
    if (!this.#closed) {
      if (this.#state === 'open') this.#state = 'closing';
      this.#closed = work().finally(() => {
        if (this.#state === 'closing') this.#state = 'closed';
      });
    }
    return this.#closed;
  }

  /** Runs `work` once, unless the handle has already closed completely. */
  destroy(work: () => void): void {
    if (this.#state === 'destroyed' || this.#state === 'closed') return;
    this.#state = 'destroyed';
    work();
  }
}
