// IPv6 tuples in both holders: TUPLE_IPV6 in the destination port word, the destination
// word an index into the holder's table, the source word an offset from its base (0: the
// kernel's choice). A tuple the table does not cover is counted EINVAL, never a crash.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Holder, HolderOptions } from '../../src/engine/holder.ts';
import { createNativeHolder } from '../../src/engine/native-holder.ts';
import { createNodeHolder } from '../../src/engine/node-holder.ts';
import { ipv6Table, TUPLE_IPV6 } from '../../src/tuple/plan.ts';
import { freePort } from '../helpers/net.ts';
import { waitFor } from '../helpers/wait.ts';

const table = ipv6Table({ destinations: [{ ip: 0x7f000001, port: 1 }, { ip: 0, port: 1, ip6: '::1' }] });

for (const [name, create] of [['native', createNativeHolder], ['node', createNodeHolder]] as [string, (o?: HolderOptions) => Holder][]) {
  describe(`${name} holder: IPv6 tuples`, () => {
    it('connects to [::1] through the table, with the kernel\'s source or a planned port, and counts a bad index EINVAL', async () => {
      const port = await freePort();
      const server = create();
      const client = create({ addresses6: table });
      try {
        await server.listen('::1', port);
        const tuples: number[] = [];
        for (let i = 0; i < 50; i++) tuples.push(0, 0, 1, port | TUPLE_IPV6);
        for (let i = 0; i < 50; i++) tuples.push(0, 20_000 + i, 1, port | TUPLE_IPV6);
        tuples.push(0, 0, 7, port | TUPLE_IPV6);
        client.connect(new Uint32Array(tuples));
        await waitFor(() => server.stats().established === 100 && client.stats().established === 100 && (client.stats().errors.EINVAL ?? 0) === 1,
          { describe: () => JSON.stringify({ server: server.stats().established, client: client.stats() }) });
      } finally {
        client.destroy();
        server.destroy();
      }
    });
    it('counts an IPv6 tuple without a table EINVAL', async () => {
      const client = create();
      try {
        client.connect(new Uint32Array([0, 0, 0, 9 | TUPLE_IPV6]));
        await waitFor(() => (client.stats().errors.EINVAL ?? 0) === 1, { describe: () => JSON.stringify(client.stats().errors) });
      } finally {
        client.destroy();
      }
    });
  });
}
