// The datastore loader over the in-memory store: resources via the client, IPAM records written directly.
import { describe, expect, it } from 'vitest';
import { createMemoryStore } from '../../datastore/backends/index.js';
import { ResourceClient } from '../../datastore/client.js';
import { affinityValue, blockValue } from '../../ipam/records.js';
import type { AllocationBlock } from '../../ipam/model.js';
import type { CtlContext } from '../context.js';
import { datastoreLoader } from './bgp-peers-load.js';
import { bgpPeers } from './bgp-peers.js';

describe('bgp peers datastore loader', () => {
  it('reads nodes, peers, pools, confirmed affinities and borrowed addresses', async () => {
    const store = createMemoryStore();
    const client = new ResourceClient(store);
    const res = (kind: string, name: string, spec: unknown, labels?: Record<string, string>) => ({ apiVersion: 'projectcalico.org/v3', kind, metadata: { name, ...(labels ? { labels } : {}) }, spec });
    await client.applyAll([
      res('Node', 'n1', { bgp: { ipv4Address: '10.0.0.1/24' } }),
      res('Node', 'n2', { bgp: { ipv4Address: '10.0.0.2/24' } }),
      res('BGPPeer', 'tor', { peerIP: '10.0.0.254', asNumber: 65001 }),
      res('IPPool', 'p', { cidr: '192.168.0.0/16' }),
    ]);
    await store.create(affinityValue('n1', '192.168.1.0/26', 'confirmed'));
    await store.create(affinityValue('n1', '192.168.9.0/26', 'pending'));
    const alloc = Array<number | null>(64).fill(null);
    alloc[5] = 0;
    alloc[6] = 1;
    await store.create(
      blockValue({ cidr: '192.168.2.0/26', affinity: 'host:n2', allocations: alloc, unallocated: [], attributes: [{ handle_id: 'h1', secondary: { node: 'n1' } }, { handle_id: 'h2', secondary: { node: 'n2' } }] } as unknown as AllocationBlock),
    );
    const ctx = { client: () => client } as unknown as CtlContext;
    const r = await bgpPeers('n1', 'json', { load: datastoreLoader(ctx) });
    expect(r.code).toBe(0);
    const cfg = JSON.parse(r.text) as { peers: Array<{ name: string }>; exports: Array<{ prefix: { address: string; length: number } }> };
    expect(cfg.peers.map((p) => p.name)).toEqual(['Mesh_10_0_0_2', 'Global_10_0_0_254']);
    expect(cfg.exports.map((e) => `${e.prefix.address}/${e.prefix.length}`)).toEqual(['192.168.1.0/26', '192.168.2.5/32']);
  });
});
