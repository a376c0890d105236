// Where the CLI writes. Commands take an Io instead of touching process.stdout so tests
// run them in-process and read what a user would have seen.

import { userInfo } from 'node:os';
import { styleText } from 'node:util';

export interface Io {
  stdout: { write(text: string): unknown; isTTY?: boolean };
  stderr: { write(text: string): unknown; isTTY?: boolean };
  /** Process-level facts the library must not read itself. */
  uid: number | undefined;
  user: string | undefined;
  platform: string;
}

export function processIo(): Io {
  return {
    stdout: process.stdout,
    stderr: process.stderr,
    uid: process.getuid?.(),
    user: userInfo().username,
    platform: process.platform,
  };
}

type Style = Parameters<typeof styleText>[0];

/** Styles text only when the stream is a terminal, so pipes and files stay plain. */
export function paint(stream: Io['stdout'], style: Style, text: string): string {
  return stream.isTTY ? styleText(style, text, { validateStream: false }) : text;
}
