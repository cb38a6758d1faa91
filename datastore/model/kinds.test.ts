import { describe, expect, it } from 'vitest';
import { ALL_KINDS, lookupKind } from './index.js';
import { expectError, ok, v3 } from './testutil.js';

describe('lookupKind', () => {
  const cases: Record<string, string[]> = {
    IPPool: ['ippool', 'ippools', 'IPPool', 'IPPOOLS', 'ippools.projectcalico.org', 'ippool.p'],
    BGPPeer: ['bgppeer', 'bgppeers', 'BGPPeer'],
    BGPConfiguration: ['bgpconfig', 'bgpconfigs', 'bgpconfiguration', 'bgpconfigurations'],
    Node: ['node', 'nodes', 'no'],
    FelixConfiguration: ['felixconfig', 'felixconfiguration', 'felixconfigurations'],
    NetworkPolicy: ['networkpolicy', 'networkpolicies', 'policy', 'netpol', 'np'],
    GlobalNetworkPolicy: ['globalnetworkpolicy', 'globalnetworkpolicies', 'gnp'],
    Profile: ['profile', 'profiles', 'pro'],
    HostEndpoint: ['hostendpoint', 'hostendpoints', 'hep'],
    WorkloadEndpoint: ['workloadendpoint', 'workloadendpoints', 'wep'],
    IPAMBlock: ['ipamblock', 'ipamblocks'],
    BlockAffinity: ['blockaffinity', 'blockaffinities'],
    IPAMHandle: ['ipamhandle', 'ipamhandles'],
    IPAMConfig: ['ipamconfig', 'ipamconfigs'],
  };
  for (const [kind, names] of Object.entries(cases)) {
    it(`finds ${kind} by ${names.join(', ')}`, () => {
      for (const n of names) expect(lookupKind(n)?.kind, n).toBe(kind);
    });
  }
  it('returns undefined for an unknown name', () => {
    expect(lookupKind('pods')).toBeUndefined();
  });
  it('uses Calico key-path plurals and scope', () => {
    const plurals = Object.fromEntries(ALL_KINDS.map((k) => [k.kind, k.plural]));
    expect(plurals).toMatchObject({
      IPPool: 'ippools',
      BGPPeer: 'bgppeers',
      BGPConfiguration: 'bgpconfigurations',
      Node: 'nodes',
      FelixConfiguration: 'felixconfigurations',
      NetworkPolicy: 'networkpolicies',
      GlobalNetworkPolicy: 'globalnetworkpolicies',
      Profile: 'profiles',
      HostEndpoint: 'hostendpoints',
      WorkloadEndpoint: 'workloadendpoints',
    });
    expect(ALL_KINDS.filter((k) => k.namespaced).map((k) => k.kind)).toEqual(['NetworkPolicy', 'WorkloadEndpoint']);
  });
  it('has no alias claimed by two kinds', () => {
    const owner = new Map<string, string>();
    for (const k of ALL_KINDS) {
      for (const n of new Set([k.kind.toLowerCase(), k.plural, ...k.aliases])) {
        expect(owner.get(n) ?? k.kind, n).toBe(k.kind);
        owner.set(n, k.kind);
      }
    }
  });
});

describe('validateResource envelope', () => {
  it('rejects a non-mapping document', () => {
    expectError('hello', '', /must be a mapping/);
    expectError(null, '', /must be a mapping/);
  });
  it('requires apiVersion projectcalico.org/v3', () => {
    expectError({ ...v3('IPPool', 'p', { cidr: '10.0.0.0/16' }), apiVersion: 'projectcalico.org/v2' }, 'apiVersion', /projectcalico\.org\/v3/);
  });
  it('rejects an unknown kind, suggesting the canonical one', () => {
    expectError(v3('ippool', 'p', {}), 'kind', /did you mean "IPPool"/);
    expectError(v3('Pod', 'p', {}), 'kind', /unknown kind "Pod"/);
  });
  it('rejects unknown top-level and metadata fields', () => {
    expectError({ ...v3('IPPool', 'p', { cidr: '10.0.0.0/16' }), extra: 1 }, 'extra', /unknown field/);
    expectError(v3('IPPool', 'p', { cidr: '10.0.0.0/16' }, { lables: {} }), 'metadata.lables', /unknown field/);
  });
  it('requires metadata.name', () => {
    expectError({ apiVersion: 'projectcalico.org/v3', kind: 'IPPool', spec: { cidr: '10.0.0.0/16' } }, 'metadata.name', /required/);
  });
  it('validates labels', () => {
    expectError(v3('IPPool', 'p', { cidr: '10.0.0.0/16' }, { labels: { a: 'has space' } }), 'metadata.labels.a', /invalid label value/);
    expect(ok(v3('IPPool', 'p', { cidr: '10.0.0.0/16' }, { labels: { 'example.com/zone': 'a-1' } })).metadata.labels).toEqual({ 'example.com/zone': 'a-1' });
  });
  it('keeps resourceVersion and annotations, drops nothing it knows', () => {
    const m = ok(v3('IPPool', 'p', { cidr: '10.0.0.0/16' }, { resourceVersion: '12', annotations: { note: 'x y' } })).metadata;
    expect(m).toEqual({ name: 'p', resourceVersion: '12', annotations: { note: 'x y' } });
  });
  it('validation output re-validates to itself (idempotent normalization)', () => {
    for (const input of [
      v3('IPPool', 'p', { cidr: 'fd00::/48' }),
      v3('BGPConfiguration', 'default', {}),
      v3('BGPPeer', 'x', { peerIP: '[fd00::1]:179', asNumber: '1.1' }),
      v3('NetworkPolicy', 'n', { egress: [{ action: 'Allow', protocol: 'tcp', destination: { ports: ['80'] } }] }),
    ]) {
      const once = ok(input);
      expect(ok(JSON.parse(JSON.stringify(once)))).toEqual(once);
    }
  });
});
