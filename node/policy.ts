// tortie-node's policy half: the syncer cache (stored objects) → PolicyCalcInput → the pure
// renderer (felix/policy) → the iptables/ipset driver, per family. Resources are validated as
// the client would (defaults filled) and memoised by the stored object (the syncer keeps the same
// object until it changes), so an unchanged endpoint or policy is the same object every round and
// the renderer's incremental paths apply.
import type { StoredObject } from '../datastore/store.js';
import { objectId } from '../datastore/syncer.js';
import { validateV3 } from '../datastore/model/validate.js';
import type { Resource } from '../datastore/model/resource.js';
import { PolicyDriver, type PolicyApplyReport } from '../felix/dataplane/policy-iptables.js';
import { endpointNode, PolicyCalculator, policyEndpoint, policyInput, profileInput, type PolicyCalcInput, type PolicyEndpoint, type PolicyInput, type ProfileInput } from '../felix/policy/index.js';
import { failsafePorts, hostPolicyEndpoint, pickHostEndpoints, resolveHostInterfaces, unsupportedHostPolicies, withBuiltinProfiles } from '../felix/policy/host.js';
import { hostAddresses, parseIpAddrJson, type HostAddr } from './autodetect.js';
import { tool } from '../felix/dataplane/exec.js';
import type { FelixConfigurationSpec } from '../datastore/model/felix.js';
import type { HostEndpointSpec } from '../datastore/model/endpoints.js';
import type { NodeSpec } from '../datastore/model/node.js';

export { failsafePorts } from '../felix/policy/host.js';

/** The resource kinds policy watches (workload endpoints and nodes are watched for routing
 *  already; FelixConfiguration for the failsafe ports of host endpoints, nodes for the addresses
 *  encapsulated traffic may come from). */
export const POLICY_KINDS = ['NetworkPolicy', 'GlobalNetworkPolicy', 'Profile', 'WorkloadEndpoint', 'HostEndpoint', 'FelixConfiguration', 'Node'] as const;

/** FELIX_POLICYENABLED (default true), FELIX_IPV6SUPPORT and FELIX_IPTABLESREFRESHINTERVAL
 *  (Calico's names: default true and 90 s; 0 turns the periodic re-read off). */
export function policySettings(felix: Readonly<Record<string, string>>): { enabled: boolean; ipv6: boolean; refreshMs: number; errors: string[] } {
  const off = (v: string | undefined): boolean => v !== undefined && /^(false|0|no|off)$/i.test(v.trim());
  const errors: string[] = [];
  let refreshMs = 90_000;
  const r = felix.IPTABLESREFRESHINTERVAL?.trim();
  if (r !== undefined) {
    if (/^\d+(\.\d+)?$/.test(r)) refreshMs = Number(r) * 1000;
    else errors.push(`FELIX_IPTABLESREFRESHINTERVAL: "${r}" is not a number of seconds; using 90`);
  }
  return { enabled: !off(felix.POLICYENABLED), ipv6: !off(felix.IPV6SUPPORT), refreshMs, errors };
}

interface Parsed {
  obj: StoredObject;
  res?: Resource;
}

/** Builds the renderer's input from the cache; keeps parsed resources and endpoints between calls. */
export class PolicyView {
  private parsed = new Map<string, Parsed>();
  private eps = new Map<string, { res: Resource; labelsKey: string; ep: PolicyEndpoint | undefined }>();
  private pols = new Map<string, { res: Resource; p: PolicyInput }>();
  private profs = new Map<string, { res: Resource; p: ProfileInput }>();
  problems: string[] = [];
  /** Set by build(): a local HEP names no interface, so the host's addresses are needed
   *  (build again with them) to find it by its expectedIPs. */
  needsAddresses = false;

  private heps = new Map<string, { res: Resource; labelsKey: string; ep: PolicyEndpoint }>();

  constructor(
    private readonly hostname: string,
    private readonly felixEnv: Readonly<Record<string, string>> = {},
  ) {}

  private parse(id: string, obj: StoredObject): Resource | undefined {
    const old = this.parsed.get(id);
    if (old?.obj === obj) return old.res;
    let res: Resource | undefined;
    const what = `${obj.key.kind}(${obj.key.namespace ? `${obj.key.namespace}/` : ''}${obj.key.name})`;
    try {
      const r = validateV3(obj.value);
      if (r.ok) res = r.resource;
      else this.problems.push(`${what}: ${r.errors.map((e) => `${e.path}: ${e.message}`).join('; ')}`);
    } catch (e) {
      this.problems.push(`${what}: ${e instanceof Error ? e.message : String(e)}`);
    }
    this.parsed.set(id, { obj, ...(res ? { res } : {}) });
    return res;
  }

  build(objects: Iterable<StoredObject>, addrs?: readonly HostAddr[]): PolicyCalcInput {
    this.problems = [];
    const kinds = { wep: [] as [string, Resource][], pol: [] as [string, Resource][], prof: [] as [string, Resource][], hep: [] as [string, Resource][], fc: [] as [string, Resource][], node: [] as [string, Resource][] };
    const buckets: Record<string, [string, Resource][]> = {
      WorkloadEndpoint: kinds.wep,
      NetworkPolicy: kinds.pol,
      GlobalNetworkPolicy: kinds.pol,
      Profile: kinds.prof,
      HostEndpoint: kinds.hep,
      FelixConfiguration: kinds.fc,
      Node: kinds.node,
    };
    const seen = new Set<string>();
    for (const obj of objects) {
      const bucket = Object.hasOwn(buckets, obj.key.kind) ? buckets[obj.key.kind] : undefined;
      if (!bucket) continue;
      const id = objectId(obj.key);
      seen.add(id);
      const res = this.parse(id, obj);
      if (res) bucket.push([id, res]);
    }
    for (const k of this.parsed.keys()) if (!seen.has(k)) this.parsed.delete(k);

    const memo = <T>(m: Map<string, { res: Resource; p: T }>, list: [string, Resource][], f: (r: Resource) => T): T[] => {
      const next = new Map<string, { res: Resource; p: T }>();
      for (const [k, res] of list) {
        const old = m.get(k);
        next.set(k, old?.res === res ? old : { res, p: f(res) });
      }
      m.clear();
      for (const [k, v] of next) m.set(k, v);
      return [...next.values()].map((v) => v.p);
    };
    // Calico's projectcalico-default-allow exists without a resource (host endpoints list it).
    const profiles = withBuiltinProfiles(memo(this.profs, kinds.prof, profileInput));
    const policies = memo(this.pols, kinds.pol, policyInput);
    const byName = new Map(profiles.map((p) => [p.name, p]));

    const all: PolicyEndpoint[] = [];
    const local: PolicyEndpoint[] = [];
    const nextEps = new Map<string, { res: Resource; labelsKey: string; ep: PolicyEndpoint | undefined }>();
    for (const [k, res] of kinds.wep) {
      const profNames = (res.spec as { profiles?: string[] }).profiles ?? [];
      // An endpoint's labels change when a profile's labelsToApply (its namespace's labels) do.
      const labelsKey = JSON.stringify(profNames.map((n) => byName.get(n)?.spec.labelsToApply ?? null));
      const old = this.eps.get(k);
      const e = old && old.res === res && old.labelsKey === labelsKey ? old : { res, labelsKey, ep: policyEndpoint(res, byName) };
      nextEps.set(k, e);
      if (!e.ep) continue;
      all.push(e.ep);
      if (endpointNode(res) === this.hostname) local.push(e.ep);
    }
    this.eps = nextEps;

    // Host endpoints: every one's expectedIPs feed the selector ipsets; this node's are enforced.
    const localHeps: PolicyEndpoint[] = [];
    const nextHeps = new Map<string, { res: Resource; labelsKey: string; ep: PolicyEndpoint }>();
    for (const [k, res] of kinds.hep) {
      const spec = res.spec as HostEndpointSpec;
      const labelsKey = JSON.stringify((spec.profiles ?? []).map((n) => byName.get(n)?.spec.labelsToApply ?? null));
      const old = this.heps.get(k);
      const e = old && old.res === res && old.labelsKey === labelsKey ? old : { res, labelsKey, ep: hostPolicyEndpoint(res, byName) };
      nextHeps.set(k, e);
      all.push(e.ep);
      if (spec.node === this.hostname) localHeps.push(e.ep);
    }
    this.heps = nextHeps;
    this.needsAddresses = addrs === undefined && localHeps.some((h) => !h.iface);
    const picked = pickHostEndpoints(addrs ? resolveHostInterfaces(localHeps, addrs) : localHeps);
    for (const h of picked.shadowed) this.problems.push(`host endpoint ${h.key.slice(4)}: interface ${h.iface} already has a host endpoint; not enforced`);
    for (const h of picked.unenforced) this.problems.push(`host endpoint ${h.key.slice(4)}: ${h.iface ? `interface ${h.iface} is a workload interface` : 'no interfaceName, and none of its expectedIPs is on an interface without a named host endpoint'}; not enforced`);
    this.problems.push(...unsupportedHostPolicies(policies, picked.chosen));
    const configs = kinds.fc.map(([, r]) => ({ name: r.metadata.name, spec: r.spec as FelixConfigurationSpec }));
    const failsafe = failsafePorts(this.felixEnv, configs, this.hostname);
    this.problems.push(...failsafe.errors);
    const hostAddresses = kinds.node.flatMap(([, r]) => {
      const spec = r.spec as NodeSpec;
      return [spec.bgp?.ipv4Address, spec.bgp?.ipv6Address, ...(spec.addresses ?? []).map((a) => a.address)].filter((a): a is string => !!a);
    });
    return { hostname: this.hostname, localEndpoints: local, allEndpoints: all, policies, profiles, localHostEndpoints: picked.chosen, failsafe: failsafe.ports, hostAddresses };
  }
}

export interface PolicyRoundReport {
  v4?: PolicyApplyReport;
  v6?: PolicyApplyReport;
  errors: string[];
  problems: string[];
}

/** One per agent: view → calculator → drivers. Families fail independently. */
export class NodePolicy {
  private readonly view: PolicyView;
  private readonly calc = new PolicyCalculator();
  private readonly drivers: PolicyDriver[];
  private readonly addresses: () => Promise<HostAddr[]>;
  private timer?: NodeJS.Timeout;

  /** onRefreshDue: every refreshMs the kernel is re-read on the next apply (someone may have
   *  edited our chains); the callback asks the agent for that apply. */
  constructor(hostname: string, opts: { ipv6: boolean; netns?: string; refreshMs?: number; onRefreshDue?: () => void; felix?: Readonly<Record<string, string>> }) {
    this.view = new PolicyView(hostname, opts.felix);
    const ns = opts.netns ? { netns: opts.netns } : {};
    this.drivers = [new PolicyDriver({ family: 4, ...ns }), ...(opts.ipv6 ? [new PolicyDriver({ family: 6, ...ns })] : [])];
    const netns = opts.netns;
    this.addresses = netns
      ? async () => parseIpAddrJson(await tool('ip', ['netns', 'exec', netns, 'ip', '-j', 'addr', 'show']))
      : hostAddresses;
    if (opts.refreshMs && opts.onRefreshDue) {
      const due = opts.onRefreshDue;
      this.timer = setInterval(() => {
        for (const d of this.drivers) d.invalidate();
        due();
      }, opts.refreshMs);
      this.timer.unref();
    }
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    for (const d of this.drivers) d.close();
  }

  async apply(objects: Iterable<StoredObject>): Promise<PolicyRoundReport> {
    // Built twice when host addresses are needed: the iterable must be read twice.
    const cache = [...objects];
    let input = this.view.build(cache);
    const errors: string[] = [];
    if (this.view.needsAddresses) {
      // Read each round while such a HEP exists: an address may move to another interface.
      const addrs = await this.addresses().catch((e: unknown) => {
        errors.push(`host addresses (for host endpoints without interfaceName): ${e instanceof Error ? e.message : String(e)}`);
        return undefined;
      });
      if (addrs) input = this.view.build(cache, addrs);
    }
    const st = this.calc.update(input);
    const rep: PolicyRoundReport = { errors, problems: [...this.view.problems] };
    // Both families at once: a dual-stack pod waits for the slower restore, not for their sum.
    const results = await Promise.allSettled(this.drivers.map((d) => d.apply(d.family === 4 ? st.v4 : st.v6)));
    results.forEach((r, i) => {
      const family = this.drivers[i]?.family;
      if (r.status === 'rejected') rep.errors.push(`policy v${family}: ${r.reason instanceof Error ? r.reason.message : String(r.reason)}`);
      else if (family === 4) rep.v4 = r.value;
      else rep.v6 = r.value;
    });
    return rep;
  }
}
