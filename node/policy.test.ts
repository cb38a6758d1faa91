import { describe, expect, it } from 'vitest';
import { namespaceToProfile } from '../datastore/model/k8s.js';
import { DEFAULT_FAILSAFE } from '../felix/policy/host.js';
import type { StoredObject } from '../datastore/store.js';
import type { HostAddr } from './autodetect.js';
import { failsafePorts, POLICY_KINDS, PolicyView, policySettings } from './policy.js';

// The cases are written as Calico's etcd keys and JSON (as `calicoctl get -o json` shows them);
// asObjects turns them into the stored objects a syncer delivers, the same object while the text
// is the same (as the syncer keeps it until it changes).
const R = '/calico/resources/v3/projectcalico.org/';
const KINDS: Record<string, string> = { workloadendpoints: 'WorkloadEndpoint', networkpolicies: 'NetworkPolicy', globalnetworkpolicies: 'GlobalNetworkPolicy', profiles: 'Profile', hostendpoints: 'HostEndpoint', felixconfigurations: 'FelixConfiguration', nodes: 'Node', ippools: 'IPPool' };
const NAMESPACED = new Set(['workloadendpoints', 'networkpolicies']);
const decoded = new Map<string, { text: string; obj: StoredObject }>();
function asObjects(cache: ReadonlyMap<string, string>): StoredObject[] {
  return [...cache].map(([key, text]) => {
    const old = decoded.get(key);
    if (old?.text === text) return old.obj;
    const [plural = '', ...rest] = key.slice(R.length).split('/');
    const kind = KINDS[plural] ?? plural;
    const [namespace, name] = NAMESPACED.has(plural) ? [rest[0], rest[1] ?? ''] : [undefined, rest[0] ?? ''];
    let parsed: { metadata?: object; spec?: unknown } | undefined;
    try {
      parsed = JSON.parse(text) as typeof parsed;
    } catch {
      parsed = undefined;
    }
    const metadata = { ...(parsed?.metadata ?? {}), name, ...(namespace ? { namespace } : {}) };
    const obj: StoredObject = { key: { kind, name, ...(namespace ? { namespace } : {}) }, value: { ...(parsed ?? {}), apiVersion: 'projectcalico.org/v3', kind, metadata, spec: parsed ? (parsed.spec ?? {}) : text }, revision: String(decoded.size + 1) };
    decoded.set(key, { text, obj });
    return obj;
  });
}
const build = (v: PolicyView, cache: ReadonlyMap<string, string>, addrs?: readonly HostAddr[]): ReturnType<PolicyView['build']> => v.build(asObjects(cache), addrs);
const wep = (node: string, ns: string, pod: string, ip: string, labels: Record<string, string> = {}): [string, string] => [
  `${R}workloadendpoints/${ns}/${node}-k8s-${pod}-eth0`,
  JSON.stringify({
    apiVersion: 'projectcalico.org/v3',
    kind: 'WorkloadEndpoint',
    metadata: { name: `${node}-k8s-${pod}-eth0`, namespace: ns, labels: { 'projectcalico.org/namespace': ns, 'projectcalico.org/orchestrator': 'k8s', ...labels } },
    spec: { orchestrator: 'k8s', node, pod, endpoint: 'eth0', interfaceName: `cali${pod}`, ipNetworks: [`${ip}/32`], profiles: [`kns.${ns}`] },
  }),
];
const prof = (ns: string, labels: Record<string, string>): [string, string] => [`${R}profiles/kns.${ns}`, JSON.stringify(namespaceToProfile(ns, labels))];
const np = (ns: string, name: string): [string, string] => [
  `${R}networkpolicies/${ns}/${name}`,
  JSON.stringify({ apiVersion: 'projectcalico.org/v3', kind: 'NetworkPolicy', metadata: { name, namespace: ns }, spec: { selector: 'all()', ingress: [{ action: 'Allow' }] } }),
];

describe('PolicyView', () => {
  it('merges namespace labels (pcns.) under the endpoint labels, splits local from all, fills defaults', () => {
    const cache = new Map([wep('n1', 'prod', 'a', '10.65.1.2', { role: 'db' }), wep('n2', 'prod', 'b', '10.65.2.2'), prof('prod', { project: 'myproject' }), np('prod', 'p1'), [`${R}ippools/x`, '{}'] as [string, string]]);
    const v = new PolicyView('n1');
    const input = build(v, cache);
    expect(input.localEndpoints.map((e) => e.key)).toEqual(['prod/n1-k8s-a-eth0']);
    expect(input.allEndpoints).toHaveLength(2);
    expect(input.localEndpoints[0]?.labels).toMatchObject({ role: 'db', 'pcns.project': 'myproject', 'pcns.projectcalico.org/name': 'prod' });
    expect(input.policies[0]).toMatchObject({ name: 'p1', namespace: 'prod' });
    expect(input.policies[0]?.spec.types).toEqual(['Ingress']);
    // Calico's built-in projectcalico-default-allow is always there (host endpoints list it).
    expect(input.profiles.map((p) => p.name)).toEqual(['kns.prod', 'projectcalico-default-allow']);
  });

  it('returns the same objects for unchanged resources and new ones when a namespace label changes', () => {
    const cache = new Map([wep('n1', 'prod', 'a', '10.65.1.2'), wep('n1', 'dev', 'c', '10.65.1.3'), prof('prod', { a: '1' }), prof('dev', {}), np('prod', 'p1')]);
    const v = new PolicyView('n1');
    const first = build(v, cache);
    const again = build(v, cache);
    expect(again.localEndpoints[0]).toBe(first.localEndpoints[0]);
    expect(again.policies[0]).toBe(first.policies[0]);
    cache.set(...prof('prod', { a: '2' }));
    const third = build(v, cache);
    const prodEp = (i: typeof first): unknown => i.localEndpoints.find((e) => e.namespace === 'prod');
    const devEp = (i: typeof first): unknown => i.localEndpoints.find((e) => e.namespace === 'dev');
    expect(prodEp(third)).not.toBe(prodEp(first));
    expect(devEp(third)).toBe(devEp(first));
    expect((prodEp(third) as { labels: Record<string, string> }).labels['pcns.a']).toBe('2');
  });

  it('skips and reports a malformed resource once, never throws', () => {
    const cache = new Map([wep('n1', 'prod', 'a', '10.65.1.2'), [`${R}networkpolicies/prod/bad`, '{"apiVersion":"projectcalico.org/v3","kind":"NetworkPolicy","metadata":{"name":"bad","namespace":"prod"},"spec":{"order":"x"}}'] as [string, string], [`${R}profiles/junk`, 'not json'] as [string, string]]);
    const v = new PolicyView('n1');
    const input = build(v, cache);
    expect(input.policies).toEqual([]);
    expect(v.problems.join('\n')).toMatch(/NetworkPolicy\(prod\/bad\): spec.order/);
    expect(v.problems.join('\n')).toMatch(/Profile\(junk\): /);
    build(v, cache);
    expect(v.problems).toEqual([]);
  });
});

describe('policy settings', () => {
  it('is on by default; FELIX_POLICYENABLED=false and FELIX_IPV6SUPPORT=false turn parts off', () => {
    expect(policySettings({})).toEqual({ enabled: true, ipv6: true, refreshMs: 90_000, errors: [] });
    expect(policySettings({ POLICYENABLED: 'false', IPV6SUPPORT: 'False', IPTABLESREFRESHINTERVAL: '10' })).toEqual({ enabled: false, ipv6: false, refreshMs: 10_000, errors: [] });
    expect(policySettings({ IPTABLESREFRESHINTERVAL: 'soon' }).errors).toEqual(['FELIX_IPTABLESREFRESHINTERVAL: "soon" is not a number of seconds; using 90']);
    expect(POLICY_KINDS).toContain('GlobalNetworkPolicy');
  });
});

describe('host endpoints in the view', () => {
  const hep = (name: string, node: string, spec: Record<string, unknown>, labels: Record<string, string> = {}): [string, string] => [
    `${R}hostendpoints/${name}`,
    JSON.stringify({ apiVersion: 'projectcalico.org/v3', kind: 'HostEndpoint', metadata: { name, labels }, spec: { node, ...spec } }),
  ];
  const fc = (name: string, spec: Record<string, unknown>): [string, string] => [`${R}felixconfigurations/${name}`, JSON.stringify({ apiVersion: 'projectcalico.org/v3', kind: 'FelixConfiguration', metadata: { name }, spec })];

  it("enforces this node's HEPs, puts every HEP's expectedIPs in allEndpoints, reports what it cannot enforce", () => {
    const pre = [`${R}globalnetworkpolicies/pre`, JSON.stringify({ apiVersion: 'projectcalico.org/v3', kind: 'GlobalNetworkPolicy', metadata: { name: 'pre' }, spec: { selector: "role == 'node'", preDNAT: true, applyOnForward: true, ingress: [{ action: 'Deny' }] } })] as [string, string];
    const cache = new Map([
      hep('n1-eth0', 'n1', { interfaceName: 'eth0', expectedIPs: ['10.0.0.11'], profiles: ['projectcalico-default-allow'] }, { role: 'node' }),
      hep('n1-eth0-again', 'n1', { interfaceName: 'eth0' }),
      hep('n1-byip', 'n1', { expectedIPs: ['10.0.0.11'] }),
      hep('n2-eth0', 'n2', { interfaceName: 'eth0', expectedIPs: ['10.0.0.12'] }, { role: 'node' }),
      pre,
    ]);
    const v = new PolicyView('n1');
    const input = build(v, cache);
    expect(input.localHostEndpoints?.map((h) => h.key)).toEqual(['hep:n1-eth0']);
    expect(input.allEndpoints.map((e) => e.key).sort()).toEqual(['hep:n1-byip', 'hep:n1-eth0', 'hep:n1-eth0-again', 'hep:n2-eth0']);
    expect(input.allEndpoints.find((e) => e.key === 'hep:n2-eth0')?.ipNetworks).toEqual(['10.0.0.12/32']);
    expect(input.profiles.map((p) => p.name)).toContain('projectcalico-default-allow');
    expect(v.needsAddresses).toBe(true);
    expect(v.problems).toEqual([
      'host endpoint n1-eth0-again: interface eth0 already has a host endpoint; not enforced',
      'host endpoint n1-byip: no interfaceName, and none of its expectedIPs is on an interface without a named host endpoint; not enforced',
      'GlobalNetworkPolicy pre: preDNAT policy is not supported (not enforced) — selects host endpoint(s) n1-eth0',
    ]);
    expect(input.failsafe?.inbound).toHaveLength(9);
    expect(input.hostAddresses).toEqual([]);
    // Unchanged resources give the same endpoint objects (the renderer's incremental path).
    expect(build(v, cache).localHostEndpoints?.[0]).toBe(input.localHostEndpoints?.[0]);
    // With the host's addresses: 10.0.0.11 is on eth0, which n1-eth0 names — the named HEP wins.
    const withAddrs = build(v, cache, [{ iface: 'eth0', cidr: '10.0.0.11/24', family: 4 }]);
    expect(v.needsAddresses).toBe(false);
    expect(withAddrs.localHostEndpoints?.map((h) => h.key)).toEqual(['hep:n1-eth0']);
    expect(v.problems[1]).toMatch(/^host endpoint n1-byip: no interfaceName/);
    cache.delete(`${R}hostendpoints/n1-eth0`);
    cache.delete(`${R}hostendpoints/n1-eth0-again`);
    const byIp = build(v, cache, [{ iface: 'lo', cidr: '127.0.0.1/8', family: 4 }, { iface: 'eth1', cidr: '10.0.0.11/24', family: 4 }]);
    expect(byIp.localHostEndpoints?.map((h) => [h.key, h.iface])).toEqual([['hep:n1-byip', 'eth1']]);
    // Nodes' addresses: where encapsulated traffic may come from.
    cache.set(`${R}nodes/n2`, JSON.stringify({ apiVersion: 'projectcalico.org/v3', kind: 'Node', metadata: { name: 'n2' }, spec: { bgp: { ipv4Address: '10.0.0.12/24', ipv6Address: 'fd00::12/64' }, addresses: [{ address: '192.0.2.12', type: 'ExternalIP' }] } }));
    expect(build(v, cache).hostAddresses).toEqual(['10.0.0.12/24', 'fd00::12/64', '192.0.2.12']);
  });

  it('failsafe ports: FELIX_ env over FelixConfiguration node.<name> over default over the built-in list', () => {
    const defaults = fc('default', { failsafeInboundHostPorts: [{ protocol: 'TCP', port: 22 }], failsafeOutboundHostPorts: [] });
    const node = fc('node.n1', { failsafeInboundHostPorts: [{ protocol: 'UDP', port: 500 }] });
    expect(failsafePorts({}, [], 'n1').ports).toEqual(DEFAULT_FAILSAFE);
    const cfgs = [defaults, node].map(([, t]) => JSON.parse(t) as { metadata: { name: string }; spec: Record<string, unknown> }).map((r) => ({ name: r.metadata.name, spec: r.spec }));
    expect(failsafePorts({}, cfgs, 'n1').ports).toEqual({ inbound: [{ protocol: 'udp', port: 500 }], outbound: [] });
    expect(failsafePorts({}, cfgs, 'n2').ports).toEqual({ inbound: [{ protocol: 'tcp', port: 22 }], outbound: [] });
    expect(failsafePorts({ FAILSAFEINBOUNDHOSTPORTS: 'none', FAILSAFEOUTBOUNDHOSTPORTS: 'udp:53,bad' }, cfgs, 'n1')).toEqual({
      ports: { inbound: [], outbound: [{ protocol: 'udp', port: 53 }] },
      errors: ['FELIX_FAILSAFEOUTBOUNDHOSTPORTS: "bad" is not [tcp|udp|sctp:][cidr:]port'],
    });
    const v = new PolicyView('n1', { FAILSAFEINBOUNDHOSTPORTS: 'tcp:2222' });
    expect(build(v, new Map([defaults, node])).failsafe).toEqual({ inbound: [{ protocol: 'tcp', port: 2222 }], outbound: [] });
  });
});
