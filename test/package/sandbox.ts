// A user's machine without a C toolchain, in a temp directory: the packed tarball
// installed into an empty project, a PATH that holds only one Node and npm/npx (no cc,
// gcc, make or python3), CC/CXX pointing nowhere. Commands run there exactly as a user
// types them (`npx connlab …`), bounded in time.

import { execFile, execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, realpathSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

export const ROOT = realpathSync(new URL('../..', import.meta.url));
const run = promisify(execFile);

export interface Packed {
  tarball: string;
  /** npm pack's report: packed and unpacked bytes, every file. */
  size: number;
  unpackedSize: number;
  files: string[];
}

export interface Output {
  code: number;
  stdout: string;
  stderr: string;
}

/** `npm pack` of this checkout; its prepack/prepare build lib/ and the prebuilds. */
export async function packInto(dir: string): Promise<Packed> {
  const { stdout } = await run('npm', ['pack', '--json', '--pack-destination', dir], { cwd: ROOT, timeout: 180_000, maxBuffer: 64 << 20 });
  // The lifecycle scripts may print before npm's JSON; the report is the last JSON array.
  const report = JSON.parse(stdout.slice(stdout.lastIndexOf('\n[') + 1)) as [{ filename: string; size: number; unpackedSize: number; files: { path: string }[] }];
  const [r] = report;
  return { tarball: join(dir, r.filename), size: r.size, unpackedSize: r.unpackedSize, files: r.files.map((f) => f.path) };
}

function which(name: string): string {
  return realpathSync(execFileSync('sh', ['-c', `command -v ${name}`], { encoding: 'utf8' }).trim());
}

export class Sandbox {
  readonly dir: string;
  readonly app: string;
  readonly bin: string;
  readonly env: NodeJS.ProcessEnv;
  readonly #children = new Set<ChildProcess>();

  readonly tarball: string;

  /** `nodePath`: the Node binary this sandbox's PATH offers; `tarball`: what it installs. */
  constructor(nodePath: string, tarball: string) {
    this.tarball = tarball;
    this.dir = mkdtempSync(join(tmpdir(), 'connlab-pkg-'));
    this.app = join(this.dir, 'app');
    this.bin = join(this.dir, 'bin');
    mkdirSync(this.app);
    mkdirSync(this.bin);
    symlinkSync(nodePath, join(this.bin, 'node'));
    // npm's own scripts start with `#!/usr/bin/env node`, so they run on the Node above.
    symlinkSync(which('npm'), join(this.bin, 'npm'));
    symlinkSync(which('npx'), join(this.bin, 'npx'));
    // npm runs scripts and bins through `sh` found on PATH; a shell compiles nothing.
    symlinkSync(which('sh'), join(this.bin, 'sh'));
    // allowScripts lets npm 11 run connlab's install script here (a tarball is approved
    // by its file: spec), so that is exercised too: with a prebuild that fits it must
    // succeed without any compiler.
    const allowScripts = { [`file:${tarball}`]: true };
    writeFileSync(join(this.app, 'package.json'), JSON.stringify({ name: 'app', private: true, type: 'module', allowScripts }));
    this.env = {
      HOME: process.env.HOME,
      PATH: this.bin,
      CC: '/nonexistent/cc',
      CXX: '/nonexistent/c++',
      npm_config_update_notifier: 'false',
    };
  }

  /** Runs a command with this sandbox's PATH and env, in the app directory. */
  /** npm install of the tarball, as a user would, with install scripts approved. */
  install(): Promise<Output> {
    return this.exec('npm', ['install', '--prefer-offline', '--no-audit', '--no-fund', '--foreground-scripts', this.tarball], 180_000);
  }

  async exec(file: string, args: string[], timeoutMs = 120_000): Promise<Output> {
    try {
      const { stdout, stderr } = await run(file, args, { cwd: this.app, env: this.env, timeout: timeoutMs, maxBuffer: 64 << 20 });
      return { code: 0, stdout, stderr };
    } catch (error) {
      const e = error as { code?: number | string; stdout?: string; stderr?: string };
      return { code: typeof e.code === 'number' ? e.code : -1, stdout: e.stdout ?? '', stderr: `${e.stderr ?? ''}\n${String(error)}` };
    }
  }

  /** A long-running command; resolves once `ready` appears on its stderr. */
  async start(file: string, args: string[], ready: string, timeoutMs = 60_000): Promise<{ child: ChildProcess; output: Promise<Output> }> {
    const child = spawn(file, args, { cwd: this.app, env: this.env, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
    this.#children.add(child);
    let stdout = '';
    let stderr = '';
    child.stdout?.on('data', (chunk: Buffer) => (stdout += chunk));
    const output = new Promise<Output>((resolve) => child.on('close', (code) => {
      this.#children.delete(child);
      resolve({ code: code ?? -1, stdout, stderr });
    }));
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no "${ready}" in ${timeoutMs} ms: ${stderr}`)), timeoutMs);
      child.stderr?.on('data', (chunk: Buffer) => {
        stderr += chunk;
        if (stderr.includes(ready)) {
          clearTimeout(timer);
          resolve();
        }
      });
      void output.then(() => reject(new Error(`exited before "${ready}": ${stderr}`)));
    });
    return { child, output };
  }

  /** Ends what start() left running (its whole process group), then removes the directory. */
  cleanup(): void {
    for (const child of this.#children) {
      if (child.pid !== undefined) {
        try {
          process.kill(-child.pid, 'SIGKILL');
        } catch {
          // already gone
        }
      }
    }
    rmSync(this.dir, { recursive: true, force: true });
  }
}
