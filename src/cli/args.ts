// util.parseArgs with connlab's error contract: a bad flag becomes one line with a code
// and exit status 2, never a stack trace.

import { parseArgs, type ParseArgsConfig } from 'node:util';
import { ConnlabError } from '../errors.ts';

export type Options = NonNullable<ParseArgsConfig['options']>;

export function parseCommandArgs<T extends Options>(command: string, argv: string[], options: T, allowPositionals = false) {
  try {
    return parseArgs({ args: argv, options: { ...options, help: { type: 'boolean', short: 'h' } }, allowPositionals, strict: true });
  } catch (error) {
    const message = error instanceof Error ? error.message.split('\n')[0] ?? '' : String(error);
    throw new ConnlabError('CONNLAB_ERR_USAGE', message.replace(/\. To specify a positional.*$/, ''), {
      hint: `see \`connlab ${command} --help\``,
      cause: error,
    });
  }
}

/** Rejects values a flag cannot take, e.g. `--role` outside its list. */
export function oneOf<T extends string>(option: string, value: string, allowed: readonly T[]): T {
  if ((allowed as readonly string[]).includes(value)) return value as T;
  throw new ConnlabError('CONNLAB_ERR_INVALID_ARGUMENT', `${option} ${JSON.stringify(value)} is not one of ${allowed.join(', ')}`, {
    hint: `pass ${option} ${allowed[0]}`,
  });
}
