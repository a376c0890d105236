// `connlab demo`: runs one demo or all of them, printing each step as it happens (what
// it is about to do, doctor's prediction beside what happened), how to lift the limit,
// and a verdict; or the results as JSON. Exit status 1 when an observation did not
// match its prediction or a setting could not be restored.

import { DEMOS, demoDefinition, runAllDemos, runNamedDemo } from '../../demo/index.ts';
import { DEMO_NAMES, type DemoEvent, type DemoOptions, type DemoResult } from '../../demo/types.ts';
import { DEFAULT_MEMORY_CONNECTIONS } from '../../demo/memory.ts';
import { DEFAULT_TUPLE_CONNECTIONS } from '../../demo/tuple.ts';
import { ConnlabError } from '../../errors.ts';
import { parseCount } from '../../units.ts';
import { parseCommandArgs } from '../args.ts';
import type { Io } from '../io.ts';
import { renderDemoEvent, renderDemoResult, renderDemoSummary } from '../render/demo-text.ts';

export const summary = 'reproduce each limit from the articles with its real error, and lift it';

const list = DEMO_NAMES.map((name) => `  ${name.padEnd(8)} ${DEMOS[name]?.title ?? ''}`).join('\n');

export const help = `Usage: connlab demo <name>|all [options]

Reproduces a limit on this host, on loopback only, bounded in count and time: says what
it is about to do, runs it, prints doctor's prediction beside the observation and how
to lift the limit, then shows the lifted run succeeding. Every setting a demo changes
is read first and restored afterwards, also on Ctrl-C or SIGTERM.

Demos (\`all\` runs them in this order; about 12 s as root on a 2-core host, longer
without root, where ports runs --full-range):
${list}

Options:
  --json                 the result as JSON (schema connlab.demo/1; with all: connlab.demos/1)
  --connections N        tuple: connections to one port (default ${DEFAULT_TUPLE_CONNECTIONS.toLocaleString('en-US')});
                         memory: idle connections to measure (default ${DEFAULT_MEMORY_CONNECTIONS.toLocaleString('en-US')}, at most 19,900)
  --full-range           ports: keep ip_local_port_range as it is (no root needed, slower)
  -h, --help             this help

ports narrows net.ipv4.ip_local_port_range and needs root; without root it says so in
one line and runs the --full-range variant instead.

Examples:
  sudo connlab demo ports
  connlab demo tuple --connections 100k
  connlab demo all --json > demos.json

Exit status: 0 when every observation matched its prediction and every setting was
restored, 1 otherwise, 2 for bad usage.
`;

const options = {
  json: { type: 'boolean' },
  connections: { type: 'string' },
  'full-range': { type: 'boolean' },
} as const;

export async function run(argv: string[], io: Io): Promise<number> {
  const { values, positionals } = parseCommandArgs('demo', argv, options, true);
  if (values.help) {
    io.stdout.write(help);
    return 0;
  }
  const [name, ...extra] = positionals;
  if (name === undefined || extra.length > 0) {
    throw new ConnlabError('CONNLAB_ERR_USAGE', name === undefined ? 'demo needs a name' : `demo takes one name, got ${positionals.length}`, {
      hint: `demos are ${DEMO_NAMES.join(', ')}, or all`,
    });
  }
  if (name !== 'all') demoDefinition(name);
  if (io.platform !== 'linux') {
    throw new ConnlabError('CONNLAB_ERR_NOT_LINUX', `the demos use Linux /proc, sysctl and ss, and this is ${io.platform}`, { hint: 'run them on a Linux host' });
  }
  const json = Boolean(values.json);
  // With --json, stdout carries only the JSON; progress goes to a terminal's stderr.
  const progress = json ? (io.stderr.isTTY ? io.stderr : undefined) : io.stdout;
  const demoOptions: DemoOptions = {
    uid: io.uid,
    connections: values.connections === undefined ? undefined : parseCount(values.connections, '--connections', { min: 1 }),
    variant: values['full-range'] ? 'full-range' : undefined,
    onEvent: (event: DemoEvent) => {
      progress?.write(renderDemoEvent(event));
    },
  };
  const started = performance.now();
  if (name === 'all') {
    const results = await runAllDemos({ ...demoOptions, onResult: (r) => progress?.write(renderDemoResult(r)) });
    const totalMs = Math.round(performance.now() - started);
    if (json) io.stdout.write(`${JSON.stringify(allResults(results, totalMs), null, 2)}\n`);
    else io.stdout.write(renderDemoSummary(results, totalMs));
    return verdict(results);
  }
  const result = await runNamedDemo(name, demoOptions);
  if (json) io.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
  else progress?.write(renderDemoResult(result));
  return verdict([result]);
}

function allResults(results: readonly DemoResult[], totalMs: number) {
  return {
    schema: 'connlab.demos/1',
    matches: results.every((r) => r.matches),
    restored: results.every((r) => r.restored),
    duration_ms: totalMs,
    demos: results,
  };
}

const verdict = (results: readonly DemoResult[]): number => (results.every((r) => r.matches && r.restored) ? 0 : 1);
