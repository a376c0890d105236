// The CLI entry: picks the command, runs it, and turns errors into one line and an exit
// code (2 for bad usage, 1 for failures, 130 for an interrupt). Everything else lives in
// the command modules and the library.

import { readFileSync } from 'node:fs';
import { fillCommand, isConnlabError, USAGE_CODES } from '../errors.ts';
import * as bench from './commands/bench.ts';
import * as dashboard from './commands/dashboard.ts';
import * as demo from './commands/demo.ts';
import * as doctor from './commands/doctor.ts';
import * as load from './commands/load.ts';
import * as k8s from './commands/k8s.ts';
import * as merge from './commands/merge.ts';
import * as serve from './commands/serve.ts';
import { paint, processIo, type Io } from './io.ts';

interface Command {
  summary: string;
  help: string;
  run(argv: string[], io: Io): Promise<number>;
}

export const COMMANDS: Record<string, Command> = { doctor, serve, load, bench, demo, merge, k8s, dashboard };

function version(): string {
  const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };
  return pkg.version;
}

function usage(): string {
  const width = Math.max(...Object.keys(COMMANDS).map((name) => name.length));
  const lines = Object.entries(COMMANDS).map(([name, c]) => `  ${name.padEnd(width)}  ${c.summary}`);
  return `Usage: connlab <command> [options]

How many concurrent TCP connections can this host really hold, what stops it, and how
do you push past that? A connection is a four-tuple, so 65,535 is not the limit:
descriptors, memory, ports per destination, the I/O model and the backlog are.

Commands:
${lines.join('\n')}

Options:
  -h, --help       help for connlab or, after a command, for that command
  -v, --version    print the version

Run \`connlab <command> --help\` for a command's flags and examples.
`;
}

export async function main(argv: string[], io: Io = processIo()): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
    const topic = rest[0] === undefined ? undefined : COMMANDS[rest[0]];
    io.stdout.write(topic ? topic.help : usage());
    return 0;
  }
  if (name === '--version' || name === '-v') {
    io.stdout.write(`${version()}\n`);
    return 0;
  }
  const command = COMMANDS[name];
  if (!command) {
    io.stderr.write(`connlab: unknown command ${JSON.stringify(name)} [CONNLAB_ERR_USAGE]\n  hint: commands are ${Object.keys(COMMANDS).join(', ')}; see \`connlab --help\`\n`);
    return 2;
  }
  try {
    return await command.run(rest, io);
  } catch (error) {
    return reportError(error, io, name);
  }
}

function reportError(error: unknown, io: Io, command: string): number {
  if (isConnlabError(error)) {
    io.stderr.write(`${paint(io.stderr, 'red', 'connlab:')} ${error.message} [${error.code}]\n`);
    if (error.hint) io.stderr.write(`  hint: ${fillCommand(error.hint, command)}\n`);
    return USAGE_CODES.has(error.code) ? 2 : 1;
  }
  // A bug, not a user mistake: keep the stack, it is what a bug report needs.
  io.stderr.write(`connlab: unexpected error (please report it)\n${error instanceof Error ? error.stack : String(error)}\n`);
  return 1;
}
