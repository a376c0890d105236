// `--dashboard [HOST:]PORT` for load, bench and serve: a live page for as long as the
// command runs (src/dashboard/).

import { Dashboard } from '../dashboard/server.ts';
import { ConnlabError } from '../errors.ts';
import { parseHostPort } from '../metrics/http.ts';

export const dashboardOption = { dashboard: { type: 'string' } } as const;

export const dashboardHelp = `  --dashboard [HOST:]PORT    a live page at http://HOST:PORT/ while it runs, updated every
                             second (host 127.0.0.1 unless given; works offline)`;

export async function startCommandDashboard(text: string | undefined, title: string): Promise<Dashboard | undefined> {
  if (text === undefined) return undefined;
  const { host, port } = parseHostPort(text, '--dashboard');
  try {
    return await Dashboard.start({ host, port, title });
  } catch (error) {
    throw new ConnlabError('CONNLAB_ERR_LISTEN', `cannot serve the dashboard on ${host}:${port}`, { cause: error, hint: 'pick another --dashboard port' });
  }
}
