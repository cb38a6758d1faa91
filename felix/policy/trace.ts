// The policy verdict for one packet, computed from the model alone: egress at the source
// endpoint (when the source is a workload), then ingress at the destination endpoint (when it is
// one). It walks the same compiled rules and the same ipset members the renderer writes, in the
// order the rendered chains take them, so the answer is what the kernel would do with a new
// connection (established ones are accepted by conntrack before any policy).
import ipaddr from 'ipaddr.js';
import { parseCIDR, parseIP } from '../../datastore/model/net.js';
import { compileRuleSet, type CompiledRuleSet } from './calculator.js';
import type { CompiledRule, Family, IcmpMatch, IpsetRequest, SideMatch } from './compile.js';
import { ipsetProtocol } from './compile.js';
import { computeIpset, endpointNets } from './ipsets.js';
import { policyChainName, profileChainName, type Direction } from './names.js';
import { applicablePolicies, appliesToWorkloads, sortPolicies } from './select.js';
import type { PolicyEndpoint, PolicyInput, ProfileInput } from './types.js';
import { hostChainName, type FailsafePorts, type HostPort } from './host.js';

/** A host endpoint as the tracer sees it: traffic to one of its expectedIPs is taken to enter the
 *  host through it (ingress), traffic from one to leave through it (egress); its failsafe ports
 *  (from its node's FelixConfiguration) come before any policy. */
export interface TraceHostEndpoint {
  ep: PolicyEndpoint;
  failsafe: FailsafePorts;
}

export interface TraceModel {
  endpoints: readonly PolicyEndpoint[];
  policies: readonly PolicyInput[];
  profiles: readonly ProfileInput[];
  /** Host endpoints with an interface (key e.g. "hostendpoint/<name>"); none when absent. */
  hostEndpoints?: readonly TraceHostEndpoint[];
}

/** An endpoint by key, or an address (an address of a known endpoint means that endpoint). */
export type TracePeer = { endpoint: string } | { ip: string };

export interface TraceQuery {
  from: TracePeer;
  to: TracePeer;
  /** Protocol number: 6 tcp, 17 udp, 1 icmp, 58 icmpv6, … */
  protocol: number;
  /** Destination port (ports-carrying protocols). */
  port?: number;
  /** Source port; an ephemeral 40000 when not given. */
  sourcePort?: number;
  /** ICMP type/code; echo request when not given. */
  icmp?: { type: number; code: number };
}

export const DEFAULT_SOURCE_PORT = 40000;

export type StepReason = 'policy' | 'default-deny' | 'profile' | 'no-profile-allowed' | 'failsafe';

/** How one endpoint's chain for one direction decided. */
export interface DirectionVerdict {
  direction: Direction;
  endpoint: string;
  verdict: 'allow' | 'deny';
  reason: StepReason;
  /** The deciding policy ("name" or "namespace/name") or profile, and its rule index. */
  policy?: string;
  profile?: string;
  ruleIndex?: number;
  action?: 'Allow' | 'Deny';
  /** A Pass rule sent evaluation on to the profiles. */
  passedBy?: { policy: string; ruleIndex: number };
  /** Policies applying to the endpoint in this direction, in order. */
  policies: string[];
  /** Log rules the packet hit on the way. */
  logged: { policy?: string; profile?: string; ruleIndex: number }[];
  /** The chain that decided, as rendered. */
  chain?: string;
  /** A host endpoint's step: the failsafe port that let the packet through, when one did. */
  failsafe?: HostPort;
}

export interface TraceResult {
  verdict: 'allow' | 'deny';
  family: Family;
  source: { ip: string; endpoint?: string };
  destination: { ip: string; endpoint?: string };
  steps: DirectionVerdict[];
  /** The step that decided: the first deny, else the last allow; undefined when no endpoint is involved. */
  decidedBy?: DirectionVerdict;
}

export class TraceError extends Error {}

export interface Packet {
  family: Family;
  src: string;
  dst: string;
  protocol: number;
  sport?: number;
  dport?: number;
  icmp?: { type: number; code: number };
}

const inNet = (ip: string, cidr: string): boolean => {
  const c = parseCIDR(cidr);
  const a = parseIP(ip);
  if (!c || !a || c.family !== a.family) return false;
  return (a.addr as ipaddr.IPv4).match(ipaddr.parseCIDR(c.network) as [ipaddr.IPv4, number]);
};

/** Sets as the kernel holds them: hash:net by containment, hash:ip,port by exact member. */
export class SetView {
  private readonly cache = new Map<string, string[]>();
  constructor(
    private readonly requests: ReadonlyMap<string, IpsetRequest>,
    private readonly endpoints: readonly PolicyEndpoint[],
    private readonly family: Family,
  ) {}

  members(name: string): string[] {
    let m = this.cache.get(name);
    if (!m) {
      const req = this.requests.get(name);
      m = req ? computeIpset(req, this.family, this.endpoints).members : [];
      this.cache.set(name, m);
    }
    return m;
  }

  hasNet(name: string, ip: string): boolean {
    return this.members(name).some((n) => inNet(ip, n));
  }

  hasIpPort(name: string, ip: string, protocol: number, port: number | undefined): boolean {
    if (port === undefined) return false;
    const want = `${parseIP(ip)?.text ?? ip},${ipsetProtocol(protocol)}:${port}`;
    return this.members(name).includes(want);
  }
}

const PORT_PROTOCOLS = new Set([6, 17, 132, 136]);

function sideMatches(m: SideMatch, ip: string, port: number | undefined, pkt: Packet, sets: SetView): boolean {
  if (m.net && !inNet(ip, m.net)) return false;
  if (m.notNet && inNet(ip, m.notNet)) return false;
  if (m.notNetsSet && sets.hasNet(m.notNetsSet, ip)) return false;
  if (m.set && !sets.hasNet(m.set, ip)) return false;
  if (m.notSet && sets.hasNet(m.notSet, ip)) return false;
  if (m.namedPortSet && !sets.hasIpPort(m.namedPortSet, ip, pkt.protocol, port)) return false;
  for (const s of m.notNamedPortSets) if (sets.hasIpPort(s, ip, pkt.protocol, port)) return false;
  const portOk = PORT_PROTOCOLS.has(pkt.protocol) && port !== undefined;
  const inRanges = (rs: readonly { first: number; last: number }[]) => portOk && rs.some((r) => (port as number) >= r.first && (port as number) <= r.last);
  if (m.ports && !inRanges(m.ports)) return false;
  // "! --dports" needs a port too: a packet without one matches neither form.
  for (const chunk of m.notPorts) if (!portOk || inRanges(chunk)) return false;
  return true;
}

function icmpMatches(m: IcmpMatch, pkt: Packet): boolean {
  if (!pkt.icmp || pkt.protocol !== (pkt.family === 4 ? 1 : 58)) return false;
  return pkt.icmp.type === m.type && (m.code === undefined || pkt.icmp.code === m.code);
}

export function ruleMatches(r: CompiledRule, pkt: Packet, sets: SetView): boolean {
  if (r.protocol !== undefined && pkt.protocol !== r.protocol) return false;
  if (r.notProtocol !== undefined && pkt.protocol === r.notProtocol) return false;
  if (r.icmp && !icmpMatches(r.icmp, pkt)) return false;
  // "! --icmp-type" still requires an ICMP packet of the family.
  if (r.notICMP && (!pkt.icmp || pkt.protocol !== (pkt.family === 4 ? 1 : 58) || icmpMatches(r.notICMP, pkt))) return false;
  return sideMatches(r.src, pkt.src, pkt.sport, pkt, sets) && sideMatches(r.dst, pkt.dst, pkt.dport, pkt, sets);
}

const policyLabel = (p: PolicyInput): string => (p.namespace === undefined ? p.name : `${p.namespace}/${p.name}`);

type RuleOutcome = { kind: 'allow' | 'deny' | 'pass'; ruleIndex: number } | undefined;

function runRules(rules: readonly CompiledRule[], pkt: Packet, sets: SetView, onLog: (i: number) => void): RuleOutcome {
  for (const r of rules) {
    if (!ruleMatches(r, pkt, sets)) continue;
    if (r.action === 'Log') onLog(r.ruleIndex);
    else return { kind: r.action === 'Allow' ? 'allow' : r.action === 'Deny' ? 'deny' : 'pass', ruleIndex: r.ruleIndex };
  }
  return undefined;
}

/** Pre-compiled model: reuse it for many queries (the property tests do). */
export class PolicyTracer {
  private readonly sorted: PolicyInput[];
  private readonly compiledPolicies = new Map<PolicyInput, CompiledRuleSet>();
  private readonly profiles = new Map<string, { input: ProfileInput; compiled: CompiledRuleSet }>();
  private readonly views = new Map<Family, SetView>();
  private readonly hosts: readonly TraceHostEndpoint[];

  constructor(private readonly model: TraceModel) {
    this.sorted = sortPolicies(model.policies.filter(appliesToWorkloads));
    const requests: Record<Family, Map<string, IpsetRequest>> = { 4: new Map(), 6: new Map() };
    for (const p of this.sorted) {
      const c = compileRuleSet(p.spec, p.namespace, (d) => policyChainName(p, d));
      this.compiledPolicies.set(p, c);
      for (const f of [4, 6] as const) for (const [n, r] of c.sets[f]) requests[f].set(n, r);
    }
    for (const p of model.profiles) {
      const c = compileRuleSet(p.spec, undefined, (d) => profileChainName(p.name, d));
      this.profiles.set(p.name, { input: p, compiled: c });
      for (const f of [4, 6] as const) for (const [n, r] of c.sets[f]) requests[f].set(n, r);
    }
    this.hosts = model.hostEndpoints ?? [];
    // Host endpoints' expectedIPs are set members like workload addresses.
    const members = this.hosts.length ? [...model.endpoints, ...this.hosts.map((h) => h.ep)] : model.endpoints;
    for (const f of [4, 6] as const) this.views.set(f, new SetView(requests[f], members, f));
  }

  endpoint(key: string): PolicyEndpoint | undefined {
    return this.model.endpoints.find((e) => e.key === key) ?? this.hosts.find((h) => h.ep.key === key)?.ep;
  }

  private host(ep: PolicyEndpoint): TraceHostEndpoint | undefined {
    return this.hosts.find((h) => h.ep === ep);
  }

  /** The endpoint holding this address (an exact host address of its networks), if any:
   *  a workload first, else a host endpoint by its expectedIPs. */
  endpointByIp(ip: string): PolicyEndpoint | undefined {
    const a = parseIP(ip);
    if (!a) return undefined;
    const holds = (e: PolicyEndpoint): boolean => endpointNets(e, a.family).some((n) => n.split('/')[0] === a.text && (n.endsWith('/32') || n.endsWith('/128')));
    return this.model.endpoints.find(holds) ?? this.hosts.find((h) => holds(h.ep))?.ep;
  }

  /** One direction at a host endpoint, as its cali-fh- / cali-th- chain decides: failsafe ports
   *  first (ACCEPT), then policies and profiles exactly as for a workload. */
  evaluateHost(h: TraceHostEndpoint, dir: Direction, pkt: Packet): DirectionVerdict {
    const ports = dir === 'ingress' ? h.failsafe.inbound : h.failsafe.outbound;
    const peer = dir === 'ingress' ? pkt.src : pkt.dst;
    const hit = ports.find((p) => p.protocol === ipsetProtocol(pkt.protocol) && p.port === pkt.dport && (!p.net || inNet(peer, p.net)));
    if (hit) return { direction: dir, endpoint: h.ep.key, verdict: 'allow', reason: 'failsafe', policies: [], logged: [], failsafe: hit, chain: dir === 'ingress' ? 'cali-failsafe-in' : 'cali-failsafe-out' };
    const v = this.evaluate(h.ep, dir, pkt);
    return v.reason === 'default-deny' || v.reason === 'no-profile-allowed' ? { ...v, chain: hostChainName(h.ep.iface, dir) } : v;
  }

  private step(ep: PolicyEndpoint, dir: Direction, pkt: Packet): DirectionVerdict {
    const h = this.host(ep);
    return h ? this.evaluateHost(h, dir, pkt) : this.evaluate(ep, dir, pkt);
  }

  /** One direction at one endpoint, as its cali-tw / cali-fw chain decides. */
  evaluate(ep: PolicyEndpoint, dir: Direction, pkt: Packet): DirectionVerdict {
    const sets = this.views.get(pkt.family) as SetView;
    const policies = applicablePolicies(this.sorted, ep, dir);
    const out: DirectionVerdict = { direction: dir, endpoint: ep.key, verdict: 'deny', reason: 'default-deny', policies: policies.map(policyLabel), logged: [] };
    let passed = false;
    for (const p of policies) {
      const c = this.compiledPolicies.get(p) as CompiledRuleSet;
      const o = runRules(c.rules[pkt.family][dir], pkt, sets, (i) => out.logged.push({ policy: policyLabel(p), ruleIndex: i }));
      if (!o) continue;
      if (o.kind === 'pass') {
        out.passedBy = { policy: policyLabel(p), ruleIndex: o.ruleIndex };
        passed = true;
        break;
      }
      return { ...out, verdict: o.kind, reason: 'policy', policy: policyLabel(p), ruleIndex: o.ruleIndex, action: o.kind === 'allow' ? 'Allow' : 'Deny', chain: c.chains[pkt.family][dir].name };
    }
    if (policies.length && !passed) return out;
    for (const name of ep.profiles) {
      const prof = this.profiles.get(name);
      if (!prof) continue;
      const o = runRules(prof.compiled.rules[pkt.family][dir], pkt, sets, (i) => out.logged.push({ profile: name, ruleIndex: i }));
      // A Pass in a profile ends that profile; the next one is tried.
      if (!o || o.kind === 'pass') continue;
      return { ...out, verdict: o.kind, reason: 'profile', profile: name, ruleIndex: o.ruleIndex, action: o.kind === 'allow' ? 'Allow' : 'Deny', chain: prof.compiled.chains[pkt.family][dir].name };
    }
    return { ...out, reason: 'no-profile-allowed' };
  }

  private resolve(peer: TracePeer, side: string): { ep?: PolicyEndpoint; ips: string[] } {
    if ('endpoint' in peer) {
      const ep = this.endpoint(peer.endpoint);
      if (!ep) throw new TraceError(`${side}: no workload or host endpoint ${JSON.stringify(peer.endpoint)}`);
      const ips = [...endpointNets(ep, 4), ...endpointNets(ep, 6)].map((n) => n.split('/')[0]);
      if (!ips.length) throw new TraceError(`${side}: endpoint ${ep.key} has no addresses`);
      return { ep, ips };
    }
    const a = parseIP(peer.ip);
    if (!a) throw new TraceError(`${side}: ${JSON.stringify(peer.ip)} is not an IP address`);
    return { ep: this.endpointByIp(a.text), ips: [a.text] };
  }

  trace(q: TraceQuery): TraceResult {
    const from = this.resolve(q.from, 'from');
    const to = this.resolve(q.to, 'to');
    const fam = ([4, 6] as const).find((f) => from.ips.some((i) => parseIP(i)?.family === f) && to.ips.some((i) => parseIP(i)?.family === f));
    if (!fam) throw new TraceError('from and to have no address family in common');
    const src = from.ips.find((i) => parseIP(i)?.family === fam) as string;
    const dst = to.ips.find((i) => parseIP(i)?.family === fam) as string;
    const pkt: Packet = { family: fam, src, dst, protocol: q.protocol };
    if (PORT_PROTOCOLS.has(q.protocol)) {
      pkt.sport = q.sourcePort ?? DEFAULT_SOURCE_PORT;
      if (q.port !== undefined) pkt.dport = q.port;
    }
    if (q.protocol === (fam === 4 ? 1 : 58)) pkt.icmp = q.icmp ?? { type: fam === 4 ? 8 : 128, code: 0 };
    const steps: DirectionVerdict[] = [];
    if (from.ep) steps.push(this.step(from.ep, 'egress', pkt));
    if (to.ep && steps.every((s) => s.verdict === 'allow')) steps.push(this.step(to.ep, 'ingress', pkt));
    const denied = steps.find((s) => s.verdict === 'deny');
    return {
      verdict: denied ? 'deny' : 'allow',
      family: fam,
      source: from.ep ? { ip: src, endpoint: from.ep.key } : { ip: src },
      destination: to.ep ? { ip: dst, endpoint: to.ep.key } : { ip: dst },
      steps,
      decidedBy: denied ?? steps[steps.length - 1],
    };
  }
}

export function tracePolicy(model: TraceModel, query: TraceQuery): TraceResult {
  return new PolicyTracer(model).trace(query);
}
