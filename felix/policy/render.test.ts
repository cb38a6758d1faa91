// The renderer's contract, as specifications: chain layout and names, what each rule kind renders
// to, which policies apply where, and the ipsets behind selectors and named ports.
import { describe, expect, it } from 'vitest';
import { computePolicyState, FORWARD_CHAIN, FROM_WL_DISPATCH, TO_WL_DISPATCH } from './index.js';
import { endpointChainName, ipsetName, lengthLimitedName, policyChainName, profileChainName } from './names.js';
import { calcInput, globalPolicy, k8sPolicy, namespaceProfile, networkPolicy, pod } from './testing/fixtures.js';
import type { PolicyDataplaneState, PolicyInput } from './types.js';
import { MAX_CHAIN_NAME, MAX_IPSET_NAME } from './types.js';

const prod = namespaceProfile('production', { env: 'production' });
const staging = namespaceProfile('staging', { env: 'staging' });
const profiles = [prod, staging];
const db = pod('production', 'db', { labels: { role: 'db' }, ips: ['10.65.0.2/32', 'fd00::2/128'], ports: [{ name: 'redis', protocol: 'TCP', port: 6379 }] }, profiles);
const fe = pod('production', 'fe', { labels: { role: 'frontend' }, ips: ['10.65.0.3/32'] }, profiles);
const sfe = pod('staging', 'fe', { labels: { role: 'frontend' }, ips: ['10.65.1.3/32'], ports: [{ name: 'redis', protocol: 'TCP', port: 7000 }] }, profiles);
const all = [db, fe, sfe];

function render(policies: PolicyInput[], local = all): { v4: PolicyDataplaneState; v6: PolicyDataplaneState } {
  return computePolicyState(calcInput(all, policies, profiles, local));
}

const rules = (s: PolicyDataplaneState, chain: string): string[] => {
  const c = s.chains.get(chain);
  if (!c) throw new Error(`no chain ${chain}; have ${[...s.chains.keys()].join(', ')}`);
  return c.rules;
};

const policyChain = (p: PolicyInput, dir: 'ingress' | 'egress') => policyChainName(p, dir);

describe('names', () => {
  it('keeps readable names that fit in 28 characters', () => {
    expect(policyChainName({ name: 'allow-all' }, 'ingress')).toBe('cali-pi-allow-all');
    expect(policyChainName({ name: 'x', namespace: 'prod' }, 'egress')).toBe('cali-po-prod_x');
    expect(profileChainName('kns.default', 'ingress')).toBe('cali-pri-kns.default');
    expect(profileChainName('kns.default', 'egress')).toBe('cali-pro-kns.default');
    expect(endpointChainName('cali1234567890a', 'ingress')).toBe('cali-tw-cali1234567890a');
    expect(endpointChainName('cali1234567890a', 'egress')).toBe('cali-fw-cali1234567890a');
  });
  it('hashes longer names to exactly 28 characters: prefix, "_", base64url SHA-224 of the suffix', () => {
    const n = policyChainName({ name: 'knp.default.test-network-policy', namespace: 'default' }, 'ingress');
    expect(n).toMatch(/^cali-pi-_[A-Za-z0-9_-]{19}$/);
    expect(n).toHaveLength(MAX_CHAIN_NAME);
    expect(lengthLimitedName('cali-pi-', 'default_knp.default.test-network-policy')).toBe(n);
    // Different long names hash differently; the same name always the same.
    expect(policyChainName({ name: 'knp.default.test-network-policy2', namespace: 'default' }, 'ingress')).not.toBe(n);
  });
  it('names ipsets cali40<kind>: / cali60<kind>: cut to 31 characters', () => {
    const id = 'A'.repeat(38);
    expect(ipsetName(4, 's', id)).toBe(`cali40s:${'A'.repeat(23)}`);
    expect(ipsetName(6, 'n', id)).toHaveLength(MAX_IPSET_NAME);
    expect(ipsetName(6, 'n', id).startsWith('cali60n:')).toBe(true);
  });
  it('gives a namespaced policy and a global one of the same name different chains', () => {
    expect(policyChainName({ name: 'a' }, 'ingress')).not.toBe(policyChainName({ name: 'a', namespace: 'ns' }, 'ingress'));
  });
});

describe('chain layout', () => {
  const s = render([]).v4;
  it('hooks FORWARD to cali-FORWARD only', () => {
    expect(s.hooks).toEqual([{ builtin: 'FORWARD', rule: '-j cali-FORWARD' }]);
  });
  it('cali-FORWARD: conntrack first, then dispatch both ways, then accept what policy allowed', () => {
    expect(rules(s, FORWARD_CHAIN)).toEqual([
      '-m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT',
      '-m conntrack --ctstate INVALID -j DROP',
      '-j MARK --set-xmark 0x0/0x30000',
      '-i cali+ -j cali-from-wl-dispatch',
      '-o cali+ -j cali-to-wl-dispatch',
      '-m mark --mark 0x10000/0x10000 -j ACCEPT',
    ]);
  });
  it('dispatches each local interface to its endpoint chain with goto, unknown ones dropped', () => {
    const ifaces = [db, fe, sfe].map((e) => e.iface).sort();
    expect(rules(s, FROM_WL_DISPATCH)).toEqual([...ifaces.map((i) => `-i ${i} -g cali-fw-${i}`), '-j DROP']);
    expect(rules(s, TO_WL_DISPATCH)).toEqual([...ifaces.map((i) => `-o ${i} -g cali-tw-${i}`), '-j DROP']);
  });
  it('only renders endpoints that are local', () => {
    const one = render([], [db]).v4;
    expect(rules(one, FROM_WL_DISPATCH)).toEqual([`-i ${db.iface} -g cali-fw-${db.iface}`, '-j DROP']);
    expect(one.chains.has(endpointChainName(fe.iface, 'ingress'))).toBe(false);
  });
  it('with no policy, the endpoint chain asks its profiles and drops if none allows', () => {
    expect(rules(s, endpointChainName(db.iface, 'ingress'))).toEqual([
      '-j MARK --set-xmark 0x0/0x30000',
      '-j cali-pri-kns.production',
      '-m mark --mark 0x10000/0x10000 -j RETURN',
      '-j DROP',
    ]);
    expect(rules(s, 'cali-pri-kns.production')).toEqual(['-j MARK --set-xmark 0x10000/0x10000', '-m mark --mark 0x10000/0x10000 -j RETURN']);
  });
  it('every chain and ipset name is ours and short enough; rules have no line breaks or comments', () => {
    const big = render([k8sPolicy('production', 'test-network-policy', { podSelector: { matchLabels: { role: 'db' } }, ingress: [{ from: [{ podSelector: {} }] }] })]);
    for (const st of [big.v4, big.v6]) {
      for (const [n, c] of st.chains) {
        expect(n.startsWith('cali-') && n.length <= MAX_CHAIN_NAME).toBe(true);
        for (const r of c.rules) expect(r).not.toMatch(/[\n\r]|--comment/);
      }
      for (const n of st.ipsets.keys()) expect(n).toMatch(st.family === 4 ? /^cali40[snc]:.{1,23}$/ : /^cali60[snc]:.{1,23}$/);
    }
  });
});

describe('which policies apply', () => {
  const dbOnly = networkPolicy('production', 'db-in', { selector: "role == 'db'", ingress: [{ action: 'Allow' }] });
  it('a namespaced policy applies to matching endpoints of its namespace, in the directions of its types', () => {
    const s = render([dbOnly]).v4;
    expect(rules(s, endpointChainName(db.iface, 'ingress'))).toEqual([
      '-j MARK --set-xmark 0x0/0x30000',
      `-m mark --mark 0x0/0x20000 -j ${policyChain(dbOnly, 'ingress')}`,
      '-m mark --mark 0x10000/0x10000 -j RETURN',
      '-m mark --mark 0x0/0x20000 -j DROP',
      '-j cali-pri-kns.production',
      '-m mark --mark 0x10000/0x10000 -j RETURN',
      '-j DROP',
    ]);
    // Egress untouched (types defaulted to Ingress); other endpoints untouched.
    expect(rules(s, endpointChainName(db.iface, 'egress'))).not.toContain(expect.stringContaining('cali-po-'));
    expect(rules(s, endpointChainName(fe.iface, 'ingress')).join()).not.toContain('cali-pi-');
  });
  it('a namespaced policy never applies in another namespace, whatever its selector', () => {
    const s = render([networkPolicy('staging', 'all', { selector: 'all()', ingress: [{ action: 'Deny' }] })]).v4;
    expect(rules(s, endpointChainName(db.iface, 'ingress')).join()).not.toContain('cali-pi-');
    expect(rules(s, endpointChainName(sfe.iface, 'ingress')).join()).toContain('cali-pi-staging_all');
  });
  it('a GlobalNetworkPolicy applies by selector across namespaces, narrowed by namespaceSelector', () => {
    const g = globalPolicy('fe', { selector: "role == 'frontend'", egress: [{ action: 'Allow' }] });
    const gs = globalPolicy('fe-staging', { selector: "role == 'frontend'", namespaceSelector: "env == 'staging'", egress: [{ action: 'Allow' }] });
    const s = render([g, gs]).v4;
    expect(rules(s, endpointChainName(fe.iface, 'egress'))).toContain('-m mark --mark 0x0/0x20000 -j cali-po-fe');
    expect(rules(s, endpointChainName(fe.iface, 'egress')).join()).not.toContain('cali-po-fe-staging');
    expect(rules(s, endpointChainName(sfe.iface, 'egress')).join()).toContain('cali-po-fe-staging');
    expect(rules(s, endpointChainName(db.iface, 'egress')).join()).not.toContain('cali-po-');
  });
  it('orders by order, then name; policies without order come last', () => {
    const a = globalPolicy('a', { order: 10, ingress: [{ action: 'Allow' }] });
    const b = globalPolicy('b', { order: 5, ingress: [{ action: 'Allow' }] });
    const c = globalPolicy('c', { order: 5, ingress: [{ action: 'Allow' }] });
    const d = globalPolicy('d', { ingress: [{ action: 'Allow' }] });
    const s = render([d, a, c, b]).v4;
    const jumps = rules(s, endpointChainName(db.iface, 'ingress'))
      .map((r) => /-j (cali-pi-\S+)/.exec(r)?.[1])
      .filter(Boolean);
    expect(jumps).toEqual(['cali-pi-b', 'cali-pi-c', 'cali-pi-a', 'cali-pi-d']);
  });
  it('renders only policies and profiles some local endpoint uses', () => {
    const s = render([dbOnly], [fe]).v4;
    expect(s.chains.has(policyChain(dbOnly, 'ingress'))).toBe(false);
    expect(s.chains.has('cali-pri-kns.staging')).toBe(false);
    expect(s.chains.has('cali-pri-kns.production')).toBe(true);
  });
  it('ignores preDNAT and doNotTrack policies (host endpoints only)', () => {
    const g = globalPolicy('raw', { doNotTrack: true, applyOnForward: true, ingress: [{ action: 'Deny' }] });
    expect(render([g]).v4.chains.has('cali-pi-raw')).toBe(false);
  });
  it('a policy with types [Ingress] and no rules makes ingress default-deny', () => {
    const deny = k8sPolicy('production', 'default-deny', { podSelector: {}, policyTypes: ['Ingress'] });
    const s = render([deny]).v4;
    expect(rules(s, policyChain(deny, 'ingress'))).toEqual([]);
    expect(rules(s, endpointChainName(db.iface, 'ingress'))).toContain('-m mark --mark 0x0/0x20000 -j DROP');
  });
});

describe('rule rendering', () => {
  const chainOf = (spec: Record<string, unknown>, fam: 4 | 6 = 4): string[] => {
    const p = globalPolicy('p', { selector: "role == 'db'", ...spec });
    const dir = spec.egress ? 'egress' : 'ingress';
    const s = render([p]);
    return rules(fam === 4 ? s.v4 : s.v6, policyChain(p, dir));
  };
  const one = (rule: Record<string, unknown>, fam: 4 | 6 = 4) => chainOf({ ingress: [rule] }, fam);
  const ALLOW = '-j MARK --set-xmark 0x10000/0x10000';
  const RET = '-m mark --mark 0x10000/0x10000 -j RETURN';

  it('Allow sets the accept mark and returns; Deny drops; Pass sets the pass mark and returns; Log logs and goes on', () => {
    expect(chainOf({ ingress: [{ action: 'Log' }, { action: 'Deny', protocol: 'UDP' }, { action: 'Pass', protocol: 'SCTP' }, { action: 'Allow' }] })).toEqual([
      '-j LOG --log-prefix "calico-packet: " --log-level 5',
      '-p udp -j DROP',
      '-p sctp -j MARK --set-xmark 0x20000/0x20000',
      '-m mark --mark 0x20000/0x20000 -j RETURN',
      ALLOW,
      RET,
    ]);
  });
  it('protocols by name or number, and notProtocol', () => {
    expect(one({ action: 'Deny', protocol: 47 })).toEqual(['-p 47 -j DROP']);
    expect(one({ action: 'Deny', protocol: 'udplite' })).toEqual(['-p udplite -j DROP']);
    expect(one({ action: 'Deny', notProtocol: 'TCP' })).toEqual(['! -p tcp -j DROP']);
    // protocol X with notProtocol X can never match: no rule at all.
    expect(one({ action: 'Deny', protocol: 'TCP', notProtocol: 6 })).toEqual([]);
  });
  it('ports: numbers and ranges in one multiport match, notPorts negated', () => {
    expect(one({ action: 'Allow', protocol: 'TCP', destination: { ports: [80, '1000:2000'], notPorts: [1500] }, source: { ports: ['1:1023'] } })).toEqual([
      `-p tcp -m multiport --sports 1:1023 -m multiport --dports 80,1000:2000 -m multiport ! --dports 1500 ${ALLOW}`,
      RET,
    ]);
  });
  it('more ports than multiport holds become several rules (15 slots, a range takes two)', () => {
    const ports = Array.from({ length: 20 }, (_, i) => 100 + i * 2);
    const r = one({ action: 'Deny', protocol: 'UDP', destination: { ports } });
    expect(r).toEqual([`-p udp -m multiport --dports ${ports.slice(0, 15).join(',')} -j DROP`, `-p udp -m multiport --dports ${ports.slice(15).join(',')} -j DROP`]);
  });
  it('named ports match the ip,port set of the selected endpoints that declare them', () => {
    const s = render([globalPolicy('p', { selector: "role == 'frontend'", egress: [{ action: 'Allow', protocol: 'TCP', destination: { selector: "role in {'db', 'frontend'}", ports: ['redis', 8080] } }] })]).v4;
    const r = rules(s, 'cali-po-p');
    const named = /--match-set (cali40n:\S+) dst,dst/.exec(r.join('\n'))?.[1] as string;
    const sel = /--match-set (cali40s:\S+) dst /.exec(r.join('\n'))?.[1] as string;
    expect(r).toEqual([
      `-p tcp -m set --match-set ${sel} dst -m multiport --dports 8080 ${ALLOW}`,
      RET,
      `-p tcp -m set --match-set ${sel} dst -m set --match-set ${named} dst,dst ${ALLOW}`,
      RET,
    ]);
    expect(s.ipsets.get(named)).toEqual({ name: named, type: 'hash:ip,port', family: 'inet', members: ['10.65.0.2,tcp:6379', '10.65.1.3,tcp:7000'] });
    expect(s.ipsets.get(sel)?.members).toEqual(['10.65.0.2/32', '10.65.0.3/32', '10.65.1.3/32']);
  });
  it('named notPorts exclude through the same kind of set', () => {
    const r = one({ action: 'Deny', protocol: 'TCP', destination: { notPorts: ['redis'] } });
    expect(r).toEqual([expect.stringMatching(/^-p tcp -m set ! --match-set cali40n:\S+ dst,dst -j DROP$/)]);
  });
  it('one net is -s/-d, several become several rules; one notNet is "! -s" (a set next to a net: iptables takes one -s), several a hash:net set', () => {
    expect(one({ action: 'Deny', source: { notNets: ['10.1.1.0/24'] } })).toEqual(['! -s 10.1.1.0/24 -j DROP']);
    expect(one({ action: 'Deny', source: { nets: ['10.1.0.0/16', '10.2.0.0/16'], notNets: ['10.1.1.0/24'] } })).toEqual([
      expect.stringMatching(/^-s 10\.1\.0\.0\/16 -m set ! --match-set cali40c:\S+ src -j DROP$/),
      expect.stringMatching(/^-s 10\.2\.0\.0\/16 -m set ! --match-set cali40c:\S+ src -j DROP$/),
    ]);
    const p = globalPolicy('p', { selector: "role == 'db'", ingress: [{ action: 'Deny', destination: { notNets: ['10.1.0.0/16', '10.2.0.0/16'] } }] });
    const s = render([p]).v4;
    const [rule] = rules(s, 'cali-pi-p');
    const set = /--match-set (cali40c:\S+) dst/.exec(rule)?.[1] as string;
    expect(rule).toBe(`-m set ! --match-set ${set} dst -j DROP`);
    expect(s.ipsets.get(set)?.members).toEqual(['10.1.0.0/16', '10.2.0.0/16']);
  });
  it('a rule whose nets are all of the other family is absent from this family', () => {
    expect(one({ action: 'Deny', source: { nets: ['fd00::/64'] } }, 4)).toEqual([]);
    expect(one({ action: 'Deny', source: { nets: ['fd00::/64'] } }, 6)).toEqual(['-s fd00::/64 -j DROP']);
    expect(one({ action: 'Deny', ipVersion: 6 }, 4)).toEqual([]);
    expect(one({ action: 'Deny', source: { notNets: ['0.0.0.0/0'] } }, 4)).toEqual([]);
  });
  it('ICMP types and codes, per family', () => {
    expect(one({ action: 'Allow', protocol: 'ICMP', icmp: { type: 8, code: 0 } })).toEqual([`-p icmp -m icmp --icmp-type 8/0 ${ALLOW}`, RET]);
    expect(one({ action: 'Deny', protocol: 'ICMP', notICMP: { type: 3 } })).toEqual(['-p icmp -m icmp ! --icmp-type 3 -j DROP']);
    expect(one({ action: 'Deny', protocol: 'ICMP' }, 6)).toEqual([]);
    expect(one({ action: 'Deny', protocol: 'ICMPv6', icmp: { type: 128 } }, 6)).toEqual(['-p ipv6-icmp -m icmp6 --icmpv6-type 128 -j DROP']);
    expect(one({ action: 'Deny', protocol: 58 }, 4)).toEqual([]);
  });
  it('selector and notSelector become sets of member endpoints; in a namespaced policy they see its namespace only', () => {
    const np = networkPolicy('production', 'p', { selector: "role == 'db'", ingress: [{ action: 'Allow', source: { selector: "role == 'frontend'" } }, { action: 'Deny', source: { notSelector: "role == 'frontend'" } }] });
    const s = render([np]).v4;
    const r = rules(s, policyChain(np, 'ingress'));
    const pos = /--match-set (\S+) src/.exec(r[0])?.[1] as string;
    const neg = /! --match-set (\S+) src/.exec(r[2])?.[1] as string;
    expect(s.ipsets.get(pos)?.members).toEqual(['10.65.0.3/32']);
    expect(s.ipsets.get(neg)?.members).toEqual(['10.65.0.3/32']);
    // The same selector in a global policy sees every namespace.
    const g = globalPolicy('g', { selector: "role == 'db'", ingress: [{ action: 'Allow', source: { selector: "role == 'frontend'" } }] });
    const sg = render([g]).v4;
    const gset = /--match-set (\S+) src/.exec(rules(sg, 'cali-pi-g')[0])?.[1] as string;
    expect(sg.ipsets.get(gset)?.members).toEqual(['10.65.0.3/32', '10.65.1.3/32']);
  });
  it('namespaceSelector picks endpoints by their namespace labels; alone it means every endpoint there', () => {
    const np = networkPolicy('production', 'p', { selector: "role == 'db'", ingress: [{ action: 'Allow', source: { namespaceSelector: "env == 'staging'" } }] });
    const s = render([np]).v4;
    const set = /--match-set (\S+) src/.exec(rules(s, policyChain(np, 'ingress'))[0])?.[1] as string;
    expect(s.ipsets.get(set)?.members).toEqual(['10.65.1.3/32']);
  });
  it('serviceAccounts names select endpoints running as those accounts', () => {
    const sa = pod('production', 'api', { labels: { role: 'api' }, ips: ['10.65.0.9/32'], serviceAccount: 'api-sa' }, profiles);
    const p = networkPolicy('production', 'p', { selector: "role == 'db'", ingress: [{ action: 'Allow', source: { serviceAccounts: { names: ['api-sa'] } } }] });
    const s = computePolicyState(calcInput([...all, sa], [p], profiles)).v4;
    const set = /--match-set (\S+) src/.exec(rules(s, policyChain(p, 'ingress'))[0])?.[1] as string;
    expect(s.ipsets.get(set)?.members).toEqual(['10.65.0.9/32']);
  });
  it('IPv6 state: v6 members and v6 sets', () => {
    const p = globalPolicy('p', { selector: "role == 'frontend'", egress: [{ action: 'Allow', destination: { selector: "role == 'db'" } }] });
    const s = render([p]).v6;
    const set = /--match-set (\S+) dst/.exec(rules(s, 'cali-po-p')[0])?.[1] as string;
    expect(set.startsWith('cali60s:')).toBe(true);
    expect(s.ipsets.get(set)).toMatchObject({ family: 'inet6', members: ['fd00::2/128'] });
  });
  it("renders the seed's test-network-policy (ipBlock with except, namespaceSelector, podSelector, ports)", () => {
    const p = k8sPolicy('production', 'test-network-policy', {
      podSelector: { matchLabels: { role: 'db' } },
      policyTypes: ['Ingress', 'Egress'],
      ingress: [{ from: [{ ipBlock: { cidr: '172.17.0.0/16', except: ['172.17.1.0/24'] } }, { namespaceSelector: { matchLabels: { project: 'myproject' } } }, { podSelector: { matchLabels: { role: 'frontend' } } }], ports: [{ protocol: 'TCP', port: 6379 }] }],
      egress: [{ to: [{ ipBlock: { cidr: '10.0.0.0/24' } }], ports: [{ protocol: 'TCP', port: 5978 }] }],
    });
    const s = render([p]).v4;
    const r = rules(s, policyChain(p, 'ingress'));
    const except = /--match-set (cali40c:\S+) src/.exec(r[0] ?? '')?.[1] as string;
    expect(r[0]).toBe(`-s 172.17.0.0/16 -p tcp -m set ! --match-set ${except} src -m multiport --dports 6379 ${ALLOW}`);
    expect(s.ipsets.get(except)?.members).toEqual(['172.17.1.0/24']);
    expect(r[2]).toMatch(/^-p tcp -m set --match-set cali40s:\S+ src -m multiport --dports 6379 /);
    expect(r[4]).toMatch(/^-p tcp -m set --match-set cali40s:\S+ src -m multiport --dports 6379 /);
    const podSet = /--match-set (\S+) src/.exec(r[4])?.[1] as string;
    expect(s.ipsets.get(podSet)?.members).toEqual(['10.65.0.3/32']);
    expect(rules(s, policyChain(p, 'egress'))).toEqual([`-d 10.0.0.0/24 -p tcp -m multiport --dports 5978 ${ALLOW}`, RET]);
  });
});

describe('determinism', () => {
  it('the same input in any order renders the same state', () => {
    const ps = [globalPolicy('a', { order: 1, ingress: [{ action: 'Allow', source: { selector: "role == 'db'" } }] }), networkPolicy('production', 'b', { egress: [{ action: 'Deny' }] })];
    const a = computePolicyState(calcInput(all, ps, profiles));
    const b = computePolicyState(calcInput([...all].reverse(), [...ps].reverse(), [...profiles].reverse(), [...all].reverse()));
    const flat = (s: PolicyDataplaneState) => JSON.stringify({ c: [...s.chains], i: [...s.ipsets], h: s.hooks });
    expect(flat(b.v4)).toBe(flat(a.v4));
    expect(flat(b.v6)).toBe(flat(a.v6));
    expect([...a.v4.chains.keys()]).toEqual([...a.v4.chains.keys()].sort());
  });
});
