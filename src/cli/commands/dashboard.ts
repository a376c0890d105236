// `connlab dashboard`: the live page over other processes' /metrics (load shards on many
// hosts, serve elsewhere), one row per role and shard. Runs until Ctrl-C or --duration.

import { ConnlabError, invalidArgument } from '../../errors.ts';
import { ScrapeSampler, type EndpointStatus } from '../../dashboard/scrape.ts';
import { Dashboard } from '../../dashboard/server.ts';
import { parseHostPort } from '../../metrics/http.ts';
import { parseDurationMs } from '../../units.ts';
import { parseCommandArgs } from '../args.ts';
import type { Io } from '../io.ts';
import { watchForStop } from '../stop.ts';

export const summary = 'a live page over the /metrics of many load shards and serve, one row per shard';

export const help = `Usage: connlab dashboard METRICS_URL… [--listen [HOST:]PORT] [--duration D]

Scrapes each connlab /metrics endpoint once a second (what \`load --metrics\`, \`serve
--metrics\` and \`bench --metrics\` serve) and shows the sum live, with one row per role and
shard: the same page as --dashboard on a single command. Only the URLs given are
fetched. Kernel figures stay empty: other hosts' kernels are not visible from here.

Each scrape is bounded: 900 ms, 4 MiB of body, 20,000 series per endpoint. An endpoint
past a limit (or down) counts nothing that second; the page's Endpoints table and one
line on stderr, when it happens and when it recovers, say which and why.

Options:
  --listen [HOST:]PORT   where the page is served (default 127.0.0.1:9465)
  --duration D           stop after D (default: until Ctrl-C)
  -h, --help             this help

Example:
  connlab dashboard http://10.0.0.11:9464/metrics http://10.0.0.12:9464/metrics --listen 9465
`;

const options = {
  listen: { type: 'string' },
  duration: { type: 'string' },
} as const;

function parseUrl(text: string): string {
  try {
    const url = new URL(text);
    if (url.protocol === 'http:' || url.protocol === 'https:') return url.href;
  } catch { /* reported below */ }
  throw invalidArgument('METRICS_URL', text, 'an http(s) URL like http://127.0.0.1:9464/metrics');
}

export async function run(argv: string[], io: Io): Promise<number> {
  const { values, positionals } = parseCommandArgs('dashboard', argv, options, true);
  if (values.help) {
    io.stdout.write(help);
    return 0;
  }
  if (positionals.length === 0) throw new ConnlabError('CONNLAB_ERR_USAGE', 'dashboard needs at least one metrics URL', { hint: 'connlab dashboard http://127.0.0.1:9464/metrics' });
  const urls = positionals.map(parseUrl);
  const { host, port } = parseHostPort(values.listen ?? '9465', '--listen');
  const durationMs = values.duration === undefined ? undefined : parseDurationMs(values.duration, '--duration');
  const onChange = (s: EndpointStatus): void => {
    io.stderr.write(s.cut ? `endpoint ${s.url} cut (${s.cut}): ${s.detail}\n` : `endpoint ${s.url} read whole again (${s.series} series)\n`);
  };
  const sampler = new ScrapeSampler(urls, {}, onChange);
  const dashboard = await Dashboard.start({ host, port, title: `connlab dashboard (${urls.length} endpoint(s))`, sampler }).catch((error: unknown) => {
    throw new ConnlabError('CONNLAB_ERR_LISTEN', `cannot serve the dashboard on ${host}:${port}`, { cause: error, hint: 'pick another --listen port' });
  });
  io.stderr.write(`dashboard at ${dashboard.url}, scraping ${urls.length} endpoint(s)\n`);
  const stop = watchForStop(durationMs, () => undefined);
  try {
    await stop.stopped;
  } finally {
    stop.dispose();
    await dashboard.close();
  }
  return 0;
}
