// Pure routing calculation: datastore state + BGP-learned routes → the routes, tunnels and NAT
// sets this host should have. Same input, same output; the sequencer diffs it against the kernel.
import { addrOf, canonicalCidr, cidrWithin, contains, familyOf, parseCidr, type ParsedCidr } from './cidr.js';
import {
  IPIP_DEVICE,
  VXLAN_DEVICE,
  VXLAN_V6_DEVICE,
  VXLAN_PORT,
  VXLAN_VNI,
  type CalcInput,
  type DesiredRoute,
  type DesiredState,
  type NodeInfo,
  type PoolInfo,
  type VtepInfo,
  type VxlanTunnel,
} from './types.js';

interface Pool {
  info: PoolInfo;
  net: ParsedCidr;
}

function enabledPools(pools: readonly PoolInfo[]): Pool[] {
  const out: Pool[] = [];
  for (const info of pools) {
    if (info.disabled) continue;
    const net = parseCidr(info.cidr);
    if (net) out.push({ info, net });
  }
  // Most specific first, so a block picks the narrowest pool that holds it.
  return out.sort((a, b) => b.net.length - a.net.length);
}

function poolFor(pools: Pool[], dst: ParsedCidr): Pool | undefined {
  return pools.find((p) => cidrWithin(dst, p.net));
}

/** CrossSubnet: encapsulate only when the remote node is outside this host's own subnet. */
function needsEncap(mode: PoolInfo['ipipMode'], self: NodeInfo | undefined, remoteIp: string): boolean {
  if (mode === 'Always') return true;
  if (mode === 'Never') return false;
  const mine = familyOf(remoteIp) === 4 ? self?.ipv4Address : self?.ipv6Address;
  const subnet = mine ? parseCidr(mine) : undefined;
  // Without knowing our own subnet, encapsulating is the choice that always works.
  return subnet ? !contains(subnet, remoteIp) : true;
}

function nodeAddrFor(node: NodeInfo | undefined, family: 4 | 6): string | undefined {
  const a = family === 4 ? node?.ipv4Address : node?.ipv6Address;
  return a ? addrOf(a) : undefined;
}

/** Which node owns a next hop: matched against node addresses (BGP routes carry the node IP). */
function nodeByAddress(nodes: ReadonlyMap<string, NodeInfo>): Map<string, NodeInfo> {
  const m = new Map<string, NodeInfo>();
  for (const n of nodes.values()) {
    if (n.ipv4Address) m.set(addrOf(n.ipv4Address), n);
    if (n.ipv6Address) m.set(addrOf(n.ipv6Address), n);
  }
  return m;
}

export function calculate(input: CalcInput): DesiredState {
  const self = input.nodes.get(input.hostname);
  const pools = enabledPools(input.pools);
  const routes = new Map<string, DesiredRoute>();
  // Priority when two sources want the same destination: local knowledge beats BGP.
  const put = (r: DesiredRoute): void => {
    const key = r.dst;
    const prev = routes.get(key);
    if (!prev || rank(r) < rank(prev)) routes.set(key, r);
  };

  // 1. Local workloads: /32 (/128) straight to their cali interface.
  const workloadIfaces = new Set<string>();
  for (const ep of input.endpoints) {
    if (ep.node !== input.hostname) continue;
    workloadIfaces.add(ep.iface);
    for (const net of ep.ipNetworks) {
      const p = parseCidr(net.includes('/') ? net : `${net}/${familyOf(net) === 4 ? 32 : 128}`);
      if (!p) continue;
      const dst = canonicalCidr(`${p.addr.toString()}/${p.length}`);
      if (dst) put({ family: p.family, dst, type: 'unicast', dev: ep.iface, scopeLink: true, kind: 'local-workload' });
    }
  }

  // 2. Own confirmed blocks: blackhole, so unallocated addresses do not leak to the default route.
  const ownBlocks = new Set<string>();
  for (const b of input.blocks) {
    if (b.node !== input.hostname || (b.state !== undefined && b.state !== 'confirmed')) continue;
    const p = parseCidr(b.cidr);
    const dst = canonicalCidr(b.cidr);
    if (!p || !dst) continue;
    ownBlocks.add(dst);
    put({ family: p.family, dst, type: 'blackhole', kind: 'blackhole' });
  }

  // 3. Remote blocks in VXLAN pools: from the datastore (affinity + the owner's VTEP), as Calico does.
  // Each family has its own VTEP: vxlan.calico between IPv4 node addresses, vxlan-v6.calico between IPv6 ones.
  const remoteVteps = { 4: remoteVtepsOf(input, 4), 6: remoteVtepsOf(input, 6) };
  const vxlanBlocks = new Set<string>();
  for (const b of input.blocks) {
    if (!b.node || b.node === input.hostname) continue;
    const p = parseCidr(b.cidr);
    const dst = canonicalCidr(b.cidr);
    if (!p || !dst) continue;
    const pool = poolFor(pools, p);
    if (!pool || pool.info.vxlanMode === 'Never') continue;
    vxlanBlocks.add(dst);
    const owner = input.nodes.get(b.node);
    const nodeAddr = nodeAddrFor(owner, p.family);
    if (!nodeAddr) continue;
    if (needsEncap(pool.info.vxlanMode, self, nodeAddr)) {
      const vtep = remoteVteps[p.family].get(b.node);
      if (!vtep) continue; // no VTEP published yet: route appears once it is
      put({ family: p.family, dst, type: 'unicast', dev: p.family === 4 ? VXLAN_DEVICE : VXLAN_V6_DEVICE, via: vtep.tunnelAddr, onlink: true, kind: 'remote-vxlan' });
    } else {
      put({ family: p.family, dst, type: 'unicast', via: nodeAddr, kind: 'remote-direct' });
    }
  }

  // 4. BGP-learned routes: unencapsulated and IPIP pools, plus anything outside the pools.
  const byAddr = nodeByAddress(input.nodes);
  for (const lr of input.bgpRoutes) {
    const p = parseCidr(lr.dst);
    const dst = canonicalCidr(lr.dst);
    const nh = lr.nextHops[0];
    if (!p || !dst || !nh || ownBlocks.has(dst) || vxlanBlocks.has(dst)) continue;
    const pool = poolFor(pools, p);
    if (pool && pool.info.vxlanMode !== 'Never') continue; // VXLAN pools are routed from the datastore
    const remote = byAddr.get(nh);
    if (pool && pool.info.ipipMode !== 'Never' && p.family === 4 && remote && remote.name !== input.hostname && needsEncap(pool.info.ipipMode, self, nh)) {
      put({ family: 4, dst, type: 'unicast', dev: IPIP_DEVICE, via: nh, onlink: true, kind: 'remote-ipip' });
    } else {
      const gateways = lr.nextHops.length > 1 ? { multipath: [...new Set(lr.nextHops)].sort() } : { via: nh };
      put({ family: p.family, dst, type: 'unicast', ...gateways, kind: pool ? 'remote-direct' : 'bgp' });
    }
  }

  const anyIpip = pools.some((p) => p.info.ipipMode !== 'Never' && p.net.family === 4);
  const anyVxlan = pools.some((p) => p.info.vxlanMode !== 'Never' && p.net.family === 4);
  const anyVxlan6 = pools.some((p) => p.info.vxlanMode !== 'Never' && p.net.family === 6);
  const sorted = (m: Map<string, VtepInfo>): VtepInfo[] => [...m.values()].sort((a, b) => a.node.localeCompare(b.node));
  const state: DesiredState = {
    routes: [...routes.values()].sort((a, b) => (a.dst < b.dst ? -1 : a.dst > b.dst ? 1 : 0)),
    remoteVteps: anyVxlan ? sorted(remoteVteps[4]) : [],
    ...(anyVxlan6 ? { remoteVtepsV6: sorted(remoteVteps[6]) } : {}),
    allPools: pools.map((p) => p.info.cidr).sort(),
    natOutgoingPools: pools.filter((p) => p.info.natOutgoing).map((p) => p.info.cidr).sort(),
    workloadIfaces: [...workloadIfaces].sort(),
  };
  if (anyIpip && self?.ipv4IPIPTunnelAddr) {
    state.ipipTunnel = { address: addrOf(self.ipv4IPIPTunnelAddr), ...(input.ipipMtu ? { mtu: input.ipipMtu } : {}) };
  }
  const v4 = anyVxlan ? ownVtep(self?.ipv4VXLANTunnelAddr, self?.vxlanTunnelMACAddr, self?.ipv4Address, input.vxlanMtu) : undefined;
  if (v4) state.vxlanTunnel = v4;
  const v6 = anyVxlan6 ? ownVtep(self?.ipv6VXLANTunnelAddr, self?.vxlanTunnelMACAddrV6, self?.ipv6Address, input.vxlanMtuV6) : undefined;
  if (v6) state.vxlanTunnelV6 = v6;
  return state;
}

/** Every other node's VTEP of the family: its tunnel address and MAC, and the node address packets go to. */
function remoteVtepsOf(input: CalcInput, family: 4 | 6): Map<string, VtepInfo> {
  const out = new Map<string, VtepInfo>();
  for (const n of input.nodes.values()) {
    const [tunnel, mac, nodeAddr] = family === 4 ? [n.ipv4VXLANTunnelAddr, n.vxlanTunnelMACAddr, n.ipv4Address] : [n.ipv6VXLANTunnelAddr, n.vxlanTunnelMACAddrV6, n.ipv6Address];
    if (n.name === input.hostname || !tunnel || !mac || !nodeAddr) continue;
    out.set(n.name, { node: n.name, tunnelAddr: addrOf(tunnel), mac: mac.toLowerCase(), nodeAddr: addrOf(nodeAddr) });
  }
  return out;
}

function ownVtep(tunnel: string | undefined, mac: string | undefined, nodeAddr: string | undefined, mtu: number | undefined): VxlanTunnel | undefined {
  if (!tunnel || !mac) return undefined;
  return { address: addrOf(tunnel), mac: mac.toLowerCase(), vni: VXLAN_VNI, port: VXLAN_PORT, ...(mtu ? { mtu } : {}), ...(nodeAddr ? { parentAddr: addrOf(nodeAddr) } : {}) };
}

function rank(r: DesiredRoute): number {
  switch (r.kind) {
    case 'local-workload':
      return 0;
    case 'blackhole':
      return 1;
    case 'remote-vxlan':
    case 'remote-direct':
    case 'remote-ipip':
      return 2;
    default:
      return 3;
  }
}
