// Inputs and outputs of felix's pure calculation: what the syncer and the BGP speaker tell us,
// and the routing state this host should have. Plain data, so tests can build it by hand.

export type EncapMode = 'Always' | 'CrossSubnet' | 'Never';

export interface PoolInfo {
  name: string;
  cidr: string;
  ipipMode: EncapMode;
  vxlanMode: EncapMode;
  natOutgoing: boolean;
  disabled?: boolean;
}

export interface NodeInfo {
  name: string;
  /** Node address with its subnet length, e.g. "10.0.0.1/24" (Calico's spec.bgp.ipv4Address). */
  ipv4Address?: string;
  ipv6Address?: string;
  ipv4IPIPTunnelAddr?: string;
  ipv4VXLANTunnelAddr?: string;
  vxlanTunnelMACAddr?: string;
  ipv6VXLANTunnelAddr?: string;
  vxlanTunnelMACAddrV6?: string;
}

/** An IPAM block with its affinity ("host:NAME" in Calico, here just the node name). */
export interface BlockInfo {
  cidr: string;
  node?: string;
  /** Affinity state; only confirmed blocks are blackholed locally. Missing = confirmed. */
  state?: 'pending' | 'confirmed' | 'pendingDeletion';
}

export interface EndpointInfo {
  /** Unique key, e.g. "ns/pod". */
  key: string;
  node: string;
  iface: string;
  /** Addresses in CIDR form, "10.65.0.3/32". */
  ipNetworks: string[];
}

export interface LearnedRoute {
  /** "10.65.1.0/26" */
  dst: string;
  nextHops: string[];
}

export interface CalcInput {
  hostname: string;
  nodes: ReadonlyMap<string, NodeInfo>;
  pools: readonly PoolInfo[];
  blocks: readonly BlockInfo[];
  endpoints: readonly EndpointInfo[];
  bgpRoutes: readonly LearnedRoute[];
  /** FELIX_VXLANMTU etc. */
  vxlanMtu?: number;
  /** FELIX_VXLANMTUV6: VXLAN over IPv6 costs 70 bytes, not 50. */
  vxlanMtuV6?: number;
  ipipMtu?: number;
}

export const IPIP_DEVICE = 'tunl0';
export const VXLAN_DEVICE = 'vxlan.calico';
/** Calico's IPv6 VTEP: VXLAN over IPv6 between node IPv6 addresses, same VNI and port. */
export const VXLAN_V6_DEVICE = 'vxlan-v6.calico';
export const VXLAN_VNI = 4096;
export const VXLAN_PORT = 4789;

export type RouteKind = 'local-workload' | 'blackhole' | 'remote-direct' | 'remote-ipip' | 'remote-vxlan' | 'bgp';

export interface DesiredRoute {
  family: 4 | 6;
  dst: string;
  type: 'unicast' | 'blackhole';
  /** Output device name (workload iface or tunnel); absent = kernel picks by gateway. */
  dev?: string;
  via?: string;
  /** ECMP: two or more gateways, sorted (via is then absent), as BIRD's `merge paths on` installs them. */
  multipath?: string[];
  onlink?: boolean;
  /** Link scope for directly attached workload routes. */
  scopeLink?: boolean;
  kind: RouteKind;
}

export interface VtepInfo {
  node: string;
  tunnelAddr: string;
  mac: string;
  nodeAddr: string;
}

export interface VxlanTunnel {
  address: string;
  mac: string;
  vni: number;
  port: number;
  mtu?: number;
  parentAddr?: string;
}

export interface DesiredState {
  routes: DesiredRoute[];
  ipipTunnel?: { address: string; mtu?: number };
  vxlanTunnel?: VxlanTunnel;
  remoteVteps: VtepInfo[];
  /** vxlan-v6.calico and its peers (IPv6 tunnel addresses, IPv6 node addresses). */
  vxlanTunnelV6?: VxlanTunnel;
  remoteVtepsV6?: VtepInfo[];
  /** CIDRs of every enabled pool, both families (cali40all-ipam-pools / cali60all-ipam-pools). */
  allPools: string[];
  /** CIDRs of pools with natOutgoing, both families (cali40masq-ipam-pools / cali60masq-ipam-pools). */
  natOutgoingPools: string[];
  /** Interfaces of local workloads, for rp_filter/proxy_arp sysctls. */
  workloadIfaces: string[];
}
