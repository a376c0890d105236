// The one accessor every Linux reading goes through. Paths resolve against a root
// directory so tests point it at fixture trees captured from real machines, and a
// missing or unreadable file is `undefined` ("unknown"), never an exception: a host
// without conntrack or with /proc/slabinfo closed to non-root is normal.

import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';

export interface HostReader {
  /** The directory `/proc`, `/etc` … resolve under; `/` on a live host. */
  readonly root: string;
  /** File text, or undefined when it does not exist or cannot be read. */
  readText(path: string): string | undefined;
  /** Directory entries, sorted, or an empty list. */
  list(path: string): string[];
}

export function createHostReader(root = '/'): HostReader {
  return {
    root,
    readText(path) {
      try {
        return readFileSync(join(root, path), 'utf8');
      } catch {
        return undefined;
      }
    },
    list(path) {
      try {
        return readdirSync(join(root, path)).sort();
      } catch {
        return [];
      }
    },
  };
}

/** `net.ipv4.ip_local_port_range` → `/proc/sys/net/ipv4/ip_local_port_range`. */
export function sysctlPath(name: string): string {
  return `/proc/sys/${name.replaceAll('.', '/')}`;
}

export function readSysctl(reader: HostReader, name: string): string | undefined {
  return reader.readText(sysctlPath(name))?.trim();
}

/** A sysctl holding whitespace-separated integers (`tcp_mem`, `ip_local_port_range`). */
export function readSysctlNumbers(reader: HostReader, name: string): number[] | undefined {
  const text = readSysctl(reader, name);
  if (text === undefined || text === '') return undefined;
  const values = text.split(/\s+/).map(Number);
  return values.every(Number.isFinite) ? values : undefined;
}

export function readSysctlNumber(reader: HostReader, name: string): number | undefined {
  return readSysctlNumbers(reader, name)?.[0];
}
