// What URL targets say about the protocol, merged with the flags: the scheme sets
// --protocol and --tls, the path and query the request line, the user info MQTT's user
// name and password, the host the HTTP Host and the TLS server name. A flag that says
// something else than the URL is a usage error, never a silent override. Pure.

import { ConnlabError } from '../errors.ts';
import type { ProtocolKind } from '../engine/holder.ts';
import { formatIpv4 } from '../tuple/address.ts';
import { SCHEMES, type ParsedTarget } from './parse-target.ts';

/** The flags a URL can also say: what the user passed, undefined when not passed. */
export interface ExplicitFlags {
  protocol?: string;
  tls?: boolean;
  path?: string;
  host?: string;
  username?: string;
  password?: string;
}

/** What the run speaks, once targets and flags agree. */
export interface TargetSettings {
  protocol: ProtocolKind | undefined;
  tls: boolean;
  path: string | undefined;
  /** The HTTP Host (name[:port]) and, without its port, the TLS server name. */
  host: string | undefined;
  username: string | undefined;
  password: string | undefined;
}

function contradiction(flag: string, flagValue: string, target: string, urlValue: string): ConnlabError {
  return new ConnlabError('CONNLAB_ERR_USAGE', `${flag}${flagValue === '' ? '' : ` ${flagValue}`} contradicts the target ${target} (${urlValue})`, {
    hint: `drop ${flag}, or change the target URL to say what you mean`,
  });
}

/** One value all URL targets agree on (undefined when none says it). */
function agreed<T>(targets: readonly ParsedTarget[], what: string, pick: (t: ParsedTarget) => T | undefined): T | undefined {
  let value: T | undefined;
  let from: ParsedTarget | undefined;
  for (const t of targets) {
    const v = pick(t);
    if (v === undefined) continue;
    if (from !== undefined && v !== value) {
      throw new ConnlabError('CONNLAB_ERR_USAGE', `targets ${from.text} and ${t.text} name different ${what}`, { hint: 'one run speaks one protocol: run one load per kind of target' });
    }
    value = v;
    from = t;
  }
  return value;
}

/** The Host a target implies: name (or literal) with the port unless it is the scheme's default. */
export function hostHeaderOf(target: ParsedTarget): string {
  const h = target.host;
  const host = h.kind === 'name' ? h.name : h.kind === 'ipv6' ? `[${h.address}]` : formatIpv4(h.ips.first);
  const defaultPort = target.scheme ? SCHEMES[target.scheme].port : undefined;
  return target.ports.first === defaultPort ? host : `${host}:${target.ports.first}`;
}

function check<T extends string | boolean>(flag: string, flagValue: T | undefined, urlValue: T | undefined, target: string, shown = String(urlValue)): T | undefined {
  if (flagValue !== undefined && urlValue !== undefined && flagValue !== urlValue) throw contradiction(flag, String(flagValue), target, shown);
  return flagValue ?? urlValue;
}

/** Targets and flags merged; throws CONNLAB_ERR_USAGE on any contradiction. */
export function targetSettings(targets: readonly ParsedTarget[], flags: ExplicitFlags): TargetSettings {
  const urls = targets.filter((t) => t.scheme !== undefined);
  const first = urls[0]?.text ?? '';
  const scheme = agreed(urls, 'schemes', (t) => t.scheme);
  const meaning = scheme ? SCHEMES[scheme] : undefined;
  const protocol = check('--protocol', flags.protocol, meaning?.protocol, first, `${scheme}:// means ${meaning?.protocol}`) as ProtocolKind | undefined;
  // --tls is a boolean flag: only its presence can contradict a scheme without TLS.
  if (flags.tls === true && meaning && !meaning.tls) throw contradiction('--tls', '', first, `${scheme}:// is without TLS; use ${tlsSchemeOf(scheme ?? 'tcp')}://`);
  const path = check('--path', flags.path, agreed(urls, 'paths', (t) => t.path), first);
  const username = check('--username', flags.username, agreed(urls, 'user names', (t) => t.username), first);
  const password = check('--password', flags.password, agreed(urls, 'passwords', (t) => t.password), first, '…');
  const named = targets.find((t) => t.host.kind === 'name');
  const urlHost = urls.length > 0 && urls[0] ? hostHeaderOf(named?.scheme ? named : urls[0]) : named ? hostHeaderOf(named) : undefined;
  const host = check('--host', flags.host, urls.length > 0 ? urlHost : undefined, first) ?? urlHost;
  return { protocol, tls: flags.tls === true || meaning?.tls === true, path, host, username, password };
}

function tlsSchemeOf(scheme: string): string {
  return ({ tcp: 'tls', http: 'https', ws: 'wss', mqtt: 'mqtts' } as Record<string, string>)[scheme] ?? scheme;
}
