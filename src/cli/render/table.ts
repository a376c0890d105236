// Plain-text tables for terminals and logs: left-aligned text, right-aligned numbers,
// one space of gutter between columns, long cells wrapped inside their column.

export interface Column {
  header: string;
  align?: 'left' | 'right';
  /** Wrap cells longer than this onto more lines. */
  maxWidth?: number;
}

function wrap(text: string, width: number): string[] {
  if (text.length <= width) return [text];
  const lines: string[] = [];
  let line = '';
  for (const word of text.split(' ')) {
    if (line && line.length + 1 + word.length > width) {
      lines.push(line);
      line = word;
    } else {
      line = line ? `${line} ${word}` : word;
    }
  }
  if (line) lines.push(line);
  return lines;
}

export function renderTable(columns: readonly Column[], rows: readonly (readonly string[])[]): string {
  const cells = rows.map((row) => columns.map((c, i) => wrap(row[i] ?? '', c.maxWidth ?? Infinity)));
  const widths = columns.map((c, i) =>
    Math.max(c.header.length, ...cells.map((row) => Math.max(...(row[i] ?? ['']).map((l) => l.length)))),
  );
  const line = (values: readonly string[]): string =>
    columns
      .map((c, i) => (c.align === 'right' ? (values[i] ?? '').padStart(widths[i] ?? 0) : (values[i] ?? '').padEnd(widths[i] ?? 0)))
      .join('  ')
      .trimEnd();
  const out = [line(columns.map((c) => c.header)), line(widths.map((w) => '─'.repeat(w)))];
  for (const row of cells) {
    const height = Math.max(...row.map((c) => c.length));
    for (let k = 0; k < height; k++) out.push(line(row.map((c) => c[k] ?? '')));
  }
  return out.join('\n');
}
