import { describe, expect, it } from 'vitest';
import { blocksToAnnounce, buildView } from './view.js';

const R = '/calico/resources/v3/projectcalico.org/';
const I = '/calico/ipam/v2/';

describe('buildView', () => {
  const cache = new Map<string, string>([
    [`${R}ippools/default`, JSON.stringify({ spec: { cidr: '10.65.0.0/16', vxlanMode: 'CrossSubnet', natOutgoing: true } })],
    [`${R}ippools/noexport`, JSON.stringify({ spec: { cidr: '10.66.0.0/16', disableBGPExport: true } })],
    [`${R}ippools/broken`, JSON.stringify({ spec: {} })],
    [`${R}nodes/n1`, JSON.stringify({ spec: { bgp: { ipv4Address: '10.0.0.11/24', asNumber: 65001 }, ipv4VXLANTunnelAddr: '10.65.1.0', vxlanTunnelMACAddr: '66:00:00:00:00:01' } })],
    [`${R}nodes/n2`, JSON.stringify({ spec: {} })],
    [`${R}workloadendpoints/default/n1-k8s-p1-eth0`, JSON.stringify({ spec: { node: 'n1', interfaceName: 'cali1', ipNetworks: ['10.65.1.2/32'] } })],
    [`${I}assignment/ipv4/block/10.65.1.0-26`, JSON.stringify({ cidr: '10.65.1.0/26', affinity: 'host:n1' })],
    [`${I}assignment/ipv4/block/10.65.1.64-26`, JSON.stringify({ cidr: '10.65.1.64/26', affinity: 'host:n1' })],
    [`${I}assignment/ipv4/block/10.66.0.0-26`, JSON.stringify({ cidr: '10.66.0.0/26', affinity: 'host:n1' })],
    [`${I}assignment/ipv4/block/10.65.2.0-26`, JSON.stringify({ cidr: '10.65.2.0/26', affinity: null })],
    [`${I}host/n1/ipv4/block/10.65.1.0-26`, JSON.stringify({ state: 'confirmed' })],
    [`${I}host/n1/ipv4/block/10.65.1.64-26`, JSON.stringify({ state: 'pending' })],
    [`${R}nodes/bad`, 'not json'],
  ]);
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
    expect(v.problems.join()).toMatch(/ippools\/broken.*cidr|nodes\/bad: not JSON/);
  });
  it('announces only confirmed blocks of exportable pools', () => {
    const poolOf = (c: string): string | undefined => (c.startsWith('10.65.') ? '10.65.0.0/16' : c.startsWith('10.66.') ? '10.66.0.0/16' : undefined);
    expect(blocksToAnnounce(v, 'n1', poolOf)).toEqual(['10.65.1.0/26']);
  });
});
