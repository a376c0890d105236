// The C worker (native/worker/) on an IPC channel the test owns: a Unix socket passed as
// fd 3 with NODE_CHANNEL_FD=3, so a test can write bytes no Node sender would produce.

import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { C_WORKER_PATH } from '../../src/engine/worker-process.ts';
import { waitFor } from './wait.ts';

/** The C worker on a channel the test writes raw bytes to (a Unix socket as fd 3). */
export interface RawWorker {
  child: ChildProcess;
  channel: net.Socket;
  /** Every line received so far (waits one turn for data in flight). */
  lines: () => Promise<string[]>;
  /** The first message of `type`, once it arrives. */
  message: (type: string) => Promise<Record<string, unknown>>;
  write: (text: string) => void;
  done: Promise<number | null>;
  cleanup: () => void;
}

export async function rawWorker(prefix: string[] = []): Promise<RawWorker> {
  const dir = mkdtempSync(join(tmpdir(), 'connlab-cworker-'));
  const path = join(dir, 'ipc.sock');
  const server = net.createServer();
  server.listen(path);
  await once(server, 'listening');
  const accepted = once(server, 'connection') as Promise<[net.Socket]>;
  const ours = net.connect(path);
  await once(ours, 'connect');
  const [channel] = await accepted;
  const [command, ...args] = [...prefix, C_WORKER_PATH];
  const child = spawn(command as string, args, {
    stdio: ['ignore', 'ignore', 'ignore', ours],
    env: { ...process.env, NODE_CHANNEL_FD: '3', NODE_CHANNEL_SERIALIZATION_MODE: 'json' },
  });
  ours.destroy(); // the child holds its own copy
  server.close();
  let text = '';
  channel.setEncoding('utf8');
  channel.on('data', (chunk: string) => (text += chunk));
  channel.on('error', () => {});
  const done = once(child, 'exit').then(([code]) => code as number | null);
  return {
    child, channel, done,
    write: (data: string) => channel.write(data),
    lines: async () => {
      await new Promise((resolve) => setTimeout(resolve, 0));
      return text.split('\n').filter(Boolean);
    },
    message: async (type: string) => {
      const find = () => text.split('\n').filter(Boolean).map((l) => JSON.parse(l) as Record<string, unknown>).find((m) => m.type === type);
      await waitFor(() => find() !== undefined, { describe: () => text });
      return find() as Record<string, unknown>;
    },
    cleanup: () => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      channel.destroy();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

