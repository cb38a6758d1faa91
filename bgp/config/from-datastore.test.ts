import { describe, expect, it } from 'vitest';
import type { StoredObject } from '../../datastore/store.js';
import { bgpInputFromObjects } from './from-datastore.js';

const o = (kind: string, name: string, spec: unknown, labels?: Record<string, string>): StoredObject => ({
  key: { kind, name },
  value: { apiVersion: 'projectcalico.org/v3', kind, metadata: { name, ...(labels ? { labels } : {}) }, spec },
  revision: '1',
});

describe('bgpInputFromObjects', () => {
  const objects = [
    o('Node', 'n1', { bgp: { ipv4Address: '10.0.0.11/24' } }, { rack: 'a' }),
    o('Node', 'n2', { bgp: { ipv4Address: '10.0.0.12/24' } }),
    o('BGPPeer', 'tor', { peerIP: '10.0.0.1', asNumber: 65000 }),
    o('BGPConfiguration', 'default', { nodeToNodeMeshEnabled: true }),
    o('IPPool', 'default', { cidr: '10.65.0.0/16' }),
    o('IPPool', 'broken', {}),
    o('Node', 'junk', 'not json'),
    // n1's confirmed and pending affinities; n2's confirmed one.
    o('BlockAffinity', 'n1-10-65-1-0-26', { node: 'n1', cidr: '10.65.1.0/26', state: 'confirmed' }),
    o('BlockAffinity', 'n1-10-65-1-64-26', { node: 'n1', cidr: '10.65.1.64/26', state: 'pending' }),
    o('BlockAffinity', 'n2-10-65-2-0-26', { node: 'n2', cidr: '10.65.2.0/26', state: 'confirmed' }),
    // n2's block lends its ordinal 3 to a workload on n1.
    o('IPAMBlock', '10-65-2-0-26', {
      cidr: '10.65.2.0/26',
      affinity: 'host:n2',
      allocations: [0, null, null, 1, ...Array<null>(60).fill(null)],
      unallocated: [1, 2, ...Array.from({ length: 60 }, (_, i) => i + 4)],
      attributes: [{ handle_id: 'a' }, { handle_id: 'b', secondary: { node: 'n1' } }],
    }),
  ];

  it('reads resources by kind, this node’s confirmed affinities and the addresses it borrowed', () => {
    const { input, problems } = bgpInputFromObjects('n1', objects);
    expect(input.nodes.map((n) => n.metadata.name)).toEqual(['n1', 'n2']);
    expect(input.nodes[0]?.metadata.labels).toEqual({ rack: 'a' });
    expect(input.peers.map((p) => p.metadata.name)).toEqual(['tor']);
    expect(input.bgpConfigs.map((c) => c.metadata.name)).toEqual(['default']);
    expect(input.pools.map((p) => p.spec.cidr)).toEqual(['10.65.0.0/16']);
    expect(input.affinities).toEqual(['10.65.1.0/26']);
    expect(input.borrowedIps).toEqual(['10.65.2.3']);
    expect(problems).toEqual(['IPPool(broken): spec.cidr missing', 'Node(junk): not a resource (spec is not an object)']);
  });

  it('a node never counts its own block’s addresses as borrowed', () => {
    expect(bgpInputFromObjects('n2', objects).input.borrowedIps).toEqual([]);
    expect(bgpInputFromObjects('n2', objects).input.affinities).toEqual(['10.65.2.0/26']);
  });
});
