import { describe, expect, it } from 'vitest';
import { parseDocuments } from './documents.js';
import { toJson, toTable, toYaml } from './format.js';
import type { Resource } from '../datastore/model/resource.js';

const V3 = 'projectcalico.org/v3';
const pool = (name: string, cidr: string, spec: Record<string, unknown> = {}): Resource => ({
  apiVersion: V3,
  kind: 'IPPool',
  metadata: { name, resourceVersion: '7', uid: 'u', creationTimestamp: '2026-01-02T03:04:05Z' },
  spec: { cidr, blockSize: 26, ipipMode: 'Never', vxlanMode: 'Never', natOutgoing: false, nodeSelector: 'all()', ...spec },
});

describe('toTable', () => {
  it('ippools: NAME CIDR SELECTOR', () => {
    expect(toTable('IPPool', false, [pool('default-ipv4-ippool', '192.168.0.0/16')], false)).toBe(
      'NAME                  CIDR             SELECTOR\n' + 'default-ipv4-ippool   192.168.0.0/16   all()\n',
    );
  });
  it('ippools -o wide: NAME CIDR NAT IPIPMODE VXLANMODE DISABLED DISABLEBGPEXPORT SELECTOR', () => {
    const out = toTable('IPPool', false, [pool('p', '10.200.0.0/16', { natOutgoing: true, ipipMode: 'CrossSubnet', disabled: false, disableBGPExport: false })], true);
    const [head, row] = out.trimEnd().split('\n');
    expect(head.split(/\s+/)).toEqual(['NAME', 'CIDR', 'NAT', 'IPIPMODE', 'VXLANMODE', 'DISABLED', 'DISABLEBGPEXPORT', 'SELECTOR']);
    expect(row.split(/\s+/)).toEqual(['p', '10.200.0.0/16', 'true', 'CrossSubnet', 'Never', 'false', 'false', 'all()']);
  });
  it('bgppeers: NAME PEERIP NODE ASN, global peers shown as (global)', () => {
    const peer: Resource = { apiVersion: V3, kind: 'BGPPeer', metadata: { name: 'rr1' }, spec: { peerIP: '10.0.0.1', asNumber: 64567 } };
    const nodePeer: Resource = { apiVersion: V3, kind: 'BGPPeer', metadata: { name: 'n1.10-0-0-2' }, spec: { peerIP: '10.0.0.2', node: 'n1', asNumber: 64512 } };
    const rows = toTable('BGPPeer', false, [peer, nodePeer], false).trimEnd().split('\n').map((l) => l.split(/\s+/));
    expect(rows).toEqual([
      ['NAME', 'PEERIP', 'NODE', 'ASN'],
      ['rr1', '10.0.0.1', '(global)', '64567'],
      ['n1.10-0-0-2', '10.0.0.2', 'n1', '64512'],
    ]);
  });
  it('nodes: NAME; wide NAME ASN IPV4 IPV6 with the inherited AS in brackets', () => {
    const n: Resource = { apiVersion: V3, kind: 'Node', metadata: { name: 'node1' }, spec: { bgp: { ipv4Address: '10.0.0.1/24' } } };
    expect(toTable('Node', false, [n], false)).toBe('NAME\nnode1\n');
    const rows = toTable('Node', false, [n], true, { defaultASNumber: 64512 }).trimEnd().split('\n').map((l) => l.split(/\s+/));
    expect(rows).toEqual([
      ['NAME', 'ASN', 'IPV4', 'IPV6'],
      ['node1', '(64512)', '10.0.0.1/24'],
    ]);
  });
  it('namespaced kinds get a NAMESPACE column with -A', () => {
    const np: Resource = { apiVersion: V3, kind: 'NetworkPolicy', metadata: { name: 'p', namespace: 'ns1' }, spec: {} };
    expect(toTable('NetworkPolicy', true, [np], false, { allNamespaces: true })).toBe('NAMESPACE   NAME\nns1         p\n');
  });
  it('unknown kinds fall back to NAME', () => {
    expect(toTable('Whatever', false, [pool('x', '10.0.0.0/8')], true)).toBe('NAME\nx\n');
  });
});

describe('toYaml / toJson', () => {
  it('one named resource prints as the document, keys in apiVersion/kind/metadata/spec order', () => {
    const y = toYaml('IPPool', [pool('p', '10.0.0.0/8')], { single: true });
    expect(y.split('\n').slice(0, 3)).toEqual(['apiVersion: projectcalico.org/v3', 'kind: IPPool', 'metadata:']);
    expect(y).toContain('resourceVersion: "7"');
    expect(parseDocuments(y, 'out')).toEqual([pool('p', '10.0.0.0/8')]);
  });
  it('a listing prints a <Kind>List whose items parse back to the resources', () => {
    const items = [pool('a', '10.0.0.0/8'), pool('b', '11.0.0.0/8')];
    expect(parseDocuments(toYaml('IPPool', items, { revision: '9' }), 'out')).toEqual(items);
    expect(parseDocuments(toJson('IPPool', items), 'out')).toEqual(items);
    expect(JSON.parse(toJson('IPPool', items, { revision: '9' })).kind).toBe('IPPoolList');
  });
  it('an empty listing is an empty list', () => {
    expect(parseDocuments(toYaml('IPPool', []), 'out')).toEqual([]);
  });
});
