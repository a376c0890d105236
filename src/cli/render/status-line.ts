// One self-overwriting status line for terminals (a progress bar when there is a
// target), and nothing at all when output is not a terminal, so logs and pipes stay clean.

import type { Io } from '../io.ts';

const BAR_WIDTH = 24;

export function progressBar(done: number, total: number): string {
  const ratio = total > 0 ? Math.min(1, done / total) : 0;
  const filled = Math.round(ratio * BAR_WIDTH);
  return `[${'█'.repeat(filled)}${'░'.repeat(BAR_WIDTH - filled)}] ${(ratio * 100).toFixed(0).padStart(3)}%`;
}

export class StatusLine {
  readonly #stream: Io['stderr'];
  #shown = false;

  constructor(stream: Io['stderr']) {
    this.#stream = stream;
  }

  update(text: string): void {
    if (!this.#stream.isTTY) return;
    this.#stream.write(`\r\x1b[2K${text}`);
    this.#shown = true;
  }

  /** Erases the line, for when what follows says it better (a stale bar must not stay). */
  clear(): void {
    if (this.#shown) this.#stream.write('\r\x1b[2K');
    this.#shown = false;
  }

  /** Leaves the last line in place and moves to a fresh one. */
  done(): void {
    if (this.#shown) this.#stream.write('\n');
    this.#shown = false;
  }
}
