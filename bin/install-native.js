// npm's install step for the native holder; plain JavaScript, because it runs on
// whatever Node runs npm. It never fails the install: the plain-Node holder is the last
// fallback. In order:
//   1. a checkout (src/ present) always compiles from source, so the addon matches
//      native/*.c as edited (the package's prebuilds/ may be from an older pack);
//   2. a prebuilt binary in prebuilds/<platform>-<arch>/ that loads here: nothing to do,
//      no compiler needed (npm 11 may skip this script entirely; the prebuild still loads);
//   3. otherwise compile with node-gyp (needs gcc, make, python3);
//   4. if that fails, say so: connlab then runs the plain-Node holder.
// Without gcc, make or python3 it does not even try: one line says what is missing and
// what connlab runs instead, where node-gyp would print a wall of `gyp ERR!` lines. When
// it compiles, node-gyp's own log is silenced; the compiler's errors still show.
import { spawnSync } from 'node:child_process';
import { accessSync, constants, existsSync } from 'node:fs';
import { delimiter, join } from 'node:path';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const require = createRequire(import.meta.url);

function prebuildThatLoads() {
  try {
    const path = require('node-gyp-build').path(root);
    require(path);
    return path;
  } catch {
    return undefined;
  }
}

function onPath(name) {
  return (process.env.PATH ?? '').split(delimiter).some((dir) => {
    try {
      accessSync(join(dir || '.', name), constants.X_OK);
      return true;
    } catch {
      return false;
    }
  });
}

/** The build tools node-gyp needs that this machine lacks (CC, when set, names the compiler). */
function missingTools() {
  const compiler = process.env.CC ? [process.env.CC] : ['cc', 'gcc', 'clang'];
  return [
    ...(compiler.some(onPath) ? [] : ['a C compiler (cc, gcc or clang)']),
    ...(onPath('make') ? [] : ['make']),
    ...(['python3', 'python'].some(onPath) ? [] : ['python3']),
  ];
}

const FALLBACK = 'connlab runs on the plain-Node holder in Node workers instead (about 2 KB per connection ' +
  'and 11 MB per worker, against ~100 B and ~1 MB natively)';

function compile() {
  // npm puts its bundled node-gyp on PATH for lifecycle scripts and names it here.
  const gyp = process.env.npm_config_node_gyp;
  const [command, args] = gyp ? [process.execPath, [gyp, 'rebuild', '--loglevel=silent']] : ['node-gyp', ['rebuild', '--loglevel=silent']];
  const result = spawnSync(command, args, { cwd: root, stdio: 'inherit' });
  if (result.error) process.stderr.write(`connlab: cannot run node-gyp (${result.error.message}); run it through npm: "npm run build:native" in a checkout, "npm rebuild connlab" where connlab is installed\n`);
  return result.status === 0;
}

const checkout = existsSync(new URL('../src', import.meta.url));
const missing = missingTools();
const lacking = missing.join(', ');
if (checkout) {
  if (missing.length > 0) {
    process.stderr.write(`connlab: this machine lacks ${lacking}, so the native holder and C worker are not built: ${FALLBACK}; install them (Debian: apt-get install build-essential python3) and run \`npm run build:native\`\n`);
  } else if (!compile()) {
    process.exitCode = 1; // a developer with a toolchain needs to see a broken build
  }
} else if (!prebuildThatLoads()) {
  if (missing.length > 0) {
    process.stderr.write(`connlab: no prebuilt native holder fits ${process.platform}-${process.arch} and this machine lacks ${lacking} to compile one: ${FALLBACK}; install them and run \`npm rebuild connlab\`\n`);
  } else {
    process.stderr.write(`connlab: no prebuilt native holder fits ${process.platform}-${process.arch}; compiling it from source…\n`);
    if (!compile()) {
      process.stderr.write(
        'connlab: could not compile the native holder (it needs gcc, make and python3). connlab still works, on\n' +
          '  the plain-Node holder (about 2 KB of memory per connection instead of ~100 B); install a C toolchain\n' +
          '  and run `npm rebuild connlab` to get the native one.\n',
      );
    }
  }
}
