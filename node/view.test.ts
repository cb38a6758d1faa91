import { describe, expect, it } from 'vitest';
import { blocksToAnnounce, buildView } from './view.js';
import type { StoredObject } from '../datastore/store.js';

const o = (kind: string, name: string, spec: unknown, namespace?: string): StoredObject => ({
  key: { kind, name, ...(namespace ? { namespace } : {}) },
  value: { apiVersion: 'projectcalico.org/v3', kind, metadata: { name, ...(namespace ? { namespace } : {}) }, spec },
  revision: '1',
});

describe('buildView', () => {
  const cache = [
    o('IPPool', 'default', { cidr: '10.65.0.0/16', vxlanMode: 'CrossSubnet', natOutgoing: true }),
    o('IPPool', 'noexport', { cidr: '10.66.0.0/16', disableBGPExport: true }),
    o('IPPool', 'broken', {}),
    o('Node', 'n1', { bgp: { ipv4Address: '10.0.0.11/24', asNumber: 65001 }, ipv4VXLANTunnelAddr: '10.65.1.0', vxlanTunnelMACAddr: '66:00:00:00:00:01' }),
    o('Node', 'n2', {}),
    o('WorkloadEndpoint', 'n1-k8s-p1-eth0', { node: 'n1', interfaceName: 'cali1', ipNetworks: ['10.65.1.2/32'] }, 'default'),
    o('IPAMBlock', '10-65-1-0-26', { cidr: '10.65.1.0/26', affinity: 'host:n1' }),
    o('IPAMBlock', '10-65-1-64-26', { cidr: '10.65.1.64/26', affinity: 'host:n1' }),
    o('IPAMBlock', '10-66-0-0-26', { cidr: '10.66.0.0/26', affinity: 'host:n1' }),
    o('IPAMBlock', '10-65-2-0-26', { cidr: '10.65.2.0/26', affinity: null }),
    o('BlockAffinity', 'n1-10-65-1-0-26', { node: 'n1', cidr: '10.65.1.0/26', state: 'confirmed' }),
    o('BlockAffinity', 'n1-10-65-1-64-26', { node: 'n1', cidr: '10.65.1.64/26', state: 'pending' }),
    o('Node', 'bad', 'not json'),
  ];
  const v = buildView(cache);
  it('reads pools, nodes, endpoints and blocks with affinity state', () => {
    expect(v.pools.map((p) => [p.name, p.vxlanMode, p.natOutgoing])).toEqual([
      ['default', 'CrossSubnet', true],
      ['noexport', 'Never', false],
    ]);
    expect(v.nodes.get('n1')).toEqual({ name: 'n1', ipv4Address: '10.0.0.11/24', asNumber: 65001, ipv4VXLANTunnelAddr: '10.65.1.0', vxlanTunnelMACAddr: '66:00:00:00:00:01' });
    expect(v.nodes.get('n2')).toEqual({ name: 'n2' });
    expect(v.endpoints).toEqual([{ key: 'default/n1-k8s-p1-eth0', node: 'n1', iface: 'cali1', ipNetworks: ['10.65.1.2/32'] }]);
    expect(v.blocks).toContainEqual({ cidr: '10.65.1.64/26', node: 'n1', state: 'pending' });
    expect(v.blocks).toContainEqual({ cidr: '10.65.2.0/26' });
    expect(v.problems.join()).toMatch(/IPPool\(broken\): spec.cidr missing.*Node\(bad\): spec is not an object/);
  });
  it('announces only confirmed blocks of exportable pools', () => {
    const poolOf = (c: string): string | undefined => (c.startsWith('10.65.') ? '10.65.0.0/16' : c.startsWith('10.66.') ? '10.66.0.0/16' : undefined);
    expect(blocksToAnnounce(v, 'n1', poolOf)).toEqual(['10.65.1.0/26']);
  });
});
