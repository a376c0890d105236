// An Io that records what a command wrote, so CLI tests run in-process.

import type { Io } from '../../src/cli/io.ts';

export interface RecordedIo extends Io {
  out(): string;
  err(): string;
}

export function recordingIo(overrides: Partial<Io> = {}): RecordedIo {
  let out = '';
  let err = '';
  return {
    stdout: { write: (text: string) => (out += text) },
    stderr: { write: (text: string) => (err += text) },
    uid: 1000,
    user: 'dev',
    platform: 'linux',
    ...overrides,
    out: () => out,
    err: () => err,
  };
}

export const fixtureRoot = (name: string): string => new URL(`../fixtures/hosts/${name}`, import.meta.url).pathname;
