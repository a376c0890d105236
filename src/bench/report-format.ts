// How the bench report writes numbers, and which way each field of the result is written.
// One table decides a field's format by its dotted path, so the page and a test that
// compares the page with the JSON can never format the same field two ways.

export type FieldKind = 'count' | 'signed' | 'bytes' | 'ms' | 'seconds' | 'rate' | 'time' | 'text';

const KIB = 1024;
const BYTE_UNITS = [
  ['GiB', KIB ** 3],
  ['MiB', KIB ** 2],
  ['KiB', KIB],
] as const;

/** Ordered: the first rule whose pattern matches the path decides. */
const FIELD_RULES: readonly (readonly [RegExp, FieldKind])[] = [
  [/^limits\.headroom\./, 'signed'],
  [/^ramp\.connect_ms\.count$/, 'count'],
  [/(^|[._])ms(\.|$)|_ms$/, 'ms'],
  [/^memory\.kernel_by_cache\./, 'bytes'],
  [/bytes/, 'bytes'],
  [/seconds$/, 'seconds'],
  [/^ramp\.per_second$/, 'rate'],
  [/^started_at$/, 'time'],
];

const grouped = (n: number, digits = 0): string =>
  n.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits });

/** About three significant figures: 2.45, 24.5, 245, 2,450. */
function significant(n: number): string {
  const abs = Math.abs(n);
  const digits = abs < 10 ? 2 : abs < 100 ? 1 : 0;
  return grouped(n, digits);
}

export function formatCount(n: number): string {
  return grouped(Math.round(n));
}

export function formatSigned(n: number): string {
  const rounded = Math.round(n);
  return rounded > 0 ? `+${grouped(rounded)}` : grouped(rounded);
}

/** Exact bytes below 10 KiB (per-connection figures), then KiB/MiB/GiB to three figures. */
export function formatBytes(n: number): string {
  if (Math.abs(n) < 10 * KIB) return `${grouped(Math.round(n))} B`;
  const [unit, size] = BYTE_UNITS.find(([, s]) => Math.abs(n) >= s) ?? BYTE_UNITS[2];
  return `${significant(n / size)} ${unit}`;
}

export function formatMs(ms: number): string {
  return Math.abs(ms) < 1 ? `${ms.toFixed(3)} ms` : `${significant(ms)} ms`;
}

export function formatSeconds(s: number): string {
  return Math.abs(s) < 100 ? `${s.toFixed(1)} s` : `${grouped(Math.round(s))} s`;
}

export function formatRate(perSec: number): string {
  return `${grouped(Math.round(perSec))}/s`;
}

export function formatPercent(ratio: number): string {
  return `${Math.round(ratio * 100)}%`;
}

/** `2026-11-21T11:20:03.512Z` → `2026-11-21 11:20:03 UTC`; anything unparsable as given. */
export function formatTime(iso: string): string {
  const ms = Date.parse(iso);
  if (Number.isNaN(ms)) return iso;
  return `${new Date(ms).toISOString().slice(0, 19).replace('T', ' ')} UTC`;
}

export function fieldKind(path: string): FieldKind {
  return FIELD_RULES.find(([pattern]) => pattern.test(path))?.[1] ?? 'count';
}

const NUMBER_FORMATS: Record<Exclude<FieldKind, 'time' | 'text'>, (n: number) => string> = {
  count: formatCount,
  signed: formatSigned,
  bytes: formatBytes,
  ms: formatMs,
  seconds: formatSeconds,
  rate: formatRate,
};

/** The text the report shows for the result's field at `path` holding `value`. */
export function formatField(path: string, value: unknown): string {
  if (value === null || value === undefined) return 'none';
  if (typeof value === 'string') return fieldKind(path) === 'time' ? formatTime(value) : value;
  if (typeof value !== 'number') return String(value);
  const kind = fieldKind(path);
  return kind === 'time' || kind === 'text' ? String(value) : NUMBER_FORMATS[kind](value);
}

const HTML_ESCAPES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };

/** Safe in element text and in double- or single-quoted attributes. */
export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => HTML_ESCAPES[c] ?? c);
}
