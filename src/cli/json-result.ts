// `--json` on every exit path a command controls: a command that fails after it has
// written its own result (serve's crash loop, with its books) marks the error so, and
// for every other failure (a failed start, bad usage) main() writes this small result,
// so a script that reads stdout always gets one JSON document with the outcome and why.

import { isConnlabError } from '../errors.ts';

const written = new WeakSet<object>();

/** Says that the command already wrote its JSON result before throwing `error`. */
export function markResultWritten<E>(error: E): E {
  if (typeof error === 'object' && error !== null) written.add(error);
  return error;
}

/** True when the command wrote its own result before this error. */
export function resultWritten(error: unknown): boolean {
  return typeof error === 'object' && error !== null && written.has(error);
}

/** Why a run ended badly, as every result carries it. */
export interface FailureReason {
  /** The error's CONNLAB_ERR_* code; null for a bug (an error without one). */
  code: string | null;
  message: string;
  hint: string | null;
}

/** The reason of a thrown error: its stable code, or null for a bug. */
export function failureReason(error: unknown): FailureReason {
  if (isConnlabError(error)) return { code: error.code, message: error.message, hint: error.hint ?? null };
  return { code: null, message: error instanceof Error ? error.message : String(error), hint: null };
}

/** The result of a command that ended with an error before it had one of its own. */
export function errorResult(command: string, error: unknown, exitCode: number) {
  return { schema: 'connlab.error/1', command, outcome: exitCode === 2 ? 'usage' : 'failed', exit_code: exitCode, reason: failureReason(error) };
}
