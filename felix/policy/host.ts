// Host endpoints (Calico's HostEndpoint): policy on traffic to and from the host itself through an
// interface, pure like the workload half. Calico's layout and semantics:
//   INPUT  → cali-INPUT  → cali-from-host-endpoint → cali-fh-<iface>  (the HEP's ingress policy)
//   OUTPUT → cali-OUTPUT → cali-to-host-endpoint   → cali-th-<iface>  (its egress policy)
//   cali-FORWARD → cali-from-hep-forward → cali-fhfw-<iface>, cali-to-hep-forward → cali-thfw-<iface>
//                  (only policies with applyOnForward: true; none in a direction = no verdict there)
// A named HEP with no policy and no profile drops everything but the failsafe ports; interfaces
// without a HEP are left alone. `interfaceName: "*"` covers every interface no named HEP claims,
// for normal policy only (Calico: all-interfaces HEPs take no untracked policy; we also give them
// no forward chains). Traffic to and from workloads (cali+) and over loopback is never host
// endpoint traffic. preDNAT and doNotTrack policies are not enforced here: the node reports each
// one that selects a local host endpoint (unsupportedHostPolicies) instead of mis-enforcing it.
import { endpointLabels, cachedSelector, policyEndpointSelector } from './select.js';
import { lengthLimitedName, type Direction } from './names.js';
import { CLEAR_MARKS, MATCH_ACCEPTED, MATCH_NOT_PASSED } from './render.js';
import type { ChainSpec, HookSpec, IpsetSpec, PolicyEndpoint, PolicyInput, ProfileInput } from './types.js';
import type { Resource } from '../../datastore/model/resource.js';
import type { HostEndpointSpec } from '../../datastore/model/endpoints.js';
import type { FelixConfigurationSpec } from '../../datastore/model/felix.js';

export const INPUT_CHAIN = 'cali-INPUT';
export const OUTPUT_CHAIN = 'cali-OUTPUT';
export const FROM_HOST_DISPATCH = 'cali-from-host-endpoint';
export const TO_HOST_DISPATCH = 'cali-to-host-endpoint';
export const FROM_HEP_FORWARD_DISPATCH = 'cali-from-hep-forward';
export const TO_HEP_FORWARD_DISPATCH = 'cali-to-hep-forward';
export const FAILSAFE_IN = 'cali-failsafe-in';
export const FAILSAFE_OUT = 'cali-failsafe-out';
/** interfaceName of an all-interfaces host endpoint. */
export const ALL_INTERFACES = '*';
/** What Calico's felix calls the all-interfaces endpoint in chain names. */
export const ALL_INTERFACES_ID = 'any-interface-at-all';
/** Calico's built-in allow-all profile: a HEP listing it is allow-all instead of deny-all
 *  when no policy applies (it exists without a Profile resource). */
export const DEFAULT_ALLOW_PROFILE = 'projectcalico-default-allow';
/** VXLAN's port (felix's default vxlanPort) and IP-in-IP's protocol: encapsulated pod traffic
 *  between nodes crosses a host endpoint whatever its policy — from and to the cluster's nodes
 *  only (Calico's all-hosts set: every Node's addresses). */
export const VXLAN_PORT = 4789;

/** hash:net set of every node's addresses, one per family. */
export function allHostsSetName(family: 4 | 6): string {
  return `cali${family}0h:all-hosts`;
}

/** The all-hosts set from the nodes' addresses (CIDR or plain), those of the family. */
export function allHostsSet(family: 4 | 6, addresses: readonly string[]): IpsetSpec {
  const members = new Set<string>();
  for (const a of addresses) {
    const ip = a.split('/')[0] ?? '';
    if (ip && ip.includes(':') === (family === 6)) members.add(`${ip}/${family === 4 ? 32 : 128}`);
  }
  return { name: allHostsSetName(family), type: 'hash:net', family: family === 4 ? 'inet' : 'inet6', members: [...members].sort() };
}

export interface HostPort {
  protocol: 'tcp' | 'udp' | 'sctp';
  port: number;
  /** Only traffic from (inbound) / to (outbound) this CIDR; any when absent. */
  net?: string;
}

export interface FailsafePorts {
  inbound: HostPort[];
  outbound: HostPort[];
}

const hp = (protocol: HostPort['protocol'], port: number): HostPort => ({ protocol, port });

/** Calico's defaults: SSH, DHCP, BGP, etcd, Typha, the Kubernetes API and kube-apiserver's
 *  alternative ports in; DNS, DHCP, BGP, etcd, Typha and the API out. */
export const DEFAULT_FAILSAFE: FailsafePorts = {
  inbound: [hp('tcp', 22), hp('udp', 68), hp('tcp', 179), hp('tcp', 2379), hp('tcp', 2380), hp('tcp', 5473), hp('tcp', 6443), hp('tcp', 6666), hp('tcp', 6667)],
  outbound: [hp('udp', 53), hp('udp', 67), hp('tcp', 179), hp('tcp', 2379), hp('tcp', 2380), hp('tcp', 5473), hp('tcp', 6443), hp('tcp', 6666), hp('tcp', 6667)],
};

function hostPortProtocol(p: string | number): HostPort['protocol'] | undefined {
  const s = String(p).toLowerCase();
  return s === 'tcp' || s === '6' ? 'tcp' : s === 'udp' || s === '17' ? 'udp' : s === 'sctp' || s === '132' ? 'sctp' : undefined;
}

/**
 * FELIX_FAILSAFEINBOUNDHOSTPORTS / ...OUTBOUND... as Calico spells them: "none", or a comma list
 * of `port`, `proto:port` or `proto:cidr:port` (protocol tcp when left out; an IPv6 CIDR in
 * brackets, "tcp:[fd00::/64]:22"). Errors name the entry; valid entries are kept.
 */
export function parseFailsafeEnv(name: string, text: string): { ports: HostPort[]; errors: string[] } {
  const t = text.trim();
  if (t === '' || t.toLowerCase() === 'none') return { ports: [], errors: [] };
  const ports: HostPort[] = [];
  const errors: string[] = [];
  for (const raw of t.split(',')) {
    const entry = raw.trim();
    if (!entry) continue;
    const m = /^(?:([A-Za-z]+|\d+):)?(?:(\[[^\]]+\]|[0-9.]+\/\d+):)?(\d+)$/.exec(entry);
    const proto = hostPortProtocol(m?.[1] ?? 'tcp');
    const port = Number(m?.[3]);
    if (!m || !proto || !(port >= 0 && port <= 65535)) {
      errors.push(`${name}: "${entry}" is not [tcp|udp|sctp:][cidr:]port`);
      continue;
    }
    const net = m[2]?.replace(/^\[|\]$/g, '');
    ports.push(net ? { protocol: proto, port, net } : { protocol: proto, port });
  }
  return { ports, errors };
}

/** FelixConfiguration's failsafe…HostPorts entries ({ protocol, port, net }). */
export function failsafeFromConfig(field: string, entries: readonly { protocol?: string | number; port: number; net?: string }[]): { ports: HostPort[]; errors: string[] } {
  const ports: HostPort[] = [];
  const errors: string[] = [];
  entries.forEach((e, i) => {
    const proto = hostPortProtocol(e.protocol ?? 'tcp');
    if (!proto) errors.push(`${field}[${i}].protocol: "${String(e.protocol)}" is not TCP, UDP or SCTP`);
    else ports.push(e.net ? { protocol: proto, port: e.port, net: e.net } : { protocol: proto, port: e.port });
  });
  return { ports, errors };
}

const isV6 = (net: string): boolean => net.includes(':');

/** cali-failsafe-in / cali-failsafe-out: accept the failsafe ports whatever the policy. */
export function renderFailsafe(dir: Direction, ports: readonly HostPort[], family: 4 | 6): ChainSpec {
  const rules: string[] = [];
  for (const p of ports) {
    if (p.net && isV6(p.net) !== (family === 6)) continue;
    const addr = p.net ? `${dir === 'ingress' ? '-s' : '-d'} ${p.net} ` : '';
    rules.push(`${addr}-p ${p.protocol} -m ${p.protocol} --dport ${p.port} -j ACCEPT`);
  }
  return { name: dir === 'ingress' ? FAILSAFE_IN : FAILSAFE_OUT, rules };
}

/** The interface part of a HEP's chain names ("*" → Calico's "any-interface-at-all"). */
export function hostIfaceId(iface: string): string {
  return iface === ALL_INTERFACES ? ALL_INTERFACES_ID : iface;
}

/** cali-fh-<iface> (from the HEP into the host: its ingress) / cali-th-<iface> (egress);
 *  forward: cali-fhfw-<iface> / cali-thfw-<iface>. */
export function hostChainName(iface: string, dir: Direction, forward = false): string {
  const pfx = dir === 'ingress' ? (forward ? 'cali-fhfw-' : 'cali-fh-') : forward ? 'cali-thfw-' : 'cali-th-';
  return lengthLimitedName(pfx, hostIfaceId(iface));
}

const CONNTRACK = ['-m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT', '-m conntrack --ctstate INVALID -j DROP'];

/** A HEP's INPUT (ingress) or OUTPUT (egress) chain: conntrack, failsafe, then policies and
 *  profiles exactly as a workload's chain (return on allow, drop otherwise). */
export function renderHostChain(iface: string, dir: Direction, policyChains: readonly string[], profileChains: readonly string[]): ChainSpec {
  const rules = [...CONNTRACK, CLEAR_MARKS, `-j ${dir === 'ingress' ? FAILSAFE_IN : FAILSAFE_OUT}`];
  for (const c of policyChains) rules.push(`${MATCH_NOT_PASSED} -j ${c}`, `${MATCH_ACCEPTED} -j RETURN`);
  if (policyChains.length) rules.push(`${MATCH_NOT_PASSED} -j DROP`);
  for (const c of profileChains) rules.push(`-j ${c}`, `${MATCH_ACCEPTED} -j RETURN`);
  rules.push('-j DROP');
  return { name: hostChainName(iface, dir), rules };
}

/** A HEP's forward chain: applyOnForward policies only. None → empty (no verdict: forwarded
 *  traffic is allowed by default, as Calico documents); some but none allowed → drop. A Pass
 *  with nothing after it leaves no verdict. Profiles do not apply to forwarded traffic. */
export function renderHostForwardChain(iface: string, dir: Direction, policyChains: readonly string[]): ChainSpec {
  const rules: string[] = [];
  if (policyChains.length) {
    rules.push(CLEAR_MARKS);
    for (const c of policyChains) rules.push(`${MATCH_NOT_PASSED} -j ${c}`, `${MATCH_ACCEPTED} -j RETURN`);
    rules.push(`${MATCH_NOT_PASSED} -j DROP`);
  }
  return { name: hostChainName(iface, dir, true), rules };
}

/** Dispatch by interface: named HEPs first (sorted), the all-interfaces HEP as the fallback. */
export function renderHostDispatch(dir: Direction, ifaces: readonly string[], forward = false): ChainSpec {
  const flag = dir === 'ingress' ? '-i' : '-o';
  const named = [...new Set(ifaces.filter((i) => i !== ALL_INTERFACES))].sort();
  const rules = named.map((i) => `${flag} ${i} -g ${hostChainName(i, dir, forward)}`);
  if (!forward && ifaces.includes(ALL_INTERFACES)) rules.push(`-g ${hostChainName(ALL_INTERFACES, dir)}`);
  const name = forward ? (dir === 'ingress' ? FROM_HEP_FORWARD_DISPATCH : TO_HEP_FORWARD_DISPATCH) : dir === 'ingress' ? FROM_HOST_DISPATCH : TO_HOST_DISPATCH;
  return { name, rules };
}

/** ICMPv6 router / neighbour discovery and MLD (130–136): without them an IPv6 interface under
 *  a HEP loses its neighbours, so felix accepts them ahead of policy too. */
const NDP_TYPES = [130, 131, 132, 133, 134, 135, 136];

/** cali-INPUT / cali-OUTPUT: workload and loopback traffic is not host endpoint traffic;
 *  encapsulated traffic from / to the cluster's nodes (and IPv6 neighbour discovery) passes;
 *  the rest goes through the HEP dispatch and is accepted when the HEP's chain allowed it.
 *  Traffic on interfaces without a HEP returns. */
export function renderHostTop(dir: Direction, family: 4 | 6): ChainSpec {
  const io = dir === 'ingress' ? '-i' : '-o';
  const hosts = `-m set --match-set ${allHostsSetName(family)} ${dir === 'ingress' ? 'src' : 'dst'}`;
  return {
    name: dir === 'ingress' ? INPUT_CHAIN : OUTPUT_CHAIN,
    rules: [
      `${io} cali+ -j RETURN`,
      `${io} lo -j RETURN`,
      ...(family === 4 ? [`-p 4 ${hosts} -j ACCEPT`] : NDP_TYPES.map((t) => `-p ipv6-icmp -m icmp6 --icmpv6-type ${t} -j ACCEPT`)),
      `-p udp ${hosts} -m udp --dport ${VXLAN_PORT} -j ACCEPT`,
      CLEAR_MARKS,
      `-j ${dir === 'ingress' ? FROM_HOST_DISPATCH : TO_HOST_DISPATCH}`,
      `${MATCH_ACCEPTED} -j ACCEPT`,
    ],
  };
}

/** Extra hooks while any host endpoint is local (none otherwise: no HEP, no INPUT/OUTPUT rule). */
export const HOST_HOOKS: readonly HookSpec[] = [
  { builtin: 'INPUT', rule: `-j ${INPUT_CHAIN}` },
  { builtin: 'OUTPUT', rule: `-j ${OUTPUT_CHAIN}` },
];

/** The HEPs this host enforces: one per interface, the first by key when several claim it
 *  (the others shadowed); a HEP without interfaceName (expectedIPs only: Calico finds the
 *  interface by address) or on a workload interface (cali…) is not enforced. Both reported. */
export function pickHostEndpoints(heps: readonly PolicyEndpoint[]): { chosen: PolicyEndpoint[]; shadowed: PolicyEndpoint[]; unenforced: PolicyEndpoint[] } {
  const byIface = new Map<string, PolicyEndpoint>();
  const shadowed: PolicyEndpoint[] = [];
  const unenforced: PolicyEndpoint[] = [];
  for (const h of [...heps].sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0))) {
    if (!h.iface || h.iface.startsWith('cali')) unenforced.push(h);
    else if (byIface.has(h.iface)) shadowed.push(h);
    else byIface.set(h.iface, h);
  }
  return { chosen: [...byIface.values()], shadowed, unenforced };
}

/** preDNAT / doNotTrack policies that select a local host endpoint: not enforced (their tables,
 *  mangle PREROUTING and raw, are not rendered) — the node reports them instead. */
export function unsupportedHostPolicies(policies: readonly PolicyInput[], localHeps: readonly PolicyEndpoint[]): string[] {
  const out: string[] = [];
  for (const p of policies) {
    const spec = p.spec as { preDNAT?: boolean; doNotTrack?: boolean };
    if (p.namespace !== undefined || (!spec.preDNAT && !spec.doNotTrack)) continue;
    const sel = cachedSelector(policyEndpointSelector(p));
    const hit = localHeps.filter((h) => sel.matches(endpointLabels(h))).map((h) => h.key.replace(/^hep:/, ''));
    if (hit.length) out.push(`GlobalNetworkPolicy ${p.name}: ${spec.preDNAT ? 'preDNAT' : 'doNotTrack'} policy is not supported (not enforced) — selects host endpoint(s) ${hit.join(', ')}`);
  }
  return out;
}

const DEFAULT_ALLOW: ProfileInput = { name: DEFAULT_ALLOW_PROFILE, spec: { ingress: [{ action: 'Allow' }], egress: [{ action: 'Allow' }] } as ProfileInput['spec'] };

/** The profiles as given plus Calico's built-in projectcalico-default-allow when not defined
 *  (always the same object, so the calculator sees it unchanged). */
export function withBuiltinProfiles(profiles: readonly ProfileInput[]): ProfileInput[] {
  if (profiles.some((p) => p.name === DEFAULT_ALLOW_PROFILE)) return [...profiles];
  return [...profiles, DEFAULT_ALLOW];
}

/** A HostEndpoint resource as policy sees it: key "hep:<name>", no namespace, its expectedIPs as
 *  host routes (what selectors in rules match, here and on other hosts), its labels over its
 *  profiles' labelsToApply. iface is "" when the HEP names no interface (expectedIPs only). */
export function hostPolicyEndpoint(r: Resource, profiles: ReadonlyMap<string, ProfileInput>): PolicyEndpoint {
  const spec = r.spec as HostEndpointSpec;
  const profileNames = spec.profiles ?? [];
  const labels: Record<string, string> = {};
  for (const name of [...profileNames].reverse()) Object.assign(labels, profiles.get(name)?.spec.labelsToApply ?? {});
  Object.assign(labels, r.metadata.labels ?? {});
  const ep: PolicyEndpoint = {
    key: `hep:${r.metadata.name}`,
    iface: spec.interfaceName ?? '',
    namespace: '',
    ipNetworks: (spec.expectedIPs ?? []).map((ip) => (ip.includes(':') ? `${ip}/128` : `${ip}/32`)),
    labels,
    profiles: profileNames,
  };
  if (spec.ports?.length) ep.ports = spec.ports.map((p) => ({ name: p.name, protocol: String(p.protocol), port: p.port }));
  return ep;
}

/**
 * The failsafe ports of host endpoints, by Calico's precedence: FELIX_FAILSAFEINBOUNDHOSTPORTS /
 * FELIX_FAILSAFEOUTBOUNDHOSTPORTS, then FelixConfiguration node.<hostname>, then "default", then
 * Calico's built-in list. Each direction is decided on its own; an empty list means none.
 */
export function failsafePorts(felixEnv: Readonly<Record<string, string>>, configs: readonly { name: string; spec: FelixConfigurationSpec }[], hostname: string): { ports: FailsafePorts; errors: string[] } {
  const errors: string[] = [];
  const pick = (dir: 'inbound' | 'outbound'): HostPort[] => {
    const envName = dir === 'inbound' ? 'FAILSAFEINBOUNDHOSTPORTS' : 'FAILSAFEOUTBOUNDHOSTPORTS';
    const env = felixEnv[envName];
    if (env !== undefined) {
      const r = parseFailsafeEnv(`FELIX_${envName}`, env);
      errors.push(...r.errors);
      return r.ports;
    }
    const field = dir === 'inbound' ? 'failsafeInboundHostPorts' : 'failsafeOutboundHostPorts';
    for (const name of [`node.${hostname}`, 'default']) {
      const entries = configs.find((c) => c.name === name)?.spec[field];
      if (entries === undefined) continue;
      const r = failsafeFromConfig(`FelixConfiguration ${name} spec.${field}`, entries);
      errors.push(...r.errors);
      return r.ports;
    }
    return DEFAULT_FAILSAFE[dir];
  };
  return { ports: { inbound: pick('inbound'), outbound: pick('outbound') }, errors };
}

/** Calico's HEP without interfaceName: the interface is the one holding one of its expectedIPs
 *  (a HEP naming the interface wins over one found by address, as in felix). Returns the HEPs
 *  with iface filled where an address matched (others unchanged, still ""). */
export function resolveHostInterfaces(heps: readonly PolicyEndpoint[], addrs: readonly { iface: string; cidr: string }[]): PolicyEndpoint[] {
  const named = new Set(heps.map((h) => h.iface).filter(Boolean));
  const byIp = new Map<string, string>();
  for (const a of addrs) {
    if (named.has(a.iface)) continue;
    const ip = a.cidr.split('/')[0] ?? '';
    if (!byIp.has(ip)) byIp.set(ip, a.iface);
  }
  return heps.map((h) => {
    if (h.iface) return h;
    const iface = h.ipNetworks.map((n) => byIp.get(n.split('/')[0] ?? '')).find((i) => i !== undefined);
    return iface ? { ...h, iface } : h;
  });
}
