// Calico's BGPFilter semantics, pure: what confd renders into BIRD filter functions. Each rule's
// conditions (cidr with matchOperator, prefixLength, source, interface) must all hold; the first
// matching rule of a filter decides (Accept or Reject); a peer's filters are tried in the order
// BGPPeer.filters lists them; when none decides, the peer's default behaviour applies.
import ipaddr from 'ipaddr.js';

export type FilterAction = 'Accept' | 'Reject';
export type MatchOperator = 'Equal' | 'NotEqual' | 'In' | 'NotIn';

export interface BgpFilterRule {
  action: FilterAction;
  cidr?: string;
  matchOperator?: MatchOperator;
  prefixLength?: { min?: number; max?: number };
  /** RemotePeers: routes learned from BGP peers (as opposed to this node's own). */
  source?: 'RemotePeers';
  /** Interface glob (`*` wildcards) of the route's outgoing interface. */
  interface?: string;
}

export interface BgpFilterSpec {
  exportV4?: BgpFilterRule[];
  importV4?: BgpFilterRule[];
  exportV6?: BgpFilterRule[];
  importV6?: BgpFilterRule[];
}

/** One named filter, as a BGPPeer references it. */
export interface NamedBgpFilter {
  name: string;
  spec: BgpFilterSpec;
}

export interface FilterRoute {
  family: 4 | 6;
  /** Network address bytes (4 or 16). */
  bytes: Uint8Array;
  length: number;
  /** Learned from a BGP peer (false: originated by this node). */
  fromPeer: boolean;
  /** The route's outgoing interface, when it has one. */
  interface?: string;
}

export interface Decision {
  action: FilterAction;
  /** Which filter and rule decided (for logs and `tortiectl`). */
  filter: string;
  rule: number;
}

/** An IPv4 or IPv6 address as bytes; undefined when it is not one. */
export function addressBytes(addr: string): Uint8Array | undefined {
  return ipaddr.isValid(addr) ? Uint8Array.from(ipaddr.parse(addr).toByteArray()) : undefined;
}

function samePrefix(a: Uint8Array, b: Uint8Array, bits: number): boolean {
  for (let i = 0; i < bits; i++) {
    const m = 0x80 >> (i % 8);
    if ((a[i >> 3] & m) !== (b[i >> 3] & m)) return false;
  }
  return true;
}

function globMatch(glob: string, s: string): boolean {
  const re = new RegExp(`^${glob.split('*').map((p) => p.replace(/[.+?^${}()|[\]\\]/g, '\\$&')).join('.*')}$`);
  return re.test(s);
}

/** Whether every condition of the rule holds for the route. */
export function ruleMatches(rule: BgpFilterRule, route: FilterRoute): boolean {
  const max = route.family === 4 ? 32 : 128;
  const lenOk = route.length >= (rule.prefixLength?.min ?? 0) && route.length <= (rule.prefixLength?.max ?? max);
  if (rule.cidr !== undefined) {
    const [addr, lenText] = rule.cidr.split('/');
    const bytes = addressBytes(addr);
    const len = Number(lenText ?? max);
    if (!bytes || bytes.length !== route.bytes.length) return false; // the other family's rule
    const equal = route.length === len && samePrefix(route.bytes, bytes, len);
    // In: inside the CIDR (or equal) with a length in the prefixLength range, as BIRD's net ~ [cidr{min,max}].
    const inside = route.length >= len && samePrefix(route.bytes, bytes, len) && lenOk;
    switch (rule.matchOperator ?? 'In') {
      case 'Equal':
        if (!equal) return false;
        break;
      case 'NotEqual':
        if (equal) return false;
        break;
      case 'In':
        if (!inside) return false;
        break;
      case 'NotIn':
        if (inside) return false;
        break;
    }
  } else if (!lenOk) return false;
  if (rule.source === 'RemotePeers' && !route.fromPeer) return false;
  if (rule.interface !== undefined && (route.interface === undefined || !globMatch(rule.interface, route.interface))) return false;
  return true;
}

/** The first decision of the peer's filters for a route, or undefined: the default behaviour applies. */
export function evaluateFilters(filters: readonly NamedBgpFilter[], direction: 'import' | 'export', route: FilterRoute): Decision | undefined {
  const field = `${direction}V${route.family}` as const;
  for (const f of filters) {
    const rules = f.spec[field] ?? [];
    for (let i = 0; i < rules.length; i++) if (ruleMatches(rules[i], route)) return { action: rules[i].action, filter: f.name, rule: i };
  }
  return undefined;
}
