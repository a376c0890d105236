// The protocol runs of the README: starts a real server on loopback (nginx with 4
// workers, the ws test server on N processes, or Mosquitto), runs `connlab load` against
// it as a user would, prints load's own output, stops the server by PID, and exits with
// load's status. Needs nginx and mosquitto from Debian (`apt-get install nginx-light
// mosquitto`, as .ci/run does) and the ws devDependency.
//
//   node bench/protocols.ts http 60000 [--duration 60s] [load flags…]
//   node bench/protocols.ts ws 100000 --ws-processes 8 [load flags…]
//   node bench/protocols.ts mqtt 15000 [load flags…]

import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { startMosquitto, startNginx, startWsServer, type RealServer } from '../test/helpers/real-servers.ts';
import { freeLoopbackPort } from '../src/tuple/free-port.ts';

const [protocol, count, ...rest] = process.argv.slice(2);
if (!protocol || !count || !['http', 'ws', 'mqtt'].includes(protocol)) {
  process.stderr.write('usage: node bench/protocols.ts http|ws|mqtt N [--ws-processes K] [load flags…]\n');
  process.exit(2);
}
const at = rest.indexOf('--ws-processes');
const wsProcesses = at >= 0 ? Number(rest.splice(at, 2)[1]) : 8;
const port = await freeLoopbackPort();
const server: RealServer = protocol === 'http' ? await startNginx(port, 4) : protocol === 'ws' ? await startWsServer(port, wsProcesses) : await startMosquitto(port);
const stop = (): void => void server.stop().then(() => process.exit(130));
process.once('SIGINT', stop);
process.once('SIGTERM', stop);
const defaults = [['--duration', '60s'], ['--ping', '20s']].flatMap(([flag, value]) => (rest.includes(flag as string) ? [] : [flag as string, value as string]));
const args = ['bin/connlab.js', 'load', `127.0.0.1:${port}`, '-c', count, '--protocol', protocol, ...defaults, ...rest];
process.stderr.write(`server: ${protocol === 'http' ? 'nginx, 4 workers' : protocol === 'ws' ? `ws test server, ${wsProcesses} processes` : 'mosquitto'} on 127.0.0.1:${port} (pids ${server.pids.join(', ')})\n$ connlab ${args.slice(1).join(' ')}\n`);
const child = spawn(process.execPath, args, { stdio: 'inherit' });
const [status] = (await once(child, 'exit')) as [number | null];
await server.stop();
process.exit(status ?? 1);
