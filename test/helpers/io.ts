// An Io that records what a command wrote, so CLI tests run in-process.

import { main } from '../../src/cli/main.ts';
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

/** Runs `connlab ARGS` in-process on a recording Io: its exit status and what it wrote. */
export async function runMain(args: string[], overrides: Partial<Io> = {}): Promise<{ status: number; out: string; err: string }> {
  const io = recordingIo(overrides);
  const status = await main(args, io);
  return { status, out: io.out(), err: io.err() };
}

export const fixtureRoot = (name: string): string => new URL(`../fixtures/hosts/${name}`, import.meta.url).pathname;
