// `--source-ips` with both families: `127.0.0.2-127.0.0.40,fd00:18::/64,fd00:19::5`.
// IPv4 items stay host-order ranges (address.ts); IPv6 items become offsets from one base
// (ipv6.ts), so the planner and the holders keep 32-bit address words for both.

import { invalidArgument } from '../errors.ts';
import { parseIpList, type Range } from './address.ts';
import { parseSources6, type Sources6 } from './ipv6.ts';

/** The source addresses of each family; a family absent when the list names none of it. */
export interface SourceLists {
  v4?: Range[];
  v6?: Sources6;
}

/** Parses a mixed list; an item with a colon is IPv6, any other IPv4. */
export function parseSourceList(text: string, option: string): SourceLists {
  const items = text.split(',').map((item) => item.trim()).filter(Boolean);
  if (items.length === 0) throw invalidArgument(option, text, 'at least one address, range or prefix');
  const v6 = items.filter((item) => item.includes(':'));
  const v4 = items.filter((item) => !item.includes(':'));
  return {
    ...(v4.length > 0 ? { v4: parseIpList(v4.join(','), option) } : {}),
    ...(v6.length > 0 ? { v6: parseSources6(v6, option) } : {}),
  };
}
