import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { calculate } from './calc.js';
import { LearnedRoutes } from './bgp-routes.js';
import type { CalcInput, DesiredRoute, NodeInfo, PoolInfo } from './types.js';

const nodes = (...ns: NodeInfo[]): Map<string, NodeInfo> => new Map(ns.map((n) => [n.name, n]));
const n1: NodeInfo = { name: 'n1', ipv4Address: '10.0.0.1/24', ipv4VXLANTunnelAddr: '10.65.0.0', vxlanTunnelMACAddr: '66:00:00:00:00:01', ipv4IPIPTunnelAddr: '10.65.0.1' };
const n2: NodeInfo = { name: 'n2', ipv4Address: '10.0.0.2/24', ipv4VXLANTunnelAddr: '10.65.1.0', vxlanTunnelMACAddr: '66:00:00:00:00:02' };
const n3: NodeInfo = { name: 'n3', ipv4Address: '10.0.1.3/24', ipv4VXLANTunnelAddr: '10.65.2.0', vxlanTunnelMACAddr: '66:00:00:00:00:03' };
const pool = (over: Partial<PoolInfo> = {}): PoolInfo => ({ name: 'default', cidr: '10.65.0.0/16', ipipMode: 'Never', vxlanMode: 'Never', natOutgoing: true, ...over });

function input(over: Partial<CalcInput> = {}): CalcInput {
  return {
    hostname: 'n1',
    nodes: nodes(n1, n2, n3),
    pools: [pool()],
    blocks: [
      { cidr: '10.65.0.0/26', node: 'n1' },
      { cidr: '10.65.1.0/26', node: 'n2' },
      { cidr: '10.65.2.0/26', node: 'n3' },
    ],
    endpoints: [{ key: 'default/p1', node: 'n1', iface: 'cali1234', ipNetworks: ['10.65.0.5/32'] }],
    bgpRoutes: [
      { dst: '10.65.1.0/26', nextHops: ['10.0.0.2'] },
      { dst: '10.65.2.0/26', nextHops: ['10.0.1.3'] },
    ],
    ...over,
  };
}
const route = (rs: DesiredRoute[], dst: string): DesiredRoute | undefined => rs.find((r) => r.dst === dst);

describe('calculate: encap none', () => {
  const s = calculate(input());
  it('routes local workloads to their cali interface', () => {
    expect(route(s.routes, '10.65.0.5/32')).toEqual({ family: 4, dst: '10.65.0.5/32', type: 'unicast', dev: 'cali1234', scopeLink: true, kind: 'local-workload' });
    expect(s.workloadIfaces).toEqual(['cali1234']);
  });
  it('blackholes own confirmed blocks', () => {
    expect(route(s.routes, '10.65.0.0/26')?.type).toBe('blackhole');
  });
  it('routes remote blocks via the BGP next hop without a device', () => {
    expect(route(s.routes, '10.65.1.0/26')).toMatchObject({ via: '10.0.0.2', type: 'unicast', kind: 'remote-direct' });
    expect(route(s.routes, '10.65.1.0/26')?.dev).toBeUndefined();
    expect(route(s.routes, '10.65.2.0/26')).toMatchObject({ via: '10.0.1.3' });
  });
  it('has no tunnels and lists NAT pools', () => {
    expect(s.ipipTunnel).toBeUndefined();
    expect(s.vxlanTunnel).toBeUndefined();
    expect(s.remoteVteps).toEqual([]);
    expect(s.natOutgoingPools).toEqual(['10.65.0.0/16']);
    expect(s.allPools).toEqual(['10.65.0.0/16']);
  });
  it('ignores other nodes endpoints, pending own blocks, and bad CIDRs', () => {
    const t = calculate(
      input({
        endpoints: [{ key: 'x', node: 'n2', iface: 'caliother', ipNetworks: ['10.65.1.4/32'] }, { key: 'y', node: 'n1', iface: 'calibad', ipNetworks: ['nope'] }],
        blocks: [{ cidr: '10.65.0.0/26', node: 'n1', state: 'pending' }, { cidr: 'garbage', node: 'n1' }],
      }),
    );
    expect(t.routes.some((r) => r.dev === 'caliother' || r.type === 'blackhole')).toBe(false);
    expect(t.workloadIfaces).toEqual(['calibad']);
  });
  it('accepts bare workload addresses and IPv6', () => {
    const t = calculate(input({ endpoints: [{ key: 'a', node: 'n1', iface: 'cali9', ipNetworks: ['10.65.0.9', 'fd00::9'] }] }));
    expect(route(t.routes, '10.65.0.9/32')?.dev).toBe('cali9');
    expect(route(t.routes, 'fd00::9/128')).toMatchObject({ family: 6, dev: 'cali9' });
  });
  it('never lets BGP override own blocks or local workloads', () => {
    const t = calculate(input({ bgpRoutes: [{ dst: '10.65.0.0/26', nextHops: ['10.0.0.2'] }, { dst: '10.65.0.5/32', nextHops: ['10.0.0.2'] }] }));
    expect(route(t.routes, '10.65.0.0/26')?.type).toBe('blackhole');
    expect(route(t.routes, '10.65.0.5/32')?.dev).toBe('cali1234');
  });
  it('passes through routes outside every pool as plain BGP routes', () => {
    const t = calculate(input({ bgpRoutes: [{ dst: '192.168.50.0/24', nextHops: ['10.0.0.9'] }] }));
    expect(route(t.routes, '192.168.50.0/24')).toMatchObject({ via: '10.0.0.9', kind: 'bgp' });
  });
  it('ECMP: a learned route with several next hops becomes one multipath route (gateways sorted)', () => {
    const t = calculate(input({ bgpRoutes: [{ dst: '0.0.0.0/0', nextHops: ['10.0.0.251', '10.0.0.250'] }] }));
    expect(route(t.routes, '0.0.0.0/0')).toEqual({ family: 4, dst: '0.0.0.0/0', type: 'unicast', multipath: ['10.0.0.250', '10.0.0.251'], kind: 'bgp' });
  });

  it('skips disabled pools for NAT and encap', () => {
    const t = calculate(input({ pools: [pool({ disabled: true, ipipMode: 'Always' })] }));
    expect(t.allPools).toEqual([]);
    expect(t.ipipTunnel).toBeUndefined();
  });
});

describe('calculate: IPIP', () => {
  it('Always: every remote block through tunl0 onlink via the node address', () => {
    const s = calculate(input({ pools: [pool({ ipipMode: 'Always' })] }));
    expect(route(s.routes, '10.65.1.0/26')).toMatchObject({ dev: 'tunl0', via: '10.0.0.2', onlink: true, kind: 'remote-ipip' });
    expect(route(s.routes, '10.65.2.0/26')).toMatchObject({ dev: 'tunl0', via: '10.0.1.3', onlink: true });
    expect(s.ipipTunnel).toEqual({ address: '10.65.0.1' });
  });
  it('CrossSubnet: only outside this host subnet', () => {
    const s = calculate(input({ pools: [pool({ ipipMode: 'CrossSubnet' })] }));
    expect(route(s.routes, '10.65.1.0/26')).toMatchObject({ via: '10.0.0.2', kind: 'remote-direct' });
    expect(route(s.routes, '10.65.1.0/26')?.dev).toBeUndefined();
    expect(route(s.routes, '10.65.2.0/26')).toMatchObject({ dev: 'tunl0', via: '10.0.1.3' });
  });
  it('does not tunnel to next hops that are not nodes (external routers)', () => {
    const s = calculate(input({ pools: [pool({ ipipMode: 'Always' })], bgpRoutes: [{ dst: '10.65.9.0/26', nextHops: ['10.0.0.200'] }] }));
    expect(route(s.routes, '10.65.9.0/26')?.dev).toBeUndefined();
  });
  it('picks the most specific pool', () => {
    const s = calculate(input({ pools: [pool({ ipipMode: 'Always' }), pool({ name: 'narrow', cidr: '10.65.1.0/24', ipipMode: 'Never', natOutgoing: false })] }));
    expect(route(s.routes, '10.65.1.0/26')?.dev).toBeUndefined();
    expect(route(s.routes, '10.65.2.0/26')?.dev).toBe('tunl0');
    expect(s.natOutgoingPools).toEqual(['10.65.0.0/16']);
  });
});

describe('calculate: VXLAN', () => {
  it('Always: remote blocks from the datastore via the owner VTEP, BGP ignored for the pool', () => {
    const s = calculate(input({ pools: [pool({ vxlanMode: 'Always' })], bgpRoutes: [{ dst: '10.65.7.0/26', nextHops: ['10.0.0.2'] }] }));
    expect(route(s.routes, '10.65.1.0/26')).toEqual({ family: 4, dst: '10.65.1.0/26', type: 'unicast', dev: 'vxlan.calico', via: '10.65.1.0', onlink: true, kind: 'remote-vxlan' });
    expect(route(s.routes, '10.65.2.0/26')).toMatchObject({ dev: 'vxlan.calico', via: '10.65.2.0' });
    expect(route(s.routes, '10.65.7.0/26')).toBeUndefined();
    expect(s.vxlanTunnel).toEqual({ address: '10.65.0.0', mac: '66:00:00:00:00:01', vni: 4096, port: 4789, parentAddr: '10.0.0.1' });
    expect(s.remoteVteps.map((v) => [v.node, v.tunnelAddr, v.mac, v.nodeAddr])).toEqual([
      ['n2', '10.65.1.0', '66:00:00:00:00:02', '10.0.0.2'],
      ['n3', '10.65.2.0', '66:00:00:00:00:03', '10.0.1.3'],
    ]);
  });
  it('CrossSubnet: direct via node address inside the subnet, VXLAN across', () => {
    const s = calculate(input({ pools: [pool({ vxlanMode: 'CrossSubnet' })], bgpRoutes: [], vxlanMtu: 1410 }));
    expect(route(s.routes, '10.65.1.0/26')).toMatchObject({ via: '10.0.0.2', kind: 'remote-direct' });
    expect(route(s.routes, '10.65.2.0/26')).toMatchObject({ dev: 'vxlan.calico', via: '10.65.2.0' });
    expect(s.vxlanTunnel?.mtu).toBe(1410);
  });
  it('waits for a VTEP before routing a block through it', () => {
    const s = calculate(input({ nodes: nodes(n1, n2, { name: 'n3', ipv4Address: '10.0.1.3/24' }), pools: [pool({ vxlanMode: 'Always' })] }));
    expect(route(s.routes, '10.65.2.0/26')).toBeUndefined();
    expect(s.remoteVteps.map((v) => v.node)).toEqual(['n2']);
  });
  it('no own VTEP yet: no tunnel device', () => {
    const s = calculate(input({ nodes: nodes({ name: 'n1', ipv4Address: '10.0.0.1/24' }, n2), pools: [pool({ vxlanMode: 'Always' })] }));
    expect(s.vxlanTunnel).toBeUndefined();
  });
});

describe('calculate: properties', () => {
  const arbMode = fc.constantFrom('Always' as const, 'CrossSubnet' as const, 'Never' as const);
  it('is deterministic, has unique destinations, and never routes own blocks remotely', () => {
    fc.assert(
      fc.property(arbMode, arbMode, fc.shuffledSubarray([0, 1, 2, 3, 4, 5, 6, 7]), (ipip, vxlan, idx) => {
        const blocks = idx.map((i) => ({ cidr: `10.65.${i}.0/26`, node: `n${(i % 3) + 1}` }));
        const bgp = idx.map((i) => ({ dst: `10.65.${i}.0/26`, nextHops: [i % 2 ? '10.0.0.2' : '10.0.1.3'] }));
        const inp = input({ pools: [pool({ ipipMode: ipip, vxlanMode: vxlan })], blocks, bgpRoutes: bgp });
        const a = calculate(inp);
        const b = calculate({ ...inp, blocks: [...blocks].reverse(), bgpRoutes: [...bgp].reverse() });
        expect(a).toEqual(b);
        expect(new Set(a.routes.map((r) => r.dst)).size).toBe(a.routes.length);
        for (const bl of blocks.filter((x) => x.node === 'n1')) expect(route(a.routes, bl.cidr)?.type).toBe('blackhole');
        for (const r of a.routes) if (r.dev === 'tunl0') expect(ipip).not.toBe('Never');
      }),
    );
  });
});

describe('LearnedRoutes', () => {
  it('folds install/withdraw events and notifies on change only', () => {
    const lr = new LearnedRoutes();
    let changes = 0;
    lr.onChange(() => changes++);
    const prefix = { family: 4 as const, address: '10.65.1.0', length: 26 };
    lr.onRoute({ type: 'install', prefix, nextHops: ['10.0.0.2'], sourcePeer: 'x', attrs: { origin: 0, asPath: [] } });
    expect(lr.list()).toEqual([{ dst: '10.65.1.0/26', nextHops: ['10.0.0.2'] }]);
    lr.onRoute({ type: 'install', prefix, nextHops: ['10.0.0.3'], sourcePeer: 'x', attrs: { origin: 0, asPath: [] } });
    expect(lr.list()[0]?.nextHops).toEqual(['10.0.0.3']);
    lr.onRoute({ type: 'withdraw', prefix, sourcePeer: 'x' });
    lr.onRoute({ type: 'withdraw', prefix, sourcePeer: 'x' });
    expect(lr.list()).toEqual([]);
    expect(changes).toBe(3);
  });
});

describe('calculate: IPv6 VXLAN (vxlan-v6.calico)', () => {
  const v6 = (name: string, addr: string, tunnel: string, mac: string): NodeInfo => ({ name, ipv6Address: addr, ipv6VXLANTunnelAddr: tunnel, vxlanTunnelMACAddrV6: mac });
  const s = calculate(
    input({
      nodes: nodes({ ...n1, ...v6('n1', 'fd00::1/64', 'fd65::', '66:00:00:00:06:01') }, { ...n2, ...v6('n2', 'fd00::2/64', 'fd65::40', '66:00:00:00:06:02') }, { ...n3, ...v6('n3', 'fd00:0:0:1::3/64', 'fd65::80', '66:00:00:00:06:03') }),
      pools: [pool(), pool({ name: 'v6', cidr: 'fd65::/48', vxlanMode: 'CrossSubnet' })],
      blocks: [
        { cidr: 'fd65::/122', node: 'n1' },
        { cidr: 'fd65::40/122', node: 'n2' },
        { cidr: 'fd65::80/122', node: 'n3' },
      ],
      bgpRoutes: [],
    }),
  );
  it('has its own IPv6 VTEP, parented on the node IPv6 address, and every other node IPv6 VTEP', () => {
    expect(s.vxlanTunnelV6).toEqual({ address: 'fd65::', mac: '66:00:00:00:06:01', vni: 4096, port: 4789, parentAddr: 'fd00::1' });
    expect(s.remoteVtepsV6?.map((v) => [v.node, v.tunnelAddr, v.nodeAddr])).toEqual([
      ['n2', 'fd65::40', 'fd00::2'],
      ['n3', 'fd65::80', 'fd00:0:0:1::3'],
    ]);
    expect(s.vxlanTunnel).toBeUndefined(); // the IPv4 pool does not use VXLAN
  });
  it('CrossSubnet: direct to a node on the same IPv6 subnet, through vxlan-v6.calico to one outside it', () => {
    expect(route(s.routes, 'fd65::40/122')).toEqual({ family: 6, dst: 'fd65::40/122', type: 'unicast', via: 'fd00::2', kind: 'remote-direct' });
    expect(route(s.routes, 'fd65::80/122')).toEqual({ family: 6, dst: 'fd65::80/122', type: 'unicast', dev: 'vxlan-v6.calico', via: 'fd65::80', onlink: true, kind: 'remote-vxlan' });
  });
  it('vxlan-v6.calico gets the VXLAN-over-IPv6 MTU, vxlan.calico the IPv4 one', () => {
    const both = calculate(
      input({
        nodes: nodes({ ...n1, ...v6('n1', 'fd00::1/64', 'fd65::', '66:00:00:00:06:01') }, n2),
        pools: [pool({ vxlanMode: 'Always' }), pool({ name: 'v6', cidr: 'fd65::/48', vxlanMode: 'Always' })],
        bgpRoutes: [],
        vxlanMtu: 1450,
        vxlanMtuV6: 1430,
      }),
    );
    expect(both.vxlanTunnel?.mtu).toBe(1450);
    expect(both.vxlanTunnelV6?.mtu).toBe(1430);
  });
  it('lists both families in the pool sets (split per family into cali40… and cali60… sets)', () => {
    expect(s.allPools).toEqual(['10.65.0.0/16', 'fd65::/48']);
  });
});
