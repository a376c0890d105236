// Every failure connlab reports has a stable code. Callers match on `code`, never on
// message text or class; the CLI maps codes to exit codes. Each code is documented in
// docs/errors.md and covered by test/errors.test.ts.

export const ERROR_CODES = {
  CONNLAB_ERR_USAGE: 'a flag or argument is unknown, missing or repeated',
  CONNLAB_ERR_INVALID_ARGUMENT: 'a flag has a value connlab cannot use',
  CONNLAB_ERR_IMPOSSIBLE_TARGET: 'the requested shape of traffic cannot exist',
  CONNLAB_ERR_NOT_LINUX: 'the command reads Linux /proc and sysctl and this is not Linux',
  CONNLAB_ERR_PROC_UNREADABLE: 'a /proc file every answer depends on could not be read',
  CONNLAB_ERR_NOT_ROOT: 'changing kernel settings needs root',
  CONNLAB_ERR_SYSCTL_WRITE: 'writing a kernel setting failed',
  CONNLAB_ERR_NATIVE_UNAVAILABLE: 'the native connection holder (addon or C worker) is not built or cannot load on this Node',
  CONNLAB_ERR_LISTEN: 'a holder could not listen on an address; the cause carries the errno code (EADDRINUSE)',
  CONNLAB_ERR_HOLDER_DESTROYED: 'a connection holder was used after destroy()',
  CONNLAB_ERR_WORKER: 'a worker process failed to start or died; the message says how',
  CONNLAB_ERR_CRASH_LOOP: 'a worker kept dying soon after each restart, so the supervisor stopped restarting it',
  CONNLAB_ERR_CLOSED: 'a pool, serve, load or bench handle was used after close() or destroy()',
  CONNLAB_ERR_PROTOCOL: 'bytes that are not a valid connlab wire frame',
  CONNLAB_ERR_OUTPUT: 'a report or result file could not be written after the run; the result was printed first',
  CONNLAB_ERR_PROTOCOL_UNSUPPORTED: 'the chosen holder or worker runtime cannot speak that protocol (the plain-Node holder: connlab and tcp, no TLS; the C worker runtime: no TLS)',
} as const;

export type ErrorCode = keyof typeof ERROR_CODES;

/** Codes that mean "you asked for something wrong": the CLI exits 2 for these. */
export const USAGE_CODES: ReadonlySet<ErrorCode> = new Set<ErrorCode>([
  'CONNLAB_ERR_USAGE',
  'CONNLAB_ERR_INVALID_ARGUMENT',
  'CONNLAB_ERR_IMPOSSIBLE_TARGET',
  'CONNLAB_ERR_NOT_LINUX',
  'CONNLAB_ERR_PROC_UNREADABLE',
  'CONNLAB_ERR_NOT_ROOT',
  'CONNLAB_ERR_PROTOCOL_UNSUPPORTED',
]);

export interface ConnlabErrorOptions {
  /** What the user can do about it, one sentence. */
  hint?: string;
  cause?: unknown;
}

export class ConnlabError extends Error {
  readonly code: ErrorCode;
  readonly hint: string | undefined;

  constructor(code: ErrorCode, message: string, options: ConnlabErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'ConnlabError';
    this.code = code;
    this.hint = options.hint;
  }
}

export function isConnlabError(value: unknown): value is ConnlabError {
  return (
    typeof value === 'object' &&
    value !== null &&
    typeof (value as { code?: unknown }).code === 'string' &&
    (value as { code: string }).code in ERROR_CODES
  );
}

/**
 * Stands for the command's name in a hint. The library does not know which command
 * called it; the CLI replaces this with the real name before printing (`fillCommand`).
 */
export const COMMAND_PLACEHOLDER = '<command>';

/** A hint with the command's name where the library wrote `COMMAND_PLACEHOLDER`. */
export function fillCommand(hint: string, command: string): string {
  return hint.replaceAll(COMMAND_PLACEHOLDER, command);
}

/** Shorthand for the most common failure: one option, one bad value, one fix. */
export function invalidArgument(option: string, value: string, expected: string): ConnlabError {
  return new ConnlabError(
    'CONNLAB_ERR_INVALID_ARGUMENT',
    `${option} ${JSON.stringify(value)} is not valid: expected ${expected}`,
    { hint: `fix ${option}; \`connlab ${COMMAND_PLACEHOLDER} --help\` shows examples` },
  );
}
