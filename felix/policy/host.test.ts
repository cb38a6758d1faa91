// Host endpoints in the pure renderer: Calico's chain layout (cali-INPUT / cali-OUTPUT, the
// from/to-host-endpoint dispatch, cali-fh- / cali-th- / cali-fhfw- / cali-thfw-), default deny
// with failsafe ports, the all-interfaces form, applyOnForward, profiles, expectedIPs in selector
// ipsets, and workloads untouched.
import { describe, expect, it } from 'vitest';
import { validateState } from '../dataplane/policy-plan.js';
import { hostPolicyEndpoint, resolveHostInterfaces, parseFailsafeEnv, failsafeFromConfig, pickHostEndpoints, unsupportedHostPolicies, withBuiltinProfiles, DEFAULT_FAILSAFE } from './host.js';
import { computePolicyState, PolicyCalculator } from './index.js';
import { policyChainName, profileChainName } from './names.js';
import { calcInput, globalPolicy, namespaceProfile, networkPolicy, pod, resource } from './testing/fixtures.js';
import type { PolicyCalcInput, PolicyDataplaneState, PolicyEndpoint, PolicyInput, ProfileInput } from './types.js';

const prod = namespaceProfile('prod');
const web = pod('prod', 'web', { labels: { app: 'web' }, ips: ['10.65.0.2/32'] }, [prod]);

function hep(name: string, spec: Record<string, unknown>, labels: Record<string, string> = {}, profiles: ProfileInput[] = []): PolicyEndpoint {
  const r = resource({ apiVersion: 'projectcalico.org/v3', kind: 'HostEndpoint', metadata: { name, labels }, spec: { node: 'node-a', ...spec } });
  return hostPolicyEndpoint(r, new Map(profiles.map((p) => [p.name, p])));
}

const eth0 = hep('node-a-eth0', { interfaceName: 'eth0', expectedIPs: ['10.0.0.11'] }, { role: 'k8s-node', 'host-endpoint': 'eth0' });

function input(heps: PolicyEndpoint[], policies: PolicyInput[] = [], extra: Partial<PolicyCalcInput> = {}, profiles: ProfileInput[] = [prod]): PolicyCalcInput {
  return { ...calcInput([web, ...heps], policies, profiles, [web]), localHostEndpoints: heps, ...extra };
}
const v4 = (i: PolicyCalcInput): PolicyDataplaneState => computePolicyState(i).v4;
const rules = (s: PolicyDataplaneState, chain: string): string[] => {
  const c = s.chains.get(chain);
  if (!c) throw new Error(`no chain ${chain}; have ${[...s.chains.keys()].join(', ')}`);
  return c.rules;
};

const CT = ['-m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT', '-m conntrack --ctstate INVALID -j DROP'];
const CLEAR = '-j MARK --set-xmark 0x0/0x30000';
const allow8080 = globalPolicy('allow-8080', { selector: "role == 'k8s-node'", ingress: [{ action: 'Allow', protocol: 'TCP', destination: { ports: [8080] } }] });

describe('no host endpoint', () => {
  it('leaves the state exactly as before: FORWARD hook only, no INPUT/OUTPUT chains', () => {
    const s = v4(input([]));
    expect(s.hooks).toEqual([{ builtin: 'FORWARD', rule: '-j cali-FORWARD' }]);
    expect([...s.chains.keys()].filter((n) => /INPUT|OUTPUT|host|hep|failsafe|-fh|-th/.test(n))).toEqual([]);
    expect(rules(s, 'cali-FORWARD').join('\n')).not.toMatch(/hep/);
    // A HEP with expectedIPs on another node only feeds ipsets; it hooks nothing here.
    expect(v4({ ...calcInput([web, eth0], [], [prod], [web]) }).hooks).toHaveLength(1);
  });
});

describe('a named host endpoint', () => {
  const s = v4(input([eth0]));

  it('hooks INPUT and OUTPUT to cali-INPUT / cali-OUTPUT beside FORWARD', () => {
    expect(s.hooks).toEqual([
      { builtin: 'FORWARD', rule: '-j cali-FORWARD' },
      { builtin: 'INPUT', rule: '-j cali-INPUT' },
      { builtin: 'OUTPUT', rule: '-j cali-OUTPUT' },
    ]);
  });

  it('cali-INPUT / cali-OUTPUT: workloads and loopback return, encapsulation from / to nodes passes, dispatch, accept on the mark', () => {
    const hosts = (d: string) => `-m set --match-set cali40h:all-hosts ${d}`;
    expect(rules(s, 'cali-INPUT')).toEqual(['-i cali+ -j RETURN', '-i lo -j RETURN', `-p 4 ${hosts('src')} -j ACCEPT`, `-p udp ${hosts('src')} -m udp --dport 4789 -j ACCEPT`, CLEAR, '-j cali-from-host-endpoint', '-m mark --mark 0x10000/0x10000 -j ACCEPT']);
    expect(rules(s, 'cali-OUTPUT')).toEqual(['-o cali+ -j RETURN', '-o lo -j RETURN', `-p 4 ${hosts('dst')} -j ACCEPT`, `-p udp ${hosts('dst')} -m udp --dport 4789 -j ACCEPT`, CLEAR, '-j cali-to-host-endpoint', '-m mark --mark 0x10000/0x10000 -j ACCEPT']);
    // IPv6: neighbour discovery and MLD pass instead of IP-in-IP.
    const v6 = computePolicyState(input([eth0])).v6;
    expect(rules(v6, 'cali-INPUT').slice(2, 10)).toEqual([...[130, 131, 132, 133, 134, 135, 136].map((t) => `-p ipv6-icmp -m icmp6 --icmpv6-type ${t} -j ACCEPT`), '-p udp -m set --match-set cali60h:all-hosts src -m udp --dport 4789 -j ACCEPT']);
  });

  it("the all-hosts sets hold every node's addresses of their family (empty without any)", () => {
    expect(s.ipsets.get('cali40h:all-hosts')?.members).toEqual([]);
    const st = computePolicyState(input([eth0], [], { hostAddresses: ['10.0.0.12/24', '10.0.0.11', 'fd00::11/64', '10.0.0.11/24'] }));
    expect(st.v4.ipsets.get('cali40h:all-hosts')).toEqual({ name: 'cali40h:all-hosts', type: 'hash:net', family: 'inet', members: ['10.0.0.11/32', '10.0.0.12/32'] });
    expect(st.v6.ipsets.get('cali60h:all-hosts')?.members).toEqual(['fd00::11/128']);
    expect([...st.v4.ipsets.keys()]).toEqual([...st.v4.ipsets.keys()].sort());
    expect(computePolicyState(input([], [], { hostAddresses: ['10.0.0.11'] })).v4.ipsets.has('cali40h:all-hosts')).toBe(false);
  });

  it('dispatches by interface; other interfaces fall through untouched', () => {
    expect(rules(s, 'cali-from-host-endpoint')).toEqual(['-i eth0 -g cali-fh-eth0']);
    expect(rules(s, 'cali-to-host-endpoint')).toEqual(['-o eth0 -g cali-th-eth0']);
    expect(rules(s, 'cali-from-hep-forward')).toEqual(['-i eth0 -g cali-fhfw-eth0']);
    expect(rules(s, 'cali-to-hep-forward')).toEqual(['-o eth0 -g cali-thfw-eth0']);
  });

  it('with no policy: conntrack, failsafe, then DROP both ways (Calico default deny)', () => {
    expect(rules(s, 'cali-fh-eth0')).toEqual([...CT, CLEAR, '-j cali-failsafe-in', '-j DROP']);
    expect(rules(s, 'cali-th-eth0')).toEqual([...CT, CLEAR, '-j cali-failsafe-out', '-j DROP']);
  });

  it("failsafe chains hold Calico's default ports", () => {
    expect(rules(s, 'cali-failsafe-in')).toEqual(['tcp 22', 'udp 68', 'tcp 179', 'tcp 2379', 'tcp 2380', 'tcp 5473', 'tcp 6443', 'tcp 6666', 'tcp 6667'].map((x) => x.split(' ')).map(([p, n]) => `-p ${p} -m ${p} --dport ${n} -j ACCEPT`));
    expect(rules(s, 'cali-failsafe-out')).toEqual(['udp 53', 'udp 67', 'tcp 179', 'tcp 2379', 'tcp 2380', 'tcp 5473', 'tcp 6443', 'tcp 6666', 'tcp 6667'].map((x) => x.split(' ')).map(([p, n]) => `-p ${p} -m ${p} --dport ${n} -j ACCEPT`));
  });

  it('forwarded traffic has no verdict without applyOnForward policy; cali-FORWARD wraps the workload dispatch', () => {
    expect(rules(s, 'cali-fhfw-eth0')).toEqual([]);
    expect(rules(s, 'cali-thfw-eth0')).toEqual([]);
    expect(rules(s, 'cali-FORWARD')).toEqual([...CT, CLEAR, '-j cali-from-hep-forward', '-i cali+ -j cali-from-wl-dispatch', '-o cali+ -j cali-to-wl-dispatch', '-j cali-to-hep-forward', '-m mark --mark 0x10000/0x10000 -j ACCEPT']);
  });

  it('leaves the workload chains exactly as without the HEP', () => {
    const without = v4(input([]));
    for (const [name, c] of without.chains) if (name !== 'cali-FORWARD') expect(rules(s, name)).toEqual(c.rules);
  });

  it('is a valid state for the driver: every jump and set defined, names ≤ 28', () => {
    expect(validateState(s)).toEqual([]);
    expect(validateState(computePolicyState(input([eth0], [allow8080])).v6)).toEqual([]);
  });
});

describe('policy on a host endpoint', () => {
  it('a GlobalNetworkPolicy selecting its labels applies in the directions it has', () => {
    const s = v4(input([eth0], [allow8080]));
    const pi = policyChainName(allow8080, 'ingress');
    expect(rules(s, 'cali-fh-eth0')).toEqual([...CT, CLEAR, '-j cali-failsafe-in', `-m mark --mark 0x0/0x20000 -j ${pi}`, '-m mark --mark 0x10000/0x10000 -j RETURN', '-m mark --mark 0x0/0x20000 -j DROP', '-j DROP']);
    expect(rules(s, pi)).toEqual(['-p tcp -m multiport --dports 8080 -j MARK --set-xmark 0x10000/0x10000', '-m mark --mark 0x10000/0x10000 -j RETURN']);
    // Ingress only: egress stays default deny.
    expect(rules(s, 'cali-th-eth0')).toEqual([...CT, CLEAR, '-j cali-failsafe-out', '-j DROP']);
    // Not applyOnForward: forwarded traffic untouched; the pod does not match the selector.
    expect(rules(s, 'cali-fhfw-eth0')).toEqual([]);
    expect(rules(s, `cali-tw-${web.iface}`).join('\n')).not.toContain(pi);
  });

  it('a namespaced NetworkPolicy never applies to a host endpoint; all() GNPs apply to HEPs and pods', () => {
    const np = networkPolicy('prod', 'all', { selector: 'all()', ingress: [{ action: 'Allow' }] });
    const g = globalPolicy('everything', { selector: 'all()', egress: [{ action: 'Allow' }] });
    const s = v4(input([eth0], [np, g]));
    expect(rules(s, 'cali-fh-eth0').join('\n')).not.toContain(policyChainName(np, 'ingress'));
    expect(rules(s, 'cali-th-eth0')).toContain(`-m mark --mark 0x0/0x20000 -j ${policyChainName(g, 'egress')}`);
    expect(rules(s, `cali-fw-${web.iface}`)).toContain(`-m mark --mark 0x0/0x20000 -j ${policyChainName(g, 'egress')}`);
  });

  it('applyOnForward policies also fill the forward chains; an ingress one leaves egress forwarding open', () => {
    const fwd = globalPolicy('fwd', { selector: "host-endpoint == 'eth0'", applyOnForward: true, ingress: [{ action: 'Deny', source: { nets: ['192.0.2.0/24'] } }, { action: 'Allow' }] });
    const s = v4(input([eth0], [fwd]));
    const pi = policyChainName(fwd, 'ingress');
    expect(rules(s, 'cali-fhfw-eth0')).toEqual([CLEAR, `-m mark --mark 0x0/0x20000 -j ${pi}`, '-m mark --mark 0x10000/0x10000 -j RETURN', '-m mark --mark 0x0/0x20000 -j DROP']);
    expect(rules(s, 'cali-thfw-eth0')).toEqual([]);
    expect(rules(s, 'cali-fh-eth0')).toContain(`-m mark --mark 0x0/0x20000 -j ${pi}`);
  });

  it('profiles apply after policies; projectcalico-default-allow is built in (allow-all without policy)', () => {
    const h = hep('h', { interfaceName: 'eth1', profiles: ['projectcalico-default-allow'] });
    const s = v4(input([h], [], {}, withBuiltinProfiles([prod])));
    const pri = profileChainName('projectcalico-default-allow', 'ingress');
    expect(rules(s, 'cali-fh-eth1')).toEqual([...CT, CLEAR, '-j cali-failsafe-in', `-j ${pri}`, '-m mark --mark 0x10000/0x10000 -j RETURN', '-j DROP']);
    expect(rules(s, pri)).toEqual(['-j MARK --set-xmark 0x10000/0x10000', '-m mark --mark 0x10000/0x10000 -j RETURN']);
    expect(rules(s, 'cali-th-eth1')).toContain(`-j ${profileChainName('projectcalico-default-allow', 'egress')}`);
    // Profiles do not reach forwarded traffic.
    expect(rules(s, 'cali-fhfw-eth1')).toEqual([]);
    // A profile's labelsToApply become the HEP's labels (its own win).
    const lp = { name: 'edge', spec: { labelsToApply: { zone: 'edge', role: 'p' } } } as ProfileInput;
    expect(hep('x', { interfaceName: 'eth2', profiles: ['edge'] }, { role: 'own' }, [lp]).labels).toEqual({ zone: 'edge', role: 'own' });
  });

  it("expectedIPs are the HEP's addresses in selector ipsets, for local and remote HEPs", () => {
    const remote = hep('node-b-eth0', { node: 'node-b', interfaceName: 'eth0', expectedIPs: ['10.0.0.12', 'fd00::12'] }, { role: 'k8s-node' });
    const fromNodes = networkPolicy('prod', 'from-nodes', { selector: "app == 'web'", ingress: [{ action: 'Allow', source: { selector: "role == 'k8s-node'" } }] });
    const st = computePolicyState({ ...calcInput([web, eth0, remote], [fromNodes], [prod], [web]), localHostEndpoints: [eth0] });
    // A namespaced policy's rule selector is scoped to its namespace: HEPs have none.
    const scoped = [...st.v4.ipsets.values()].filter((x) => x.name.startsWith('cali40s:'));
    expect(scoped.flatMap((x) => x.members)).toEqual([]);
    const g = globalPolicy('g-from-nodes', { selector: "app == 'web'", ingress: [{ action: 'Allow', source: { selector: "role == 'k8s-node'" } }] });
    const st2 = computePolicyState({ ...calcInput([web, eth0, remote], [g], [prod], [web]), localHostEndpoints: [eth0] });
    const sets = (st: PolicyDataplaneState): string[][] => [...st.ipsets.values()].filter((x) => x.name.startsWith(`cali${st.family}0s:`)).map((x) => x.members);
    expect(sets(st2.v4)).toEqual([['10.0.0.11/32', '10.0.0.12/32']]);
    expect(sets(st2.v6)).toEqual([['fd00::12/128']]);
  });
});

describe('the all-interfaces host endpoint', () => {
  const star = hep('node-a-all', { interfaceName: '*' }, { role: 'k8s-node' });
  const fwd = globalPolicy('fwd', { selector: "role == 'k8s-node'", applyOnForward: true, ingress: [{ action: 'Allow' }] });
  const s = v4(input([star, eth0], [fwd]));

  it('is the fallback after the named ones, for INPUT/OUTPUT only', () => {
    expect(rules(s, 'cali-from-host-endpoint')).toEqual(['-i eth0 -g cali-fh-eth0', '-g cali-fh-any-interface-at-all']);
    expect(rules(s, 'cali-to-host-endpoint')).toEqual(['-o eth0 -g cali-th-eth0', '-g cali-th-any-interface-at-all']);
    expect(rules(s, 'cali-from-hep-forward')).toEqual(['-i eth0 -g cali-fhfw-eth0']);
    expect([...s.chains.keys()].filter((n) => n.includes('any-interface'))).toEqual(['cali-fh-any-interface-at-all', 'cali-th-any-interface-at-all']);
  });

  it('gets normal policy and the failsafe ports like a named one', () => {
    const pi = policyChainName(fwd, 'ingress');
    expect(rules(s, 'cali-fh-any-interface-at-all')).toEqual([...CT, CLEAR, '-j cali-failsafe-in', `-m mark --mark 0x0/0x20000 -j ${pi}`, '-m mark --mark 0x10000/0x10000 -j RETURN', '-m mark --mark 0x0/0x20000 -j DROP', '-j DROP']);
    expect(rules(s, 'cali-th-any-interface-at-all')).toEqual([...CT, CLEAR, '-j cali-failsafe-out', '-j DROP']);
    expect(validateState(s)).toEqual([]);
  });
});

describe('failsafe ports', () => {
  it('parses FELIX_FAILSAFE*HOSTPORTS as Calico spells it', () => {
    expect(parseFailsafeEnv('X', 'none')).toEqual({ ports: [], errors: [] });
    expect(parseFailsafeEnv('X', 'tcp:22, udp:68,179,tcp:10.0.0.0/8:6443,tcp:[fd00::/64]:22')).toEqual({
      ports: [
        { protocol: 'tcp', port: 22 },
        { protocol: 'udp', port: 68 },
        { protocol: 'tcp', port: 179 },
        { protocol: 'tcp', port: 6443, net: '10.0.0.0/8' },
        { protocol: 'tcp', port: 22, net: 'fd00::/64' },
      ],
      errors: [],
    });
    expect(parseFailsafeEnv('FELIX_FAILSAFEINBOUNDHOSTPORTS', 'icmp:1,tcp:99999,22').errors).toEqual([
      'FELIX_FAILSAFEINBOUNDHOSTPORTS: "icmp:1" is not [tcp|udp|sctp:][cidr:]port',
      'FELIX_FAILSAFEINBOUNDHOSTPORTS: "tcp:99999" is not [tcp|udp|sctp:][cidr:]port',
    ]);
    expect(failsafeFromConfig('spec.failsafeInboundHostPorts', [{ protocol: 'TCP', port: 22 }, { protocol: 'ICMP', port: 1 }, { port: 80, net: '10.1.0.0/16' }])).toEqual({
      ports: [
        { protocol: 'tcp', port: 22 },
        { protocol: 'tcp', port: 80, net: '10.1.0.0/16' },
      ],
      errors: ['spec.failsafeInboundHostPorts[1].protocol: "ICMP" is not TCP, UDP or SCTP'],
    });
  });

  it('renders configured ports with their CIDR in the matching family only; none = empty chains', () => {
    const failsafe = { inbound: [{ protocol: 'tcp' as const, port: 22, net: '10.9.0.0/16' }, { protocol: 'tcp' as const, port: 22, net: 'fd09::/64' }], outbound: [] };
    const st = computePolicyState(input([eth0], [], { failsafe }));
    expect(rules(st.v4, 'cali-failsafe-in')).toEqual(['-s 10.9.0.0/16 -p tcp -m tcp --dport 22 -j ACCEPT']);
    expect(rules(st.v6, 'cali-failsafe-in')).toEqual(['-s fd09::/64 -p tcp -m tcp --dport 22 -j ACCEPT']);
    expect(rules(st.v4, 'cali-failsafe-out')).toEqual([]);
    expect(DEFAULT_FAILSAFE.inbound).toHaveLength(9);
  });
});

describe('what is not enforced, and said so', () => {
  it('reports preDNAT / doNotTrack policies selecting a local HEP, and renders neither', () => {
    const pre = globalPolicy('pre', { selector: "role == 'k8s-node'", preDNAT: true, applyOnForward: true, ingress: [{ action: 'Deny' }] });
    const raw = globalPolicy('raw', { selector: "role == 'other'", doNotTrack: true, applyOnForward: true, ingress: [{ action: 'Deny' }] });
    expect(unsupportedHostPolicies([pre, raw, allow8080], [eth0])).toEqual(['GlobalNetworkPolicy pre: preDNAT policy is not supported (not enforced) — selects host endpoint(s) node-a-eth0']);
    const s = v4(input([eth0], [pre]));
    expect([...s.chains.keys()].some((n) => n.includes('pre'))).toBe(false);
  });

  it('one HEP per interface (first by name); expectedIPs-only and cali* HEPs are not enforced', () => {
    const dup = hep('node-a-eth0-b', { interfaceName: 'eth0' });
    const ipOnly = hep('ip-only', { expectedIPs: ['10.0.0.11'] });
    const wl = hep('wl', { interfaceName: 'cali123' });
    const p = pickHostEndpoints([dup, ipOnly, wl, eth0]);
    expect(p.chosen.map((h) => h.key)).toEqual(['hep:node-a-eth0']);
    expect(p.shadowed.map((h) => h.key)).toEqual(['hep:node-a-eth0-b']);
    expect(p.unenforced.map((h) => h.key)).toEqual(['hep:ip-only', 'hep:wl']);
    expect(v4(input([ipOnly])).hooks).toHaveLength(1);
  });
});

describe('a HEP without interfaceName', () => {
  it('is found on the interface holding one of its expectedIPs; left unresolved otherwise', () => {
    const byIp = hep('by-ip', { expectedIPs: ['10.0.0.99', 'fd00::11'] });
    const addrs = [
      { iface: 'eth0', cidr: '10.0.0.11/24' },
      { iface: 'eth1', cidr: 'fd00::11/64' },
    ];
    const [r, same] = resolveHostInterfaces([byIp, eth0], addrs);
    expect(r?.iface).toBe('eth1');
    expect(same).toBe(eth0);
    expect(resolveHostInterfaces([byIp], [{ iface: 'eth0', cidr: '10.0.0.11/24' }])[0]).toBe(byIp);
    // An interface a HEP names is not taken by address.
    expect(resolveHostInterfaces([hep('b2', { expectedIPs: ['10.0.0.11'] }), eth0], [{ iface: 'eth0', cidr: '10.0.0.11/24' }])[0]?.iface).toBe('');
  });
});

describe('incremental', () => {
  it('an unchanged HEP keeps its chain objects; removing the last HEP removes its chains and hooks', () => {
    const calc = new PolicyCalculator();
    const a = calc.update(input([eth0], [allow8080])).v4;
    const b = calc.update(input([eth0], [allow8080])).v4;
    for (const n of ['cali-INPUT', 'cali-fh-eth0', 'cali-failsafe-in', 'cali-from-host-endpoint']) expect(b.chains.get(n)).toBe(a.chains.get(n));
    const c = calc.update(input([eth0], [])).v4;
    expect(c.chains.get('cali-fh-eth0')).not.toBe(a.chains.get('cali-fh-eth0'));
    expect(c.chains.get('cali-failsafe-in')).toBe(a.chains.get('cali-failsafe-in'));
    const d = calc.update(input([], [allow8080])).v4;
    expect(d.hooks).toHaveLength(1);
    expect([...d.chains.keys()].filter((n) => /INPUT|OUTPUT|-fh|-th|failsafe|host|hep/.test(n))).toEqual([]);
    expect(d).toEqual(computePolicyState(input([], [allow8080])).v4);
  });
});
