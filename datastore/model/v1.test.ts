import { describe, expect, it } from 'vitest';
import { parse, parseAllDocuments } from 'yaml';
import { v1NameFromIP } from './v1.js';
import { errs, expectError, ok } from './testutil.js';

// The seed tutorial's text, pasted as users paste it: fields under metadata/spec unindented.
const SEED_POOL_FLAT = `apiVersion: v1
kind: ipPool
metadata:
cidr: 10.200.0.0/16
spec:
ipip:
enabled: true
mode: cross-subnet
nat-outgoing: true
`;

const SEED_POOL = `apiVersion: v1
kind: ipPool
metadata:
  cidr: 10.200.0.0/16
spec:
  ipip:
    enabled: true
    mode: cross-subnet
  nat-outgoing: true
`;

const SEED_PEER_FLAT = `apiVersion: v1
kind: bgpPeer
metadata:
peerIP: 192.168.10.5
scope: global
spec:
asNumber: 64567
`;

describe('v1 ipPool', () => {
  const expected = {
    apiVersion: 'projectcalico.org/v3',
    kind: 'IPPool',
    metadata: { name: '10-200-0-0-16' },
    spec: {
      cidr: '10.200.0.0/16',
      blockSize: 26,
      ipipMode: 'CrossSubnet',
      vxlanMode: 'Never',
      natOutgoing: true,
      disabled: false,
      disableBGPExport: false,
      nodeSelector: 'all()',
      allowedUses: ['Workload', 'Tunnel'],
      assignmentMode: 'Automatic',
    },
  };
  it('converts the properly indented seed example', () => {
    expect(ok(parse(SEED_POOL))).toEqual(expected);
  });
  it('converts the flat form the tutorial prints', () => {
    expect(ok(parse(SEED_POOL_FLAT))).toEqual(expected);
  });
  it('names the pool by its CIDR with dashes, IPv6 colons too', () => {
    expect(v1NameFromIP('10.200.0.0/16')).toBe('10-200-0-0-16');
    expect(v1NameFromIP('fd00:1::/64')).toBe('fd00-1---64');
    expect(ok({ apiVersion: 'v1', kind: 'ipPool', metadata: { cidr: 'fd00:1::/64' } }).metadata.name).toBe('fd00-1---64');
  });
  it('ipip enabled without a mode, or mode always, is Always', () => {
    expect(ok({ apiVersion: 'v1', kind: 'ipPool', metadata: { cidr: '10.1.0.0/16' }, spec: { ipip: { enabled: true } } }).spec).toMatchObject({ ipipMode: 'Always' });
    expect(ok({ apiVersion: 'v1', kind: 'ipPool', metadata: { cidr: '10.1.0.0/16' }, spec: { ipip: { enabled: true, mode: 'always' } } }).spec).toMatchObject({ ipipMode: 'Always' });
  });
  it('ipip absent or disabled is Never', () => {
    expect(ok({ apiVersion: 'v1', kind: 'ipPool', metadata: { cidr: '10.1.0.0/16' } }).spec).toMatchObject({ ipipMode: 'Never', natOutgoing: false });
    expect(ok({ apiVersion: 'v1', kind: 'ipPool', metadata: { cidr: '10.1.0.0/16' }, spec: { ipip: { enabled: false, mode: 'cross-subnet' } } }).spec).toMatchObject({ ipipMode: 'Never' });
  });
  it('carries disabled', () => {
    expect(ok({ apiVersion: 'v1', kind: 'ipPool', metadata: { cidr: '10.1.0.0/16' }, spec: { disabled: true } }).spec).toMatchObject({ disabled: true });
  });
  it('rejects a bad ipip mode and unknown v1 fields', () => {
    expectError({ apiVersion: 'v1', kind: 'ipPool', metadata: { cidr: '10.1.0.0/16' }, spec: { ipip: { enabled: true, mode: 'sometimes' } } }, 'spec.ipip.mode', /cross-subnet/);
    expectError({ apiVersion: 'v1', kind: 'ipPool', metadata: { cidr: '10.1.0.0/16' }, spec: { natOutgoing: true } }, 'spec.natOutgoing', /unknown field/);
  });
  it('requires metadata.cidr, and the v3 rules still apply', () => {
    expectError({ apiVersion: 'v1', kind: 'ipPool', metadata: {} }, 'metadata.cidr', /required/);
    expectError({ apiVersion: 'v1', kind: 'ipPool', metadata: { cidr: '10.1.0.0/8x' } }, 'spec.cidr', /not a valid CIDR/);
    expectError({ apiVersion: 'v1', kind: 'ipPool', metadata: { cidr: '10.1.0.0/30' } }, 'spec.blockSize', /larger than the pool/);
  });
  it('masks host bits as v1 did (it stored the network), naming the pool from it', () => {
    const r = ok({ apiVersion: 'v1', kind: 'ipPool', metadata: { cidr: '10.1.2.3/16' } });
    expect(r.metadata.name).toBe('10-1-0-0-16');
    expect(r.spec).toMatchObject({ cidr: '10.1.0.0/16' });
  });
});

describe('v1 bgpPeer', () => {
  it('converts the flat global peer of the seed, named from its IP', () => {
    expect(ok(parse(SEED_PEER_FLAT))).toEqual({
      apiVersion: 'projectcalico.org/v3',
      kind: 'BGPPeer',
      metadata: { name: '192-168-10-5' },
      spec: { peerIP: '192.168.10.5', asNumber: 64567, sourceAddress: 'UseNodeIP' },
    });
  });
  it('converts a node-scoped peer to "<node>.<ip>" with spec.node', () => {
    const r = ok({ apiVersion: 'v1', kind: 'bgpPeer', metadata: { peerIP: '10.0.0.9', scope: 'node', node: 'Node46' }, spec: { asNumber: 64567 } });
    expect(r.metadata.name).toBe('node46.10-0-0-9');
    expect(r.spec).toMatchObject({ node: 'node46', peerIP: '10.0.0.9' });
  });
  it('names an IPv6 peer with dashes', () => {
    expect(ok({ apiVersion: 'v1', kind: 'bgpPeer', metadata: { peerIP: 'fd00::9' }, spec: { asNumber: 1 } }).metadata.name).toBe('fd00--9');
  });
  it('a node-scoped peer needs metadata.node', () => {
    expectError({ apiVersion: 'v1', kind: 'bgpPeer', metadata: { peerIP: '10.0.0.9', scope: 'node' }, spec: { asNumber: 1 } }, 'metadata.node', /required/);
  });
  it('rejects an unknown scope', () => {
    expectError({ apiVersion: 'v1', kind: 'bgpPeer', metadata: { peerIP: '10.0.0.9', scope: 'rack' }, spec: { asNumber: 1 } }, 'metadata.scope', /global.*node/);
  });
  it('explains an unfilled {HOST-IP} placeholder', () => {
    const doc = parse(SEED_PEER_FLAT.replace('192.168.10.5', '{HOST-IP}'));
    expectError(doc, 'metadata.peerIP', /placeholder/);
  });
});

describe('v1 policy, profile, endpoints, node', () => {
  it('converts a policy to a GlobalNetworkPolicy with capitalised actions and types', () => {
    const r = ok({
      apiVersion: 'v1',
      kind: 'policy',
      metadata: { name: 'allow-tcp-6379' },
      spec: {
        selector: "role == 'database'",
        order: 100,
        types: ['ingress'],
        ingress: [{ action: 'allow', protocol: 'tcp', source: { tag: 'frontend', net: '10.0.0.0/8' }, destination: { ports: [6379] } }],
      },
    });
    expect(r.kind).toBe('GlobalNetworkPolicy');
    expect(r.spec).toMatchObject({
      order: 100,
      types: ['Ingress'],
      ingress: [{ action: 'Allow', protocol: 'TCP', source: { selector: 'has(frontend)', nets: ['10.0.0.0/8'] }, destination: { ports: [6379] } }],
    });
  });
  it('maps next-tier to Pass and rejects an unknown action', () => {
    expect(ok({ apiVersion: 'v1', kind: 'policy', metadata: { name: 'p' }, spec: { egress: [{ action: 'next-tier' }] } }).spec).toMatchObject({ egress: [{ action: 'Pass' }] });
    expectError({ apiVersion: 'v1', kind: 'policy', metadata: { name: 'p' }, spec: { ingress: [{ action: 'accept' }] } }, 'spec.ingress[0].action', /allow, deny/);
  });
  it('converts a profile: labels and tags become labelsToApply', () => {
    const r = ok({ apiVersion: 'v1', kind: 'profile', metadata: { name: 'prof1', labels: { team: 'a' }, tags: ['web'] }, spec: { ingress: [{ action: 'allow' }] } });
    expect(r.spec).toMatchObject({ labelsToApply: { team: 'a', web: '' }, ingress: [{ action: 'Allow' }] });
  });
  it('converts a hostEndpoint to "<node>.<name>"', () => {
    const r = ok({ apiVersion: 'v1', kind: 'hostEndpoint', metadata: { name: 'eth0', node: 'host1', labels: { role: 'x' } }, spec: { interfaceName: 'eth0' } });
    expect(r.metadata).toEqual({ name: 'host1.eth0', labels: { role: 'x' } });
    expect(r.spec).toEqual({ interfaceName: 'eth0', node: 'host1' });
  });
  it('converts a k8s workloadEndpoint into its namespace with Calico naming', () => {
    const r = ok({
      apiVersion: 'v1',
      kind: 'workloadEndpoint',
      metadata: { name: 'eth0', workload: 'prod.front-end', orchestrator: 'k8s', node: 'rack1-host1' },
      spec: { interfaceName: 'cali0ef24ba', ipNetworks: ['192.168.0.1/32'] },
    });
    expect(r.metadata).toEqual({ name: 'rack1--host1-k8s-front--end-eth0', namespace: 'prod' });
    expect(r.spec).toMatchObject({ orchestrator: 'k8s', pod: 'front-end', node: 'rack1-host1', endpoint: 'eth0' });
  });
  it('converts a node', () => {
    expect(ok({ apiVersion: 'v1', kind: 'node', metadata: { name: 'node46' }, spec: { bgp: { ipv4Address: '10.0.0.46/24' } } }).kind).toBe('Node');
  });
  it('leaves Kubernetes "v1 Node" alone (not a Calico v1 kind)', () => {
    expectError({ apiVersion: 'v1', kind: 'Node', metadata: { name: 'n' } }, 'apiVersion', /projectcalico/);
  });
  it('reads a multi-document seed file', () => {
    const docs = parseAllDocuments(`${SEED_POOL}---\n${SEED_PEER_FLAT}`).map((d) => d.toJS());
    expect(docs.map((d) => ok(d).kind)).toEqual(['IPPool', 'BGPPeer']);
  });
  it('reports every v1 problem at once', () => {
    expect(errs({ apiVersion: 'v1', kind: 'bgpPeer', metadata: { scope: 'x' }, spec: { as: 1 } }).map((e) => e.path)).toEqual(['metadata.peerIP', 'metadata.scope', 'spec.as']);
  });
});
