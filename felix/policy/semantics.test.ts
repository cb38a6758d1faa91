// What policy means, as Calico documents it, checked twice for every case: by the trace
// evaluator and by running the rendered iptables chains through the interpreter (one host
// holding every pod, and each pod on a host of its own).
import { describe, expect, it } from 'vitest';
import { simulate } from './testing/agree.js';
import { globalPolicy, k8sPolicy, namespaceProfile, networkPolicy, pod } from './testing/fixtures.js';
import { tracePolicy, type TraceQuery, type TraceResult } from './trace.js';
import type { PolicyInput } from './types.js';

const prodNs = namespaceProfile('production', { env: 'production' });
const stagingNs = namespaceProfile('staging', { env: 'staging', project: 'myproject' });
const profiles = [prodNs, stagingNs];
const pdb = pod('production', 'db', { labels: { role: 'db' }, ips: ['10.65.0.2/32'], ports: [{ name: 'redis', protocol: 'TCP', port: 6379 }] }, profiles);
const pfe = pod('production', 'fe', { labels: { role: 'frontend' }, ips: ['10.65.0.3/32'] }, profiles);
const sdb = pod('staging', 'db', { labels: { role: 'db' }, ips: ['10.65.1.2/32'] }, profiles);
const sfe = pod('staging', 'fe', { labels: { role: 'frontend' }, ips: ['10.65.1.3/32'] }, profiles);
const endpoints = [pdb, pfe, sdb, sfe];

type Peer = string;
const peer = (p: Peer) => (/^[\d.:]+$/.test(p) ? { ip: p } : { endpoint: p });

/** The verdict; fails the test when trace and the rendered chains disagree in either layout. */
function verdict(policies: PolicyInput[], from: Peer, to: Peer, proto: 'tcp' | 'udp' | 'icmp' = 'tcp', port = 6379, extra: Partial<TraceQuery> = {}): TraceResult {
  const model = { endpoints, policies, profiles };
  const q: TraceQuery = { from: peer(from), to: peer(to), protocol: proto === 'tcp' ? 6 : proto === 'udp' ? 17 : 1, ...(proto === 'icmp' ? {} : { port }), ...extra };
  const t = tracePolicy(model, q);
  for (const layout of ['one-host', 'own-hosts'] as const) expect(simulate(model, q, layout).verdict, `${layout}: ${from} → ${to}`).toBe(t.verdict);
  return t;
}
const v = (...a: Parameters<typeof verdict>) => verdict(...a).verdict;

const defaultDeny = k8sPolicy('production', 'default-deny', { podSelector: {}, policyTypes: ['Ingress', 'Egress'] });

describe("the seed's production / staging isolation", () => {
  it('without policy, namespace profiles allow everything', () => {
    expect(v([], 'staging/fe', 'production/db')).toBe('allow');
    expect(v([], 'production/fe', 'production/db')).toBe('allow');
  });
  it('default-deny in production refuses staging → production; staging-internal traffic still works', () => {
    const t = verdict([defaultDeny], 'staging/fe', 'production/db');
    expect(t.verdict).toBe('deny');
    expect(t.decidedBy).toMatchObject({ direction: 'ingress', endpoint: 'production/db', reason: 'default-deny', policies: ['production/knp.default.default-deny'] });
    expect(v([defaultDeny], 'staging/fe', 'staging/db')).toBe('allow');
    // Egress is denied too, so production pods cannot even talk to each other or out.
    expect(verdict([defaultDeny], 'production/fe', 'staging/db').decidedBy).toMatchObject({ direction: 'egress', reason: 'default-deny' });
  });
  it('allow-all next to default-deny opens everything again', () => {
    const allowAll = k8sPolicy('production', 'allow-all', { podSelector: {}, ingress: [{}], egress: [{}] });
    const t = verdict([defaultDeny, allowAll], 'staging/fe', 'production/db');
    expect(t.verdict).toBe('allow');
    expect(t.decidedBy).toMatchObject({ policy: 'production/knp.default.allow-all', ruleIndex: 0, reason: 'policy' });
  });
  it('podSelector opens exactly the selected pods of the policy namespace on the given port', () => {
    const p = k8sPolicy('production', 'fe-to-db', {
      podSelector: { matchLabels: { role: 'db' } },
      ingress: [{ from: [{ podSelector: { matchLabels: { role: 'frontend' } } }], ports: [{ protocol: 'TCP', port: 6379 }] }],
    });
    expect(v([p], 'production/fe', 'production/db')).toBe('allow');
    expect(v([p], 'production/fe', 'production/db', 'tcp', 6380)).toBe('deny');
    expect(v([p], 'production/fe', 'production/db', 'udp', 6379)).toBe('deny');
    // A frontend in another namespace is not selected by a bare podSelector.
    expect(v([p], 'staging/fe', 'production/db')).toBe('deny');
    // Other production pods are not isolated by this policy.
    expect(v([p], 'staging/fe', 'production/fe')).toBe('allow');
  });
  it('namespaceSelector opens every pod of the matching namespaces', () => {
    const p = k8sPolicy('production', 'from-myproject', { podSelector: { matchLabels: { role: 'db' } }, ingress: [{ from: [{ namespaceSelector: { matchLabels: { project: 'myproject' } } }] }] });
    expect(v([p], 'staging/fe', 'production/db')).toBe('allow');
    expect(v([p], 'staging/db', 'production/db', 'udp', 53)).toBe('allow');
    expect(v([p], 'production/fe', 'production/db')).toBe('deny');
  });
  it('ipBlock with except opens the block but not the exception', () => {
    const p = k8sPolicy('production', 'from-block', { podSelector: { matchLabels: { role: 'db' } }, ingress: [{ from: [{ ipBlock: { cidr: '172.17.0.0/16', except: ['172.17.1.0/24'] } }] }] });
    expect(v([p], '172.17.2.9', 'production/db')).toBe('allow');
    expect(v([p], '172.17.1.9', 'production/db')).toBe('deny');
    expect(v([p], '192.168.0.1', 'production/db')).toBe('deny');
  });
  it('egress rules are enforced at the source pod', () => {
    const p = k8sPolicy('production', 'egress', { podSelector: { matchLabels: { role: 'db' } }, policyTypes: ['Egress'], egress: [{ to: [{ ipBlock: { cidr: '10.0.0.0/24' } }], ports: [{ protocol: 'TCP', port: 5978 }] }] });
    expect(v([p], 'production/db', '10.0.0.7', 'tcp', 5978)).toBe('allow');
    expect(v([p], 'production/db', '10.0.0.7', 'tcp', 80)).toBe('deny');
    expect(v([p], 'production/db', 'staging/fe', 'tcp', 5978)).toBe('deny');
    expect(v([p], 'production/fe', 'staging/fe', 'tcp', 80)).toBe('allow');
  });
  it("the seed's test-network-policy as written", () => {
    const p = k8sPolicy('production', 'test-network-policy', {
      podSelector: { matchLabels: { role: 'db' } },
      policyTypes: ['Ingress', 'Egress'],
      ingress: [{ from: [{ ipBlock: { cidr: '172.17.0.0/16', except: ['172.17.1.0/24'] } }, { namespaceSelector: { matchLabels: { project: 'myproject' } } }, { podSelector: { matchLabels: { role: 'frontend' } } }], ports: [{ protocol: 'TCP', port: 6379 }] }],
      egress: [{ to: [{ ipBlock: { cidr: '10.0.0.0/24' } }], ports: [{ protocol: 'TCP', port: 5978 }] }],
    });
    expect(v([p], 'production/fe', 'production/db')).toBe('allow');
    expect(v([p], 'staging/db', 'production/db')).toBe('allow');
    expect(v([p], '172.17.0.5', 'production/db')).toBe('allow');
    expect(v([p], '172.17.1.5', 'production/db')).toBe('deny');
    expect(v([p], 'production/fe', 'production/db', 'tcp', 22)).toBe('deny');
    expect(v([p], 'production/db', '10.0.0.1', 'tcp', 5978)).toBe('allow');
    // Replies go back through conntrack; new connections from db elsewhere are refused.
    expect(v([p], 'production/db', 'production/fe', 'tcp', 80)).toBe('deny');
  });
});

describe('GlobalNetworkPolicy order and Pass with namespaced policy', () => {
  it('a lower order global Deny wins over a Kubernetes allow (order 1000)', () => {
    const allow = k8sPolicy('production', 'allow-all', { podSelector: {}, ingress: [{}] });
    const deny = globalPolicy('block-staging', { order: 10, selector: "role == 'db'", ingress: [{ action: 'Deny', source: { namespaceSelector: "env == 'staging'" } }] });
    const t = verdict([allow, deny], 'staging/fe', 'production/db');
    expect(t.decidedBy).toMatchObject({ verdict: 'deny', reason: 'policy', policy: 'block-staging', ruleIndex: 0, action: 'Deny' });
    expect(v([allow, deny], 'production/fe', 'production/db')).toBe('allow');
  });
  it('Pass skips the remaining policies: the profiles decide', () => {
    const pass = globalPolicy('pass-staging', { order: 10, ingress: [{ action: 'Pass', source: { namespaceSelector: "env == 'staging'" } }] });
    const t = verdict([pass, defaultDeny], 'staging/fe', 'production/db');
    expect(t.verdict).toBe('allow');
    expect(t.decidedBy).toMatchObject({ reason: 'profile', profile: 'kns.production', passedBy: { policy: 'pass-staging', ruleIndex: 0 } });
    // Not passed: the default-deny policy still applies.
    expect(v([pass, defaultDeny], 'production/fe', 'production/db')).toBe('deny');
  });
  it('a higher-order global policy comes after the Kubernetes one', () => {
    const knp = k8sPolicy('production', 'db', { podSelector: { matchLabels: { role: 'db' } }, ingress: [{ from: [{ podSelector: {} }] }] });
    const late = globalPolicy('late-allow', { order: 2000, ingress: [{ action: 'Allow' }] });
    expect(verdict([knp, late], 'staging/fe', 'production/db').decidedBy).toMatchObject({ policy: 'late-allow' });
    expect(verdict([knp, late], 'production/fe', 'production/db').decidedBy).toMatchObject({ policy: 'production/knp.default.db' });
  });
  it('Log logs and evaluation goes on', () => {
    const log = globalPolicy('log', { order: 1, ingress: [{ action: 'Log' }, { action: 'Allow', protocol: 'TCP', destination: { ports: [6379] } }] });
    const t = verdict([log], 'staging/fe', 'production/db');
    expect(t.decidedBy).toMatchObject({ policy: 'log', ruleIndex: 1 });
    expect(t.steps.find((s) => s.direction === 'ingress')?.logged).toEqual([{ policy: 'log', ruleIndex: 0 }]);
    expect(v([log], 'staging/fe', 'production/db', 'tcp', 80)).toBe('deny');
  });
});

describe('rule matches end to end', () => {
  const at = (rule: Record<string, unknown>) => networkPolicy('production', 'p', { selector: "role == 'db'", ingress: [rule] });
  it('named ports resolve against the destination pod', () => {
    const p = at({ action: 'Allow', protocol: 'TCP', destination: { ports: ['redis'] } });
    expect(v([p], 'staging/fe', 'production/db', 'tcp', 6379)).toBe('allow');
    expect(v([p], 'staging/fe', 'production/db', 'tcp', 6380)).toBe('deny');
  });
  it('notPorts allow all but the listed ports', () => {
    const p = at({ action: 'Allow', protocol: 'TCP', destination: { notPorts: ['6000:6999'] } });
    expect(v([p], 'staging/fe', 'production/db', 'tcp', 7000)).toBe('allow');
    expect(v([p], 'staging/fe', 'production/db', 'tcp', 6379)).toBe('deny');
  });
  it('ICMP type and code', () => {
    const p = at({ action: 'Allow', protocol: 'ICMP', icmp: { type: 8 } });
    expect(v([p], 'staging/fe', 'production/db', 'icmp')).toBe('allow');
    expect(v([p], 'staging/fe', 'production/db', 'icmp', 0, { icmp: { type: 13, code: 0 } })).toBe('deny');
  });
  it('protocol numbers', () => {
    const p = at({ action: 'Allow', protocol: 17 });
    expect(v([p], 'staging/fe', 'production/db', 'udp', 53)).toBe('allow');
    expect(v([p], 'staging/fe', 'production/db', 'tcp', 53)).toBe('deny');
  });
  it('source ports', () => {
    const p = at({ action: 'Allow', protocol: 'TCP', source: { ports: ['1:1023'] } });
    expect(v([p], 'staging/fe', 'production/db', 'tcp', 80, { sourcePort: 1000 })).toBe('allow');
    expect(v([p], 'staging/fe', 'production/db', 'tcp', 80)).toBe('deny');
  });
  it('notSelector excludes the selected pods of the namespace', () => {
    const p = at({ action: 'Allow', source: { notSelector: "role == 'frontend'" } });
    expect(v([p], 'production/fe', 'production/db')).toBe('deny');
    expect(v([p], 'staging/fe', 'production/db')).toBe('allow');
    expect(v([p], '192.168.1.1', 'production/db')).toBe('allow');
  });
  it('an IP that belongs to a pod is that pod', () => {
    const t = verdict([defaultDeny], '10.65.1.3', '10.65.0.2');
    expect(t.source).toEqual({ ip: '10.65.1.3', endpoint: 'staging/fe' });
    expect(t.destination).toEqual({ ip: '10.65.0.2', endpoint: 'production/db' });
    expect(t.verdict).toBe('deny');
  });
  it('between two addresses that are no pods, policy has no say', () => {
    expect(verdict([defaultDeny], '192.168.0.1', '192.168.0.2')).toMatchObject({ verdict: 'allow', steps: [] });
  });
});
