// util.parseArgs with connlab's error contract: a bad flag becomes one line with a code
// and exit status 2, never a stack trace.

import { parseArgs, type ParseArgsConfig } from 'node:util';
import { ConnlabError } from '../errors.ts';

export type Options = NonNullable<ParseArgsConfig['options']>;

export function parseCommandArgs<T extends Options>(command: string, argv: string[], options: T, allowPositionals = false) {
  let parsed;
  try {
    parsed = parseArgs({ args: joinNegativeValues(argv, options), options: { ...options, help: { type: 'boolean', short: 'h' } }, allowPositionals, strict: true, tokens: true });
  } catch (error) {
    const message = error instanceof Error ? error.message.split('\n')[0] ?? '' : String(error);
    throw new ConnlabError('CONNLAB_ERR_USAGE', message.replace(/\. To specify a positional.*$/, ''), {
      hint: `see \`connlab ${command} --help\``,
      cause: error,
    });
  }
  refuseRepeated(command, parsed.tokens, options);
  const { tokens: _tokens, ...rest } = parsed;
  return rest;
}

type Token = { kind: string; name?: string };

/**
 * util.parseArgs keeps the last of `-c 10 -c 20` without a word; a flag that takes one
 * value given twice is almost always a mistake in a script (which one did it mean?), so
 * it is a usage error. Flags declared `multiple` (like --header) may repeat.
 */
export function refuseRepeated(command: string, tokens: readonly Token[], options: Options): void {
  const seen = new Set<string>();
  for (const token of tokens) {
    if (token.kind !== 'option' || token.name === undefined) continue;
    const option = options[token.name];
    if (option === undefined || option.type !== 'string' || option.multiple) continue;
    if (seen.has(token.name)) {
      throw new ConnlabError('CONNLAB_ERR_USAGE', `--${token.name} is given more than once`, {
        hint: `pass --${token.name} once; see \`connlab ${command} --help\``,
      });
    }
    seen.add(token.name);
  }
}

/**
 * util.parseArgs reads `-c -1` as two flags and answers "argument is ambiguous". A value
 * that looks like a negative number is the flag's value: joined as `--connections=-1`, it
 * reaches the flag's own parser, which says what is wrong with it and names the flag.
 */
export function joinNegativeValues(argv: readonly string[], options: Options): string[] {
  const takesValue = new Map<string, string>();
  for (const [name, option] of Object.entries(options)) {
    if (option.type !== 'string') continue;
    takesValue.set(`--${name}`, name);
    if (option.short) takesValue.set(`-${option.short}`, name);
  }
  const out: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] ?? '';
    const next = argv[i + 1];
    if (arg === '--') return [...out, ...argv.slice(i)];
    const name = takesValue.get(arg);
    if (name !== undefined && next !== undefined && /^-\.?\d/.test(next)) {
      out.push(`--${name}=${next}`);
      i += 1;
    } else {
      out.push(arg);
    }
  }
  return out;
}

/** Rejects values a flag cannot take, e.g. `--role` outside its list. */
export function oneOf<T extends string>(option: string, value: string, allowed: readonly T[]): T {
  if ((allowed as readonly string[]).includes(value)) return value as T;
  throw new ConnlabError('CONNLAB_ERR_INVALID_ARGUMENT', `${option} ${JSON.stringify(value)} is not one of ${allowed.join(', ')}`, {
    hint: `pass ${option} ${allowed[0]}`,
  });
}
