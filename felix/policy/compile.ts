// Rules → a small intermediate form both the iptables renderer (render.ts) and the trace evaluator
// (trace.ts) consume, so the two cannot disagree on what a rule means. One Calico rule becomes one
// or more "alternatives" (CompiledRule): iptables cannot OR within one rule, so several positive
// nets, several named ports, or more numeric ports than one multiport match holds become
// separate rules with the same action — as Calico's renderer splits them.
import { junction, parseSelector, prefixSelectorLabels, printSelector, quote, selectorId, type Selector } from '../../datastore/selector/index.js';
import { namespaceSelectorToEndpointSelector, NAMESPACE_LABEL } from '../../datastore/selector/index.js';
import type { EntityRule, Rule } from '../../datastore/model/policy.js';
import type { ProtocolName } from '../../datastore/model/fields.js';
import { parseCIDR } from '../../datastore/model/net.js';
import { contentId, ipsetName } from './names.js';

export type Family = 4 | 6;
export type Action = 'Allow' | 'Deny' | 'Log' | 'Pass';

/** Label Calico puts on workload endpoints naming their service account. */
export const SERVICE_ACCOUNT_LABEL = 'projectcalico.org/serviceaccount';
/** Prefix of service-account labels on endpoints (from the ksa.<ns>.<sa> profile's labelsToApply). */
export const SERVICE_ACCOUNT_LABEL_PREFIX = 'pcsa.';

export interface PortRange {
  first: number;
  last: number;
}

/** Conditions on one side (source or destination) of one alternative. All must hold. */
export interface SideMatch {
  /** One positive CIDR of this family (several nets become several alternatives). */
  net?: string;
  /** One negated CIDR, when notNets has exactly one of this family and there is no positive net. */
  notNet?: string;
  /** A hash:net set of the notNets otherwise: the address must not be in it. */
  notNetsSet?: string;
  /** Selector set the address must be in. */
  set?: string;
  /** notSelector set the address must not be in. */
  notSet?: string;
  /** Numeric ports, any of which matches (≤ 15 multiport slots). */
  ports?: PortRange[];
  /** Named-port set (ip,proto:port) the address and port must be in. */
  namedPortSet?: string;
  /** Numeric ports none of which may match, in multiport-sized chunks. */
  notPorts: PortRange[][];
  /** Named-port sets the address and port must not be in. */
  notNamedPortSets: string[];
}

export interface IcmpMatch {
  type: number;
  code?: number;
}

export interface CompiledRule {
  action: Action;
  /** Index of the rule in its policy's (or profile's) ingress / egress list. */
  ruleIndex: number;
  protocol?: number;
  notProtocol?: number;
  icmp?: IcmpMatch;
  notICMP?: IcmpMatch;
  src: SideMatch;
  dst: SideMatch;
}

/** An ipset a compiled rule refers to, with what decides its members. */
export type IpsetRequest =
  | { name: string; kind: 's'; selector: string }
  | { name: string; kind: 'n'; selector: string; protocol: string; port: string }
  | { name: string; kind: 'c'; nets: string[] };

/** Where a rule lives: the namespace of a namespaced policy scopes its rule selectors. */
export interface RuleContext {
  namespace?: string;
}

const PROTO_NAMES: Record<number, string> = { 1: 'icmp', 6: 'tcp', 17: 'udp', 58: 'ipv6-icmp', 132: 'sctp', 136: 'udplite' };

/** Protocol as iptables-save prints it (name for the common ones, else the number). */
export function iptablesProtocol(n: number): string {
  return PROTO_NAMES[n] ?? String(n);
}

/** Protocol as ipset's hash:ip,port members spell it ("tcp:6379"); named ports exist only for
 *  TCP, UDP, SCTP and UDPLite (the model refuses others), whose names ipset and iptables share. */
export function ipsetProtocol(n: number): string {
  return PROTO_NAMES[n] ?? String(n);
}

export function toProtocolNumber(p: ProtocolName | number | string): number | undefined {
  if (typeof p === 'number') return p;
  if (/^\d+$/.test(p)) return Number(p);
  const names: Record<string, number> = { tcp: 6, udp: 17, icmp: 1, icmpv6: 58, sctp: 132, udplite: 136 };
  return names[p.toLowerCase()];
}

/** multiport holds 15 slots; a range takes two. */
export function chunkPorts(ranges: readonly PortRange[]): PortRange[][] {
  const chunks: PortRange[][] = [];
  let cur: PortRange[] = [];
  let slots = 0;
  for (const r of ranges) {
    const need = r.first === r.last ? 1 : 2;
    if (slots + need > 15) {
      chunks.push(cur);
      cur = [];
      slots = 0;
    }
    cur.push(r);
    slots += need;
  }
  if (cur.length) chunks.push(cur);
  return chunks;
}

function splitPorts(ports: readonly (number | string)[] | undefined): { numeric: PortRange[]; named: string[] } {
  const numeric: PortRange[] = [];
  const named: string[] = [];
  for (const p of ports ?? []) {
    if (typeof p === 'number') numeric.push({ first: p, last: p });
    else if (/^\d+:\d+$/.test(p)) {
      const [a, b] = p.split(':').map(Number);
      numeric.push({ first: a, last: b });
    } else if (/^\d+$/.test(p)) numeric.push({ first: Number(p), last: Number(p) });
    else named.push(p);
  }
  return { numeric, named: [...new Set(named)] };
}

const familyOf = (cidr: string): Family | undefined => parseCIDR(cidr)?.family;

/**
 * The positive selector an entity rule stands for, canonical, or undefined when it selects no
 * endpoints (nets only / nothing). As Calico: namespaceSelector → the namespace's "pcns." labels;
 * in a namespaced policy a selector without namespaceSelector sees only the policy's namespace;
 * serviceAccounts → the endpoint's service-account labels.
 */
export function entitySelector(e: EntityRule, ctx: RuleContext): string | undefined {
  const parts: Selector[] = [];
  const hasSel = !!e.selector?.trim();
  const sa = e.serviceAccounts;
  const hasSa = !!(sa && (sa.names?.length || sa.selector?.trim()));
  if (!hasSel && !hasSa && !e.namespaceSelector?.trim()) return undefined;
  parts.push(...scopeSelector(e, ctx));
  if (hasSel) parts.push(parseSelector(e.selector as string));
  if (sa?.names?.length) parts.push({ op: 'in', key: SERVICE_ACCOUNT_LABEL, values: sa.names });
  if (sa?.selector?.trim()) parts.push(prefixSelectorLabels(parseSelector(sa.selector), SERVICE_ACCOUNT_LABEL_PREFIX));
  return canonical(parts);
}

/** notSelector, scoped like the positive selector (namespaceSelector, or the policy's namespace). */
export function entityNotSelector(e: EntityRule, ctx: RuleContext): string | undefined {
  if (!e.notSelector?.trim()) return undefined;
  return canonical([...scopeSelector(e, ctx), parseSelector(e.notSelector)]);
}

function scopeSelector(e: EntityRule, ctx: RuleContext): Selector[] {
  if (e.namespaceSelector?.trim()) return [parseSelector(namespaceSelectorToEndpointSelector(e.namespaceSelector))];
  if (ctx.namespace !== undefined) return [parseSelector(`${NAMESPACE_LABEL} == ${quote(ctx.namespace)}`)];
  return [];
}

function canonical(parts: Selector[]): string {
  const real = parts.filter((p) => p.op !== 'all');
  return printSelector(real.length ? junction('and', real) : { op: 'all' });
}

interface SideOptions {
  base: Omit<SideMatch, 'net' | 'ports' | 'namedPortSet'>;
  nets: (string | undefined)[];
  portAlts: { ports?: PortRange[]; namedPortSet?: string }[];
}

/** undefined when this side can never match in `family` (e.g. nets only of the other family). */
function compileSide(e: EntityRule | undefined, ctx: RuleContext, family: Family, protocol: number | undefined, sets: Map<string, IpsetRequest>): SideOptions | undefined {
  const base: SideOptions['base'] = { notPorts: [], notNamedPortSets: [] };
  if (!e) return { base, nets: [undefined], portAlts: [{}] };
  let nets: (string | undefined)[] = [undefined];
  if (e.nets?.length) {
    nets = [...new Set(e.nets.filter((n) => familyOf(n) === family))].sort();
    if (!nets.length) return undefined;
  }
  const notNets = [...new Set((e.notNets ?? []).filter((n) => familyOf(n) === family))].sort();
  // A /0 in notNets excludes every address: the rule never matches (and hash:net refuses /0).
  if (notNets.some((n) => n.endsWith('/0'))) return undefined;
  // iptables takes one -s/-d per rule: next to a positive net, even a single notNet goes in a set.
  const positive = nets.some((n) => n !== undefined);
  if (notNets.length === 1 && !positive) base.notNet = notNets[0];
  else if (notNets.length >= 1) {
    const name = ipsetName(family, 'c', contentId(notNets));
    sets.set(name, { name, kind: 'c', nets: notNets });
    base.notNetsSet = name;
  }
  const sel = entitySelector(e, ctx);
  if (sel !== undefined) {
    const name = ipsetName(family, 's', selectorId(sel));
    sets.set(name, { name, kind: 's', selector: sel });
    base.set = name;
  }
  const notSel = entityNotSelector(e, ctx);
  if (notSel !== undefined) {
    const name = ipsetName(family, 's', selectorId(notSel));
    sets.set(name, { name, kind: 's', selector: notSel });
    base.notSet = name;
  }
  const namedSet = (port: string): string => {
    const proto = ipsetProtocol(protocol as number);
    const selector = sel ?? 'all()';
    const name = ipsetName(family, 'n', contentId([selector, proto, port]));
    sets.set(name, { name, kind: 'n', selector, protocol: proto, port });
    return name;
  };
  const ports = splitPorts(e.ports);
  const portAlts: SideOptions['portAlts'] = [...chunkPorts(ports.numeric).map((c) => ({ ports: c })), ...ports.named.map((n) => ({ namedPortSet: namedSet(n) }))];
  const notPorts = splitPorts(e.notPorts);
  base.notPorts = chunkPorts(notPorts.numeric);
  base.notNamedPortSets = notPorts.named.map(namedSet);
  return { base, nets, portAlts: portAlts.length ? portAlts : [{}] };
}

function expand(side: SideOptions): SideMatch[] {
  const out: SideMatch[] = [];
  for (const net of side.nets) {
    for (const alt of side.portAlts) {
      const m: SideMatch = { ...side.base };
      if (net !== undefined) m.net = net;
      if (alt.ports) m.ports = alt.ports;
      if (alt.namedPortSet) m.namedPortSet = alt.namedPortSet;
      out.push(m);
    }
  }
  return out;
}

/** Does a rule apply to this IP family at all (ipVersion, ICMP vs ICMPv6)? */
function ruleInFamily(rule: Rule, family: Family): boolean {
  if (rule.ipVersion !== undefined && rule.ipVersion !== family) return false;
  const proto = rule.protocol === undefined ? undefined : toProtocolNumber(rule.protocol);
  if (proto === 1 && family === 6) return false;
  if (proto === 58 && family === 4) return false;
  return true;
}

/** One rule → its alternatives for `family` (none when it cannot match there); sets it needs go into `sets`. */
export function compileRule(rule: Rule, ruleIndex: number, ctx: RuleContext, family: Family, sets: Map<string, IpsetRequest>): CompiledRule[] {
  if (!ruleInFamily(rule, family)) return [];
  const protocol = rule.protocol === undefined ? undefined : toProtocolNumber(rule.protocol);
  const local = new Map<string, IpsetRequest>();
  const src = compileSide(rule.source, ctx, family, protocol, local);
  const dst = compileSide(rule.destination, ctx, family, protocol, local);
  if (!src || !dst) return [];
  for (const [k, v] of local) sets.set(k, v);
  const head: Omit<CompiledRule, 'src' | 'dst'> = { action: rule.action, ruleIndex };
  if (protocol !== undefined) head.protocol = protocol;
  const notProtocol = rule.notProtocol === undefined ? undefined : toProtocolNumber(rule.notProtocol);
  // protocol X and notProtocol X never match; with different ones the positive one says it all.
  if (protocol !== undefined && notProtocol === protocol) return [];
  if (protocol === undefined && notProtocol !== undefined) head.notProtocol = notProtocol;
  if (rule.icmp?.type !== undefined) head.icmp = rule.icmp.code === undefined ? { type: rule.icmp.type } : { type: rule.icmp.type, code: rule.icmp.code };
  if (rule.notICMP?.type !== undefined) head.notICMP = rule.notICMP.code === undefined ? { type: rule.notICMP.type } : { type: rule.notICMP.type, code: rule.notICMP.code };
  const out: CompiledRule[] = [];
  for (const s of expand(src)) for (const d of expand(dst)) out.push({ ...head, src: s, dst: d });
  return out;
}

export function compileRules(rules: readonly Rule[] | undefined, ctx: RuleContext, family: Family, sets: Map<string, IpsetRequest>): CompiledRule[] {
  return (rules ?? []).flatMap((r, i) => compileRule(r, i, ctx, family, sets));
}
