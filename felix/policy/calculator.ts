// The incremental policy calculator. Output is a pure function of the input (computePolicyState
// is `new PolicyCalculator().update(input)`); the class only remembers what it computed so a
// change recomputes what it affects: a policy's chains are recompiled only when its spec changes;
// an endpoint's chains only when its labels, profiles or the policy set change; an ipset's members
// only for the endpoints that changed. Unchanged chains and sets come back as the same objects.
import type { CompiledSelector, Labels } from '../../datastore/selector/index.js';
import { compileRules, type CompiledRule, type Family, type IpsetRequest } from './compile.js';
import { endpointMembers, ipsetSpec } from './ipsets.js';
import { policyChainName, profileChainName, type Direction } from './names.js';
import { renderDispatch } from './dispatch.js';
import { renderEndpointChain, renderForward, renderRuleChain, HOOKS } from './render.js';
import { appliesToWorkloads, cachedSelector, comparePolicies, endpointLabels, hasDirection, policyEndpointSelector } from './select.js';
import type { ChainSpec, IpsetSpec, PolicyCalcInput, PolicyDataplaneState, PolicyEndpoint, PolicyInput, ProfileInput } from './types.js';
import { policyId } from './names.js';
import { ALL_INTERFACES, allHostsSet, DEFAULT_FAILSAFE, HOST_HOOKS, pickHostEndpoints, renderFailsafe, renderHostChain, renderHostDispatch, renderHostForwardChain, renderHostTop } from './host.js';

export const FAMILIES: readonly Family[] = [4, 6];
export const DIRECTIONS: readonly Direction[] = ['ingress', 'egress'];

type PerFamily<T> = Record<Family, T>;
type PerDir<T> = Record<Direction, T>;

/** A policy or profile compiled for both families and directions. */
export interface CompiledRuleSet {
  rules: PerFamily<PerDir<CompiledRule[]>>;
  sets: PerFamily<Map<string, IpsetRequest>>;
  chains: PerFamily<PerDir<ChainSpec>>;
}

export function compileRuleSet(spec: { ingress?: PolicyInput['spec']['ingress']; egress?: PolicyInput['spec']['egress'] }, namespace: string | undefined, chainName: (d: Direction) => string): CompiledRuleSet {
  const out = { rules: {}, sets: {}, chains: {} } as CompiledRuleSet;
  for (const f of FAMILIES) {
    const sets = new Map<string, IpsetRequest>();
    const rules = { ingress: compileRules(spec.ingress, { namespace }, f, sets), egress: compileRules(spec.egress, { namespace }, f, sets) };
    out.rules[f] = rules;
    out.sets[f] = sets;
    out.chains[f] = { ingress: renderRuleChain(chainName('ingress'), rules.ingress, f), egress: renderRuleChain(chainName('egress'), rules.egress, f) };
  }
  return out;
}

interface PolicyEntry {
  input: PolicyInput;
  json: string;
  id: string;
  compiled: CompiledRuleSet;
  /** Which endpoints the policy selects (namespace checked apart). */
  selector: CompiledSelector;
  /** What decides where and when the policy applies: selector, order, types. */
  selSig: string;
  /** Does the policy select an endpoint with these labels (keyed by label signature)? */
  matches: Map<string, boolean>;
}

interface ProfileEntry {
  input: ProfileInput;
  json: string;
  compiled: CompiledRuleSet;
}

interface EndpointEntry {
  ep: PolicyEndpoint;
  json: string;
  labels: Labels;
  sig: string;
}

interface LocalEntry {
  sig: string;
  iface: string;
  profiles: string;
  policies: PerDir<string[]>;
  chains: PerDir<ChainSpec>;
}

interface SetEntry {
  req: IpsetRequest;
  family: Family;
  members: Map<string, string[]>;
  spec?: IpsetSpec;
}

const FORWARD = renderForward();
const FORWARD_WITH_HOSTS = renderForward(true);
const HOST_TOP: PerFamily<ChainSpec[]> = { 4: [renderHostTop('ingress', 4), renderHostTop('egress', 4)], 6: [renderHostTop('ingress', 6), renderHostTop('egress', 6)] };

/** What the host endpoints of this host add: chains per family, and the policies / profiles
 *  their chains jump to (rendered like the workloads' ones). */
interface HostPart {
  chains: PerFamily<ChainSpec[]>;
  sets: PerFamily<IpsetSpec>;
  policies: Set<string>;
  profiles: Set<string>;
}

/** The previous object when the content is unchanged, so unchanged chains keep their identity. */
function same(prev: ChainSpec | undefined, fresh: ChainSpec): ChainSpec {
  return prev && prev.name === fresh.name && prev.rules.length === fresh.rules.length && prev.rules.every((r, i) => r === fresh.rules[i]) ? prev : fresh;
}

function labelSig(ep: PolicyEndpoint, labels: Labels): string {
  return `${ep.namespace}\0${JSON.stringify(Object.entries(labels).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)))}`;
}

function policyKey(p: { name: string; namespace?: string }): string {
  return p.namespace === undefined ? `G/${p.name}` : `N/${p.namespace}/${p.name}`;
}

export class PolicyCalculator {
  private policies = new Map<string, PolicyEntry>();
  private sorted: PolicyEntry[] = [];
  private profiles = new Map<string, ProfileEntry>();
  private endpoints = new Map<string, EndpointEntry>();
  private locals = new Map<string, LocalEntry>();
  private sets = new Map<string, SetEntry>();
  private dispatch = new Map<string, ChainSpec>();
  private hostChains = new Map<string, ChainSpec>();

  update(input: PolicyCalcInput): { v4: PolicyDataplaneState; v6: PolicyDataplaneState } {
    const reselected = this.updatePolicies(input.policies);
    const profilesChanged = this.updateProfiles(input.profiles);
    const changedEndpoints = this.updateEndpoints(input.allEndpoints);
    const locals = this.updateLocals(input.localEndpoints, profilesChanged, reselected);
    const hosts = this.hostPart(input);

    // Chains and the sets they reference: policies and profiles used by a local endpoint only.
    const fwd = hosts ? FORWARD_WITH_HOSTS : FORWARD;
    const chains: PerFamily<ChainSpec[]> = { 4: [fwd, ...(hosts?.chains[4] ?? [])], 6: [fwd, ...(hosts?.chains[6] ?? [])] };
    const requests: PerFamily<Map<string, IpsetRequest>> = { 4: new Map(), 6: new Map() };
    const usedPolicies = new Set<string>();
    const usedProfiles = new Set<string>();
    for (const { entry } of locals) {
      for (const d of DIRECTIONS) entry.policies[d].forEach((k) => usedPolicies.add(k));
    }
    for (const { ep } of locals) for (const p of ep.profiles) if (this.profiles.has(p)) usedProfiles.add(p);
    hosts?.policies.forEach((k) => usedPolicies.add(k));
    hosts?.profiles.forEach((k) => usedProfiles.add(k));
    const addCompiled = (c: CompiledRuleSet) => {
      for (const f of FAMILIES) {
        chains[f].push(c.chains[f].ingress, c.chains[f].egress);
        for (const [n, r] of c.sets[f]) requests[f].set(n, r);
      }
    };
    for (const k of usedPolicies) addCompiled((this.policies.get(k) as PolicyEntry).compiled);
    for (const k of usedProfiles) addCompiled((this.profiles.get(k) as ProfileEntry).compiled);
    for (const { entry } of locals) {
      for (const f of FAMILIES) chains[f].push(entry.chains.ingress, entry.chains.egress);
    }
    const ifaces = locals.map((l) => l.ep.iface);
    const dispatch = DIRECTIONS.flatMap((d) => renderDispatch(d, ifaces)).map((c) => same(this.dispatch.get(c.name), c));
    this.dispatch = new Map(dispatch.map((c) => [c.name, c]));
    for (const f of FAMILIES) chains[f].push(...dispatch);

    const ipsets = this.updateSets(requests, changedEndpoints);
    // Kept sorted by name like the rest of the state.
    if (hosts) for (const f of FAMILIES) ipsets[f] = new Map([...ipsets[f], [hosts.sets[f].name, hosts.sets[f]] as const].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
    const state = (f: Family): PolicyDataplaneState => ({
      family: f,
      chains: new Map(chains[f].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0)).map((c) => [c.name, c])),
      ipsets: ipsets[f],
      hooks: [...HOOKS, ...(hosts ? HOST_HOOKS : [])].map((h) => ({ ...h })),
    });
    return { v4: state(4), v6: state(6) };
  }

  /** The host endpoints' chains (undefined when this host has none). Few per host: recomputed
   *  each round, but unchanged chains keep their identity. */
  private hostPart(input: PolicyCalcInput): HostPart | undefined {
    const { chosen } = pickHostEndpoints(input.localHostEndpoints ?? []);
    if (!chosen.length) {
      this.hostChains.clear();
      return undefined;
    }
    const failsafe = input.failsafe ?? DEFAULT_FAILSAFE;
    const part: HostPart = { chains: { 4: [], 6: [] }, sets: { 4: allHostsSet(4, input.hostAddresses ?? []), 6: allHostsSet(6, input.hostAddresses ?? []) }, policies: new Set(), profiles: new Set() };
    const common: ChainSpec[] = [];
    const ifaces = chosen.map((h) => h.iface);
    for (const d of DIRECTIONS) common.push(renderHostDispatch(d, ifaces), renderHostDispatch(d, ifaces, true));
    for (const hep of chosen) {
      const labels = endpointLabels(hep);
      const sig = labelSig(hep, labels);
      for (const d of DIRECTIONS) {
        const pols = this.sorted.filter((p) => hasDirection(p.input, d) && this.policyMatches(p, hep, labels, sig));
        const fwd = pols.filter((p) => (p.input.spec as { applyOnForward?: boolean }).applyOnForward === true);
        const profs = hep.profiles.filter((p) => this.profiles.has(p));
        const name = (p: PolicyEntry): string => p.compiled.chains[4][d].name;
        common.push(renderHostChain(hep.iface, d, pols.map(name), profs.map((p) => profileChainName(p, d))));
        // Calico gives the all-interfaces endpoint normal policy only.
        if (hep.iface !== ALL_INTERFACES) common.push(renderHostForwardChain(hep.iface, d, fwd.map(name)));
        for (const p of hep.iface === ALL_INTERFACES ? pols : [...pols, ...fwd]) part.policies.add(policyKey(p.input));
        profs.forEach((p) => part.profiles.add(p));
      }
    }
    const next = new Map<string, ChainSpec>();
    const keep = (c: ChainSpec, key = c.name): ChainSpec => {
      const kept = same(this.hostChains.get(key), c);
      next.set(key, kept);
      return kept;
    };
    const shared = common.map((c) => keep(c));
    for (const f of FAMILIES) {
      part.chains[f].push(...HOST_TOP[f], ...shared, keep(renderFailsafe('ingress', failsafe.inbound, f), `${f}/in`), keep(renderFailsafe('egress', failsafe.outbound, f), `${f}/out`));
    }
    this.hostChains = next;
    return part;
  }

  /**
   * Returns the keys of policies whose selection changed (added, removed, or a new selector,
   * namespace, order or types): only endpoints they select, or selected before, need their policy
   * lists rechecked. A change of rules alone keeps the chain name, so no endpoint chain changes.
   */
  private updatePolicies(inputs: readonly PolicyInput[]): Set<string> {
    const next = new Map<string, PolicyEntry>();
    const reselected = new Set<string>();
    for (const p of inputs) {
      if (!appliesToWorkloads(p)) continue;
      const key = policyKey(p);
      const old = this.policies.get(key);
      if (old && old.input === p) {
        next.set(key, old);
        continue;
      }
      const json = JSON.stringify(p);
      if (old && old.json === json) {
        next.set(key, { ...old, input: p });
        continue;
      }
      const selText = policyEndpointSelector(p);
      const selSig = JSON.stringify([selText, p.spec.order ?? null, p.spec.types]);
      const sameSelection = old !== undefined && old.selSig === selSig;
      if (!sameSelection) reselected.add(key);
      next.set(key, {
        input: p,
        json,
        id: policyId(p),
        compiled: compileRuleSet(p.spec, p.namespace, (d) => policyChainName(p, d)),
        selector: cachedSelector(selText),
        selSig,
        matches: sameSelection ? old.matches : new Map(),
      });
    }
    for (const k of this.policies.keys()) if (!next.has(k)) reselected.add(k);
    this.policies = next;
    if (reselected.size) this.sorted = [...next.values()].sort((a, b) => comparePolicies(a.input, b.input));
    else this.sorted = this.sorted.map((e) => next.get(policyKey(e.input)) as PolicyEntry);
    return reselected;
  }

  private updateProfiles(inputs: readonly ProfileInput[]): boolean {
    const next = new Map<string, ProfileEntry>();
    let changed = false;
    for (const p of inputs) {
      const old = this.profiles.get(p.name);
      const json = old?.input === p ? old.json : JSON.stringify(p);
      if (old && old.json === json) {
        next.set(p.name, old);
        continue;
      }
      changed = true;
      next.set(p.name, { input: p, json, compiled: compileRuleSet(p.spec, undefined, (d) => profileChainName(p.name, d)) });
    }
    if (next.size !== this.profiles.size) changed = true;
    this.profiles = next;
    return changed;
  }

  /** Returns the keys of endpoints added, removed or changed, with their old and new entries. */
  private updateEndpoints(inputs: readonly PolicyEndpoint[]): Map<string, { old?: EndpointEntry; now?: EndpointEntry }> {
    const next = new Map<string, EndpointEntry>();
    const changed = new Map<string, { old?: EndpointEntry; now?: EndpointEntry }>();
    for (const ep of inputs) {
      const old = this.endpoints.get(ep.key);
      if (old && old.ep === ep) {
        next.set(ep.key, old);
        continue;
      }
      const json = JSON.stringify(ep);
      if (old && old.json === json) {
        next.set(ep.key, { ...old, ep });
        continue;
      }
      const labels = endpointLabels(ep);
      const entry = { ep, json, labels, sig: labelSig(ep, labels) };
      next.set(ep.key, entry);
      changed.set(ep.key, { old, now: entry });
    }
    for (const [k, old] of this.endpoints) if (!next.has(k)) changed.set(k, { old });
    this.endpoints = next;
    return changed;
  }

  private policyMatches(p: PolicyEntry, ep: PolicyEndpoint, labels: Labels, sig: string): boolean {
    if (p.input.namespace !== undefined && p.input.namespace !== ep.namespace) return false;
    let m = p.matches.get(sig);
    if (m === undefined) {
      m = p.selector.matches(labels);
      if (p.matches.size > 100_000) p.matches.clear();
      p.matches.set(sig, m);
    }
    return m;
  }

  private updateLocals(inputs: readonly PolicyEndpoint[], profilesChanged: boolean, reselected: ReadonlySet<string>): { ep: PolicyEndpoint; entry: LocalEntry }[] {
    const next = new Map<string, LocalEntry>();
    const out: { ep: PolicyEndpoint; entry: LocalEntry }[] = [];
    for (const ep of inputs) {
      // Local endpoints are normally also in allEndpoints: reuse the labels worked out there.
      const known = this.endpoints.get(ep.key);
      const labels = known?.ep === ep ? known.labels : endpointLabels(ep);
      const sig = known?.ep === ep ? known.sig : labelSig(ep, labels);
      const profiles = ep.profiles.join('\0');
      const old = this.locals.get(ep.key);
      let entry: LocalEntry;
      const affected = (o: LocalEntry): boolean => {
        for (const k of reselected) {
          if (o.policies.ingress.includes(k) || o.policies.egress.includes(k)) return true;
          const p = this.policies.get(k);
          if (p && this.policyMatches(p, ep, labels, sig)) return true;
        }
        return false;
      };
      if (old && !profilesChanged && old.sig === sig && old.iface === ep.iface && old.profiles === profiles && !affected(old)) entry = old;
      else {
        const policies: PerDir<string[]> = { ingress: [], egress: [] };
        for (const p of this.sorted) {
          if (!this.policyMatches(p, ep, labels, sig)) continue;
          for (const d of DIRECTIONS) if (hasDirection(p.input, d)) policies[d].push(policyKey(p.input));
        }
        const chainsFor = (d: Direction): ChainSpec => {
          const pol = policies[d].map((k) => (this.policies.get(k) as PolicyEntry).compiled.chains[4][d].name);
          const prof = ep.profiles.filter((p) => this.profiles.has(p)).map((p) => profileChainName(p, d));
          return same(old?.chains[d], renderEndpointChain(ep.iface, d, pol, prof));
        };
        entry = { sig, iface: ep.iface, profiles, policies, chains: { ingress: chainsFor('ingress'), egress: chainsFor('egress') } };
      }
      next.set(ep.key, entry);
      out.push({ ep, entry });
    }
    this.locals = next;
    return out;
  }

  private updateSets(requests: PerFamily<Map<string, IpsetRequest>>, changed: Map<string, { old?: EndpointEntry; now?: EndpointEntry }>): PerFamily<Map<string, IpsetSpec>> {
    const next = new Map<string, SetEntry>();
    const out: PerFamily<Map<string, IpsetSpec>> = { 4: new Map(), 6: new Map() };
    for (const f of FAMILIES) {
      for (const name of [...requests[f].keys()].sort()) {
        const req = requests[f].get(name) as IpsetRequest;
        let entry = this.sets.get(name);
        if (!entry) {
          entry = { req, family: f, members: new Map() };
          if (req.kind !== 'c') {
            for (const e of this.endpoints.values()) {
              const m = endpointMembers(req, e.ep, f, e.labels);
              if (m.length) entry.members.set(e.ep.key, m);
            }
          }
        } else if (req.kind !== 'c') {
          for (const [key, { now }] of changed) {
            const m = now ? endpointMembers(req, now.ep, f, now.labels) : [];
            const had = entry.members.get(key);
            if (!m.length && !had) continue;
            if (had && had.join() === m.join()) continue;
            if (m.length) entry.members.set(key, m);
            else entry.members.delete(key);
            entry.spec = undefined;
          }
        }
        entry.spec ??= ipsetSpec(req, f, req.kind === 'c' ? req.nets : [...entry.members.values()].flat());
        next.set(name, entry);
        out[f].set(name, entry.spec);
      }
    }
    this.sets = next;
    return out;
  }
}
