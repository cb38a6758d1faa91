// Which Service prefixes this node originates, as Calico's route generator decides it (confd's
// routes.go and the default BGPConfiguration's serviceClusterIPs / serviceExternalIPs /
// serviceLoadBalancerIPs). Pure: configuration, Services, EndpointSlices and the node's name in,
// prefixes out.
//
// - Every configured range is advertised from every node (ECMP at the ToR spreads traffic over
//   the cluster; kube-proxy forwards it on).
// - A Service with externalTrafficPolicy Local has its own /32 (/128) advertised only from nodes
//   holding a ready endpoint of that family: its cluster IPs (inside serviceClusterIPs), external
//   IPs (inside serviceExternalIPs) and status.loadBalancer.ingress IPs (inside
//   serviceLoadBalancerIPs). The ToR then sends traffic only where a pod can take it, source kept.
// - A Cluster-policy Service is covered by the ranges alone, except (as Calico) when one of its
//   external or load-balancer IPs falls in a single-address entry (/32, /128) of the matching list:
//   then its addresses are advertised individually from every node.
// - Headless Services (clusterIP None), ExternalName Services and anything unparseable: nothing.
import { parseCIDR, parseIP, type Family, type ParsedCIDR } from '../../datastore/model/net.js';
import type { Prefix } from '../../bgp/types.js';

/** The default BGPConfiguration's service fields (Calico's `[{cidr}]` lists). */
export interface ServiceIpConfig {
  serviceClusterIPs?: ReadonlyArray<{ cidr: string }>;
  serviceExternalIPs?: ReadonlyArray<{ cidr: string }>;
  serviceLoadBalancerIPs?: ReadonlyArray<{ cidr: string }>;
}

/** The parts of a core/v1 Service that advertisement reads. */
export interface ServiceInput {
  metadata: { namespace?: string; name: string };
  spec?: {
    type?: string;
    clusterIP?: string;
    clusterIPs?: string[];
    externalIPs?: string[];
    externalTrafficPolicy?: string;
    /** Deprecated in Kubernetes but still read by Calico for the single-address rule. */
    loadBalancerIP?: string;
  };
  status?: { loadBalancer?: { ingress?: Array<{ ip?: string; hostname?: string }> } };
}

/** The parts of a discovery.k8s.io/v1 EndpointSlice that advertisement reads. */
export interface EndpointSliceInput {
  metadata: { namespace?: string; name: string; labels?: Record<string, string> };
  addressType?: string;
  endpoints?: Array<{ addresses?: string[]; nodeName?: string; conditions?: { ready?: boolean | null } }>;
}

/** The label that ties an EndpointSlice to its Service. */
export const SERVICE_NAME_LABEL = 'kubernetes.io/service-name';

const ADVERTISED_TYPES = new Set(['ClusterIP', 'NodePort', 'LoadBalancer']);

interface Ranges {
  cluster: ParsedCIDR[];
  external: ParsedCIDR[];
  loadBalancer: ParsedCIDR[];
}

function ranges(cfg: ServiceIpConfig): Ranges {
  const parse = (l: ReadonlyArray<{ cidr: string }> | undefined): ParsedCIDR[] =>
    (l ?? []).map((e) => parseCIDR(e.cidr)).filter((c): c is ParsedCIDR => c !== undefined);
  return { cluster: parse(cfg.serviceClusterIPs), external: parse(cfg.serviceExternalIPs), loadBalancer: parse(cfg.serviceLoadBalancerIPs) };
}

const bits = (f: Family): number => (f === 4 ? 32 : 128);

function toBigInt(text: string): bigint {
  const ip = parseIP(text);
  if (!ip) return -1n;
  return ip.addr.toByteArray().reduce((acc, b) => (acc << 8n) | BigInt(b), 0n);
}

function contains(net: ParsedCIDR, ip: { family: Family; value: bigint }): boolean {
  if (net.family !== ip.family) return false;
  const shift = BigInt(bits(net.family) - net.prefix);
  return toBigInt(net.network.split('/')[0] ?? '') >> shift === ip.value >> shift;
}

interface Addr {
  family: Family;
  text: string;
  value: bigint;
}

function addr(s: string | undefined): Addr | undefined {
  const ip = s ? parseIP(s) : undefined;
  return ip && { family: ip.family, text: ip.text, value: toBigInt(ip.text) };
}

const inAny = (nets: readonly ParsedCIDR[], a: Addr): boolean => nets.some((n) => contains(n, a));
const inSingle = (nets: readonly ParsedCIDR[], a: Addr): boolean => nets.some((n) => n.prefix === bits(n.family) && contains(n, a));

function toPrefix(family: Family, network: string): Prefix {
  const [address = '', len = '0'] = network.split('/');
  return { family, address, length: Number(len) };
}

/** The families in which this node holds a ready endpoint of each Service ("ns/name"). */
function localFamilies(slices: readonly EndpointSliceInput[], nodeName: string): Map<string, Set<Family>> {
  const out = new Map<string, Set<Family>>();
  for (const s of slices) {
    const svc = s.metadata.labels?.[SERVICE_NAME_LABEL];
    if (!svc) continue;
    const family: Family | undefined = s.addressType === 'IPv4' ? 4 : s.addressType === 'IPv6' ? 6 : undefined;
    if (!family) continue;
    // Kubernetes: an unset `ready` is unknown and consumers treat it as ready.
    const here = (s.endpoints ?? []).some((e) => e.nodeName === nodeName && e.conditions?.ready !== false && (e.addresses ?? []).length > 0);
    if (!here) continue;
    const id = `${s.metadata.namespace ?? ''}/${svc}`;
    const set = out.get(id) ?? new Set<Family>();
    set.add(family);
    out.set(id, set);
  }
  return out;
}

/** The single addresses (/32, /128) a Service contributes from this node, by the rules above. */
function serviceAddresses(svc: ServiceInput, r: Ranges, local: ReadonlySet<Family> | undefined): Addr[] {
  const spec = svc.spec ?? {};
  if (!ADVERTISED_TYPES.has(spec.type ?? 'ClusterIP')) return [];
  if (!spec.clusterIP || spec.clusterIP === 'None') return [];
  const clusterIPs = (spec.clusterIPs?.length ? spec.clusterIPs : [spec.clusterIP]).map(addr).filter((a): a is Addr => !!a && inAny(r.cluster, a));
  const externalIPs = (spec.externalIPs ?? []).map(addr).filter((a): a is Addr => !!a && inAny(r.external, a));
  const lbIPs = (svc.status?.loadBalancer?.ingress ?? []).map((i) => addr(i.ip)).filter((a): a is Addr => !!a && inAny(r.loadBalancer, a));
  const all = [...clusterIPs, ...externalIPs, ...lbIPs];
  // Kubernetes: an unset policy is Cluster.
  if (spec.externalTrafficPolicy !== 'Local') {
    const lbSingle = spec.type === 'LoadBalancer' && [addr(spec.loadBalancerIP), ...lbIPs].some((a) => !!a && inSingle(r.loadBalancer, a));
    const extSingle = (spec.externalIPs ?? []).map(addr).some((a) => !!a && inSingle(r.external, a));
    const single = lbSingle || extSingle;
    return single ? all : [];
  }
  return all.filter((a) => local?.has(a.family));
}

/**
 * The prefixes this node originates for Services: the configured ranges, then single addresses.
 * Sorted by family, address, length; no duplicates.
 */
export function servicePrefixes(cfg: ServiceIpConfig, services: readonly ServiceInput[], slices: readonly EndpointSliceInput[], nodeName: string): Prefix[] {
  const r = ranges(cfg);
  const out = new Map<string, Prefix>();
  for (const c of [...r.cluster, ...r.external, ...r.loadBalancer]) out.set(c.network, toPrefix(c.family, c.network));
  const local = localFamilies(slices, nodeName);
  for (const svc of services) {
    for (const a of serviceAddresses(svc, r, local.get(`${svc.metadata.namespace ?? ''}/${svc.metadata.name}`))) {
      const net = `${a.text}/${bits(a.family)}`;
      out.set(net, toPrefix(a.family, net));
    }
  }
  return [...out.values()].sort((a, b) => a.family - b.family || compareAddr(a, b) || a.length - b.length);
}

function compareAddr(a: Prefix, b: Prefix): number {
  const x = toBigInt(a.address);
  const y = toBigInt(b.address);
  return x < y ? -1 : x > y ? 1 : 0;
}

/**
 * True when a learned route lies inside a configured service range: as Calico's BIRD (its
 * kernel filter's reject list), such routes are not programmed into the kernel (kube-proxy
 * handles service addresses on every node).
 */
export function inServiceRanges(cfg: ServiceIpConfig, dst: string): boolean {
  const c = parseCIDR(dst);
  if (!c) return false;
  const r = ranges(cfg);
  const a = { family: c.family, value: toBigInt(c.network.split('/')[0] ?? '') };
  return [...r.cluster, ...r.external, ...r.loadBalancer].some((n) => c.prefix >= n.prefix && contains(n, a));
}
