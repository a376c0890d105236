// The one parser for human units on the command line: counts (`100k`, `1m`),
// durations (`500ms`, `30s`, `2m`) and byte sizes (`64KiB`, `4096`). Every function
// throws CONNLAB_ERR_INVALID_ARGUMENT naming the option, so the CLI never has to.

import { invalidArgument } from './errors.ts';

/** Count suffixes: decimal (`100k`, `1m`). */
export const COUNT_SUFFIX: Record<string, number> = { '': 1, k: 1e3, m: 1e6, g: 1e9 };
/** Duration suffixes, in milliseconds. */
export const DURATION_MS: Record<string, number> = { ms: 1, s: 1e3, m: 60e3, h: 3600e3 };
/** Byte suffixes: k/m/g alone binary, kb/mb/gb decimal, kib/mib/gib binary. */
export const BYTE_SUFFIX: Record<string, number> = {
  '': 1, b: 1,
  k: 1024, kb: 1e3, kib: 1024,
  m: 1024 ** 2, mb: 1e6, mib: 1024 ** 2,
  g: 1024 ** 3, gb: 1e9, gib: 1024 ** 3,
};

function parseScaled(
  input: string,
  option: string,
  expected: string,
  table: Record<string, number>,
  defaultSuffix = '',
): number {
  if (/^\s*-/.test(input)) throw invalidArgument(option, input, `${expected}, not a negative number`);
  const match = /^\s*(\d+(?:\.\d+)?)\s*([a-z]*)\s*$/i.exec(input.replaceAll('_', '').replaceAll(',', ''));
  const scale = match ? table[(match[2] || defaultSuffix).toLowerCase()] : undefined;
  if (!match || scale === undefined) throw invalidArgument(option, input, expected);
  return Number(match[1]) * scale;
}

/** A whole, non-negative count: `20000`, `100k`, `1m`, `1_000_000`. */
export function parseCount(input: string, option: string, { min = 0 } = {}): number {
  const expected = `a whole number like 20000, 100k or 1m${min > 0 ? `, at least ${min}` : ''}`;
  const value = parseScaled(input, option, expected, COUNT_SUFFIX);
  if (!Number.isSafeInteger(value) || value < min) throw invalidArgument(option, input, expected);
  return value;
}

/** A duration in milliseconds; a bare number means seconds (`30` is `30s`). */
export function parseDurationMs(input: string, option: string): number {
  const expected = 'a duration like 500ms, 30s, 2m or 1h';
  const value = parseScaled(input, option, expected, DURATION_MS, 's');
  if (!Number.isFinite(value)) throw invalidArgument(option, input, expected);
  return Math.round(value);
}

/** A size in bytes: `4096`, `64KiB`, `1MiB` (k/m/g alone are binary, kb/mb/gb decimal). */
export function parseBytes(input: string, option: string): number {
  const value = parseScaled(input, option, 'a size like 4096, 64KiB or 1MiB', BYTE_SUFFIX);
  return Math.round(value);
}

/** `1234567` → `1,234,567`; the one number format the text renderers use. */
export function formatCount(value: number): string {
  return Math.round(value).toLocaleString('en-US');
}

/** Bytes for people: `3.7 KiB`, `7.9 GiB`. */
export function formatBytes(bytes: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let value = bytes;
  let unit = 0;
  while (Math.abs(value) >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit += 1;
  }
  return unit === 0 ? `${Math.round(value)} B` : `${value.toFixed(1)} ${units[unit]}`;
}
