// Targets as users write them, for load, bench --target and k8s: positionals or --target
// parsed (src/target/parse-target.ts), URL meaning merged with the protocol flags, names
// resolved once with --resolve, --ip-family and --dns-server.

import type { ResolvedName } from '../target/resolve-targets.ts';
import { parseDnsServer, parseResolvePin, resolveTargets, type IpFamily } from '../target/resolve-targets.ts';
import { parseTargetList, type ParsedTarget } from '../target/parse-target.ts';
import { targetSettings, type TargetSettings } from '../target/target-settings.ts';
import type { Destination } from '../tuple/address.ts';
import { oneOf } from './args.ts';

/** The flags that say how names become addresses. */
export const RESOLVE_FLAGS = {
  resolve: { type: 'string', multiple: true },
  'ip-family': { type: 'string' },
  'dns-server': { type: 'string', multiple: true },
} as const;

/** The --help lines of RESOLVE_FLAGS. */
export const resolveHelp = `  --resolve NAME:PORT:ADDR   use ADDR (several: ADDR,ADDR) for NAME:PORT without asking DNS
                             (repeatable, as curl's; PORT * for any); SNI and Host keep NAME
  --ip-family 4|6|any        which of a name's A and AAAA records to use (default any: all)
  --dns-server ADDR[:PORT]   ask this DNS server for A and AAAA (repeatable; default: the
                             system's resolver, /etc/hosts included)`;

interface ResolveValues {
  resolve?: string[];
  'ip-family'?: string;
  'dns-server'?: string[];
}

/** What the targets resolved to: destinations (each its own four-tuple pool) and names. */
export interface FlagTargets {
  parsed: ParsedTarget[];
  destinations: Destination[];
  resolved: ResolvedName[];
}

/** `--ip-family 4|6|any` (default any). */
export function ipFamilyFromFlag(text: string | undefined): IpFamily {
  const family = text === undefined ? 'any' : oneOf('--ip-family', text, ['4', '6', 'any'] as const);
  return family === 'any' ? 'any' : (Number(family) as 4 | 6);
}

/**
 * Resolves parsed targets (or parses them first); a name that does not resolve throws
 * (exit 2). Parse and check the URL settings before this, so usage errors come first.
 */
export async function targetsFromFlags(targets: readonly string[] | readonly ParsedTarget[], values: ResolveValues): Promise<FlagTargets> {
  const parsed = targets.every((t) => typeof t === 'string') ? parseTargetList(targets as readonly string[]) : [...(targets as readonly ParsedTarget[])];
  const pins = (values.resolve ?? []).map(parseResolvePin);
  const dnsServers = (values['dns-server'] ?? []).map(parseDnsServer);
  const { destinations, resolved } = await resolveTargets(parsed, { family: ipFamilyFromFlag(values['ip-family']), pins, dnsServers });
  return { parsed, destinations, resolved };
}

/** What the URLs say, merged with (and checked against) the explicit protocol flags. */
export function urlSettings(parsed: readonly ParsedTarget[], values: { protocol?: string; tls?: boolean; path?: string; host?: string; username?: string; password?: string }): TargetSettings {
  return targetSettings(parsed, values);
}

/** One line per resolved name: `api.test → 127.0.0.5, ::1 (dns)`. */
export function renderResolved(resolved: readonly ResolvedName[]): string {
  return resolved.map((r) => `${r.name} → ${r.addresses.join(', ')} (${r.via})\n`).join('');
}
