import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { compileSelector, namespaceSelectorToEndpointSelector } from '../selector/index.js';
import { labelSelectorToCalico, simplifyPorts } from './k8s.js';
import { expectError, ok } from './testutil.js';

// The seed tutorial's test-network-policy (seed 000), properly indented; the same fixture the
// policy e2e test (test/e2e/policy-seed.test.ts) applies to real packets.
const TEST_NETWORK_POLICY = readFileSync(join(import.meta.dirname, '../../test/fixtures/policy/seed-test-network-policy.yaml'), 'utf8');

const knp = (spec: Record<string, unknown>, name = 'p') => ({ apiVersion: 'networking.k8s.io/v1', kind: 'NetworkPolicy', metadata: { name, namespace: 'production' }, spec });
const ORCH = "projectcalico.org/orchestrator == 'k8s'";

describe('Kubernetes NetworkPolicy → Calico NetworkPolicy', () => {
  it('converts the seed test-network-policy as Calico does', () => {
    expect(ok(parse(TEST_NETWORK_POLICY))).toEqual({
      apiVersion: 'projectcalico.org/v3',
      kind: 'NetworkPolicy',
      metadata: { name: 'knp.default.test-network-policy', namespace: 'default' },
      spec: {
        tier: 'default',
        order: 1000,
        selector: `${ORCH} && role == 'db'`,
        types: ['Ingress', 'Egress'],
        ingress: [
          { action: 'Allow', protocol: 'TCP', source: { nets: ['172.17.0.0/16'], notNets: ['172.17.1.0/24'] }, destination: { ports: [6379] } },
          { action: 'Allow', protocol: 'TCP', source: { selector: ORCH, namespaceSelector: "project == 'myproject'" }, destination: { ports: [6379] } },
          { action: 'Allow', protocol: 'TCP', source: { selector: `${ORCH} && role == 'frontend'` }, destination: { ports: [6379] } },
        ],
        egress: [{ action: 'Allow', protocol: 'TCP', destination: { nets: ['10.0.0.0/24'], ports: [5978] } }],
      },
    });
  });
  it('default-deny: empty podSelector selects all k8s pods, no rules', () => {
    const r = ok(knp({ podSelector: {}, policyTypes: ['Ingress', 'Egress'] }, 'default-deny'));
    expect(r.metadata).toEqual({ name: 'knp.default.default-deny', namespace: 'production' });
    expect(r.spec).toMatchObject({ selector: ORCH, types: ['Ingress', 'Egress'], ingress: [], egress: [] });
  });
  it('allow-all: an empty rule allows everything', () => {
    expect(ok(knp({ podSelector: {}, ingress: [{}], egress: [{}] })).spec).toMatchObject({ ingress: [{ action: 'Allow' }], egress: [{ action: 'Allow' }] });
  });
  it('defaults policyTypes as Kubernetes does: Ingress always, Egress when egress rules exist', () => {
    expect(ok(knp({ podSelector: {} })).spec).toMatchObject({ types: ['Ingress'] });
    expect(ok(knp({ podSelector: {}, egress: [{}] })).spec).toMatchObject({ types: ['Ingress', 'Egress'] });
  });
  it('puts namespace in the same namespace, default when absent', () => {
    const doc = { ...knp({ podSelector: {} }), metadata: { name: 'x' } };
    expect(ok(doc).metadata.namespace).toBe('default');
  });
  it('combines podSelector and namespaceSelector in one peer', () => {
    const r = ok(knp({ podSelector: {}, ingress: [{ from: [{ podSelector: { matchLabels: { app: 'a' } }, namespaceSelector: {} }] }] }));
    expect(r.spec).toMatchObject({ ingress: [{ action: 'Allow', source: { selector: `${ORCH} && app == 'a'`, namespaceSelector: 'all()' } }] });
  });
  it('turns endPort into a port range and named ports through', () => {
    const r = ok(knp({ podSelector: {}, ingress: [{ ports: [{ protocol: 'UDP', port: 'dns' }, { port: 8000, endPort: 8080 }, { port: 443, endPort: 443 }] }] }));
    expect(r.spec).toMatchObject({
      ingress: [
        { action: 'Allow', protocol: 'TCP', destination: { ports: [443, '8000:8080'] } },
        { action: 'Allow', protocol: 'UDP', destination: { ports: ['dns'] } },
      ],
    });
  });
  it('a port entry with only a protocol allows every port of it, overriding listed ports', () => {
    const r = ok(knp({ podSelector: {}, ingress: [{ ports: [{ protocol: 'UDP', port: 53 }, { protocol: 'UDP' }, { protocol: 'UDP', port: 54 }] }] }));
    expect(r.spec).toMatchObject({ ingress: [{ action: 'Allow', protocol: 'UDP' }] });
    expect((r.spec as { ingress: object[] }).ingress[0]).not.toHaveProperty('destination');
  });
  it('groups ports by protocol and coalesces them as Calico SimplifyPorts does', () => {
    expect(simplifyPorts([80, 81, 'http', 82, 9090, '83:85'])).toEqual(['http', '80:85', 9090]);
    expect(simplifyPorts([443])).toEqual([443]);
    expect(simplifyPorts(['b', 'a'])).toEqual(['b', 'a']);
    const r = ok(knp({ podSelector: {}, ingress: [{ from: [{ podSelector: {} }, { ipBlock: { cidr: '10.0.0.0/8' } }], ports: [{ port: 81 }, { port: 80 }, { protocol: 'SCTP', port: 9 }] }] }));
    expect(r.spec).toMatchObject({
      ingress: [
        { protocol: 'SCTP', source: { selector: ORCH }, destination: { ports: [9] } },
        { protocol: 'SCTP', source: { nets: ['10.0.0.0/8'] }, destination: { ports: [9] } },
        { protocol: 'TCP', source: { selector: ORCH }, destination: { ports: ['80:81'] } },
        { protocol: 'TCP', source: { nets: ['10.0.0.0/8'] }, destination: { ports: ['80:81'] } },
      ],
    });
  });
  it('egress peers go to the destination with the ports', () => {
    const r = ok(knp({ podSelector: {}, egress: [{ to: [{ namespaceSelector: { matchLabels: { team: 'x' } } }], ports: [{ port: 53, protocol: 'UDP' }] }] }));
    expect(r.spec).toMatchObject({ egress: [{ action: 'Allow', protocol: 'UDP', destination: { selector: ORCH, namespaceSelector: "team == 'x'", ports: [53] } }] });
  });
  it('ignores rules for a direction policyTypes leaves out', () => {
    expect(ok(knp({ podSelector: {}, policyTypes: ['Egress'], ingress: [{}] })).spec).toMatchObject({ types: ['Egress'], egress: [] });
  });
  it('converts matchExpressions', () => {
    const s = labelSelectorToCalico({
      matchLabels: { b: '2', a: '1' },
      matchExpressions: [
        { key: 'env', operator: 'In', values: ['prod', 'stage'] },
        { key: 'tier', operator: 'NotIn', values: ['x'] },
        { key: 'x', operator: 'Exists' },
        { key: 'y', operator: 'DoesNotExist' },
      ],
    });
    expect(s).toBe("a == '1' && b == '2' && env in {'prod', 'stage'} && tier not in {'x'} && has(x) && !has(y)");
    expect(compileSelector(s).matches({ a: '1', b: '2', env: 'prod', x: '' })).toBe(true);
  });
  it('rejects label values that could not be a label (so selectors stay well formed)', () => {
    expectError(knp({ podSelector: { matchLabels: { role: "d'b" } } }), 'spec.podSelector.matchLabels.role', /invalid label value/);
    expectError(knp({ podSelector: { matchExpressions: [{ key: 'a', operator: 'In', values: ['x"y'] }] } }), 'spec.podSelector.matchExpressions[0].values[0]', /label value/);
  });
  it('rejects In without values and Exists with values', () => {
    expectError(knp({ podSelector: { matchExpressions: [{ key: 'a', operator: 'In' }] } }), 'spec.podSelector.matchExpressions[0].values', /at least one value/);
    expectError(knp({ podSelector: { matchExpressions: [{ key: 'a', operator: 'Exists', values: ['x'] }] } }), 'spec.podSelector.matchExpressions[0].values', /no values/);
  });
  it('rejects ipBlock mixed with selectors, bad CIDRs and bad endPort', () => {
    expectError(knp({ podSelector: {}, ingress: [{ from: [{ ipBlock: { cidr: '10.0.0.0/8' }, podSelector: {} }] }] }), 'spec.ingress[0].from[0].ipBlock', /cannot be combined/);
    expectError(knp({ podSelector: {}, ingress: [{ from: [{ ipBlock: { cidr: '10.0.0.1/8' } }] }] }), 'spec.ingress[0].from[0].ipBlock.cidr', /canonical form is 10\.0\.0\.0\/8/);
    expectError(knp({ podSelector: {}, ingress: [{ ports: [{ port: 90, endPort: 80 }] }] }), 'spec.ingress[0].ports[0].endPort', /less than/);
  });
  it('requires podSelector and rejects unknown fields', () => {
    expectError(knp({}), 'spec.podSelector', /required/);
    expectError(knp({ podSelector: {}, ingres: [] }), 'spec.ingres', /unknown field/);
  });
});

describe('the seed policies pasted flat (unindented)', () => {
  it('allow-all', () => {
    const doc = parse('apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata:\nname: allow-all\nspec:\npodSelector: {}\ningress:\n- {}\negress:\n- {}\n');
    const r = ok(doc);
    expect(r.metadata).toEqual({ name: 'knp.default.allow-all', namespace: 'default' });
    expect(r.spec).toMatchObject({ selector: ORCH, types: ['Ingress', 'Egress'], ingress: [{ action: 'Allow' }], egress: [{ action: 'Allow' }] });
  });
  it('default-deny', () => {
    const doc = parse('apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata:\nname: default-deny\nspec:\npodSelector: {}\npolicyTypes:\n- Ingress\n- Egress\n');
    expect(ok(doc).spec).toMatchObject({ types: ['Ingress', 'Egress'], ingress: [], egress: [] });
  });
  it('a flat Namespace', () => {
    expect(ok(parse('apiVersion: v1\nkind: Namespace\nmetadata:\nname: staging\n')).metadata.name).toBe('kns.staging');
  });
});

describe('Kubernetes Namespace → Profile', () => {
  it('becomes kns.<name> with pcns.-prefixed labels and allow-all rules', () => {
    expect(ok({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'production', labels: { project: 'myproject' } } })).toEqual({
      apiVersion: 'projectcalico.org/v3',
      kind: 'Profile',
      metadata: { name: 'kns.production' },
      spec: {
        ingress: [{ action: 'Allow' }],
        egress: [{ action: 'Allow' }],
        labelsToApply: {
          'pcns.projectcalico.org/name': 'production',
          'pcns.kubernetes.io/metadata.name': 'production',
          'pcns.project': 'myproject',
        },
      },
    });
  });
  it('a namespaceSelector from a converted policy matches the converted profile labels', () => {
    const profile = ok({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'staging', labels: { project: 'myproject' } } });
    const labels = (profile.spec as { labelsToApply: Record<string, string> }).labelsToApply;
    const policy = ok(parse(TEST_NETWORK_POLICY));
    const nsSel = (policy.spec as { ingress: { source: { namespaceSelector?: string } }[] }).ingress[1].source.namespaceSelector as string;
    expect(compileSelector(namespaceSelectorToEndpointSelector(nsSel)).matches({ ...labels, 'projectcalico.org/namespace': 'staging' })).toBe(true);
  });
  it('rejects an invalid namespace name', () => {
    expectError({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'Prod_1' } }, 'metadata.name', /not a valid name.*DNS-1123/);
    expectError({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'a.b' } }, 'metadata.name', /DNS-1123 label/);
  });
});

describe('Kubernetes ServiceAccount → Profile', () => {
  it('becomes ksa.<namespace>.<name> with pcsa.-prefixed labels and no rules', () => {
    expect(ok({ apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name: 'api', namespace: 'production', labels: { tier: 'backend' } } })).toEqual({
      apiVersion: 'projectcalico.org/v3',
      kind: 'Profile',
      metadata: { name: 'ksa.production.api' },
      spec: { labelsToApply: { 'pcsa.projectcalico.org/name': 'api', 'pcsa.tier': 'backend' } },
    });
  });
  it('defaults the namespace and takes the usual ServiceAccount fields', () => {
    expect(ok({ apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name: 'build' }, automountServiceAccountToken: false, secrets: [] }).metadata.name).toBe('ksa.default.build');
  });
  it('rejects bad names and unknown fields', () => {
    expectError({ apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name: 'Bad_Name' } }, 'metadata.name', /DNS-1123/);
    expectError({ apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name: 'a' }, spec: {} }, 'spec', /unknown field/);
  });
});
