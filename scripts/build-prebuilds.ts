// Builds the prebuilt native holders that the package ships, in the prebuildify layout
// that node-gyp-build loads: prebuilds/linux-x64/node.napi.glibc.node and
// prebuilds/linux-arm64/node.napi.glibc.node; beside each, the C worker executable
// connlab-worker (binding.gyp's second target, found by src/engine/worker-process.ts). N-API (NAPI_VERSION 8 in binding.gyp) makes
// one binary per platform serve every Node version from 22 on; "glibc" keeps a musl
// host (Alpine) from loading it. Run by `npm pack`/`npm publish` (prepack), so the
// binaries always match native/*.c at the packed commit; they are not committed.
//
// Each target builds with binding.gyp's flags, through node-gyp, in a scratch copy of
// binding.gyp and native/, so the checkout's own build/ is never touched. A target that is
// not this machine's architecture uses Debian's cross compiler:
//   apt-get install gcc-aarch64-linux-gnu      (arm64 from x64)
//   apt-get install gcc-x86-64-linux-gnu       (x64 from arm64)
// Debug sections are stripped: they are most of the file and nobody symbolizes them.

import { execFileSync } from 'node:child_process';
import { copyFileSync, cpSync, mkdirSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const ARCHES = ['x64', 'arm64'] as const;
type Arch = (typeof ARCHES)[number];
const GNU_TRIPLET: Record<Arch, string> = { x64: 'x86_64-linux-gnu', arm64: 'aarch64-linux-gnu' };
const DEBIAN_CROSS_PACKAGE: Record<Arch, string> = { x64: 'gcc-x86-64-linux-gnu', arm64: 'gcc-aarch64-linux-gnu' };
const PREBUILD_FILE = 'node.napi.glibc.node';

/** The compiler environment for one target: the host's cc, or the Debian cross tools. */
function toolchain(arch: Arch): { env: Record<string, string>; strip: string } {
  if (arch === process.arch) return { env: {}, strip: 'strip' };
  const prefix = `${GNU_TRIPLET[arch]}-`;
  try {
    execFileSync(`${prefix}gcc`, ['--version'], { stdio: 'ignore' });
  } catch {
    throw new Error(`cannot build the linux-${arch} prebuild: ${prefix}gcc is missing (apt-get install ${DEBIAN_CROSS_PACKAGE[arch]})`);
  }
  // The addon is C only; the link goes through gcc too, so no C++ cross compiler is needed.
  const gcc = `${prefix}gcc`;
  return { env: { CC: gcc, CXX: gcc, LINK: gcc, AR: `${prefix}ar` }, strip: `${prefix}strip` };
}

/** node-gyp as npm bundles it (npm names it for its scripts), else one on PATH. */
function nodeGyp(): [string, string[]] {
  const bundled = process.env.npm_config_node_gyp;
  return bundled ? [process.execPath, [bundled]] : ['node-gyp', []];
}

/** Where binding.gyp's sources live: what package.json's `files` ships (not fuzz/ or test/). */
const SOURCE_DIRS = ['native', 'native/proto', 'native/worker'];
/** What one node-gyp run builds (build/Release/<from>) and where each lands in prebuilds/linux-<arch>/. */
const OUTPUTS = [
  { from: 'connlab_holder.node', to: PREBUILD_FILE },
  { from: 'connlab-worker', to: 'connlab-worker' },
] as const;

function buildOne(arch: Arch, scratch: string): string[] {
  const work = join(scratch, arch);
  mkdirSync(join(work, 'native'), { recursive: true });
  copyFileSync(join(ROOT, 'binding.gyp'), join(work, 'binding.gyp'));
  for (const dir of SOURCE_DIRS) {
    mkdirSync(join(work, dir), { recursive: true });
    for (const file of readdirSync(join(ROOT, dir))) {
      if (/\.[ch]$/.test(file)) cpSync(join(ROOT, dir, file), join(work, dir, file));
    }
  }
  const { env, strip } = toolchain(arch);
  const [command, prefix] = nodeGyp();
  execFileSync(command, [...prefix, 'rebuild', `--arch=${arch}`, '--loglevel=warn'], { cwd: work, stdio: ['ignore', 'ignore', 'inherit'], env: { ...process.env, ...env } });
  mkdirSync(join(ROOT, 'prebuilds', `linux-${arch}`), { recursive: true });
  return OUTPUTS.map(({ from, to }) => {
    const out = join(ROOT, 'prebuilds', `linux-${arch}`, to);
    copyFileSync(join(work, 'build', 'Release', from), out); // keeps the executable's mode
    execFileSync(strip, ['--strip-debug', out]);
    return out;
  });
}

function main(): void {
  rmSync(join(ROOT, 'prebuilds'), { recursive: true, force: true });
  const scratch = mkdtempSync(join(tmpdir(), 'connlab-prebuild-'));
  try {
    for (const arch of ARCHES) {
      for (const out of buildOne(arch, scratch)) process.stderr.write(`prebuilt ${out}\n`);
    }
  } finally {
    rmSync(scratch, { recursive: true, force: true });
  }
}

main();
