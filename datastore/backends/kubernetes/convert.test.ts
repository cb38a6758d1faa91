// The pure halves of the Kubernetes datastore: how Calico objects sit in Kubernetes objects.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { parseWepName, wepName } from '../../model/wep-names.js';
import type { StoredValue } from '../../store.js';
import { crdName, fromCustomResource, isMarkedDeleted, markDeleted, METADATA_ANNOTATION, toCustomResource } from './crd-convert.js';
import { k8sPolicyToStored, parseProfileName, splitRevision } from './derived-convert.js';
import type { KubeObject } from './driver.js';
import { socketToError, statusToError } from './errors.js';
import { k8sNodeToCalico, LABELS_ANNOTATION, mergeCalicoIntoK8sNode } from './node-convert.js';
import { podAnnotationPatch, podToWorkloadEndpoint } from './pod-convert.js';

const value = (kind: string, name: string, spec: unknown, meta: Partial<StoredValue['metadata']> = {}): StoredValue => ({ apiVersion: 'projectcalico.org/v3', kind, metadata: { name, ...meta }, spec });

describe('CRD objects', () => {
  it('round-trip: spec as is, labels and annotations on the resource, the rest in projectcalico.org/metadata', () => {
    const v = value('IPPool', 'p', { cidr: '10.0.0.0/16' }, { labels: { a: 'b' }, annotations: { note: 'x' }, uid: 'u1', creationTimestamp: '2026-01-01T00:00:00Z' });
    const cr = toCustomResource(v, '42');
    expect(cr).toMatchObject({ apiVersion: 'crd.projectcalico.org/v1', kind: 'IPPool', metadata: { name: 'p', labels: { a: 'b' }, resourceVersion: '42' }, spec: v.spec });
    expect(JSON.parse(cr.metadata.annotations?.[METADATA_ANNOTATION] ?? '')).toEqual({ uid: 'u1', creationTimestamp: '2026-01-01T00:00:00Z' });
    expect(fromCustomResource('IPPool', cr)).toEqual({ key: { kind: 'IPPool', name: 'p' }, value: v, revision: '42' });
  });

  it('IPAMHandle names are lower-cased for Kubernetes and come back as written', () => {
    expect(crdName('IPAMHandle', 'Net.ABC')).toBe('net.abc');
    const cr = toCustomResource(value('IPAMHandle', 'Net.ABC', { handleID: 'Net.ABC', block: {} }));
    expect(cr.metadata.name).toBe('net.abc');
    expect(fromCustomResource('IPAMHandle', cr).key.name).toBe('Net.ABC');
  });

  it("the `deleted` mark: boolean on blocks and handles, Calico's string on affinities, absent elsewhere", () => {
    expect(markDeleted('IPAMBlock', { deleted: false })).toEqual({ deleted: true });
    expect(markDeleted('BlockAffinity', { deleted: 'false' })).toEqual({ deleted: 'true' });
    expect(isMarkedDeleted('BlockAffinity', { deleted: 'true' })).toBe(true);
    expect(isMarkedDeleted('IPAMHandle', { deleted: false })).toBe(false);
    expect(isMarkedDeleted('IPPool', { deleted: true })).toBe(false);
  });
});

describe('Node', () => {
  const node: KubeObject = {
    metadata: {
      name: 'n1',
      resourceVersion: '7',
      labels: { zone: 'z' },
      annotations: { 'projectcalico.org/IPv4Address': '10.0.0.1/24', 'projectcalico.org/ASNumber': 'not-a-number', 'projectcalico.org/IPv4VXLANTunnelAddr': '10.0.0.999', [LABELS_ANNOTATION]: '{"rr":"true"}', other: 'kept' },
    },
    status: { addresses: [{ type: 'Hostname', address: 'n1' }, { type: 'ExternalIP', address: '198.51.100.1' }] },
  };

  it('reads Calico fields from the annotations; an unreadable AS number or address is left out; labels merge', () => {
    const o = k8sNodeToCalico(node);
    expect(o.revision).toBe('7');
    expect(o.value.metadata.labels).toEqual({ zone: 'z', rr: 'true' });
    expect(o.value.spec).toEqual({
      bgp: { ipv4Address: '10.0.0.1/24' },
      orchRefs: [{ nodeName: 'n1', orchestrator: 'k8s' }],
      addresses: [{ address: '10.0.0.1/24', type: 'CalicoNodeIP' }, { address: '198.51.100.1', type: 'ExternalIP' }],
    });
  });

  it('writes Calico fields into annotations, removes the ones no longer set, leaves the rest of the Node alone', () => {
    const merged = mergeCalicoIntoK8sNode(value('Node', 'n1', { bgp: { asNumber: 65001 }, ipv4VXLANTunnelAddr: '10.1.0.1' }, { labels: { zone: 'z' } }), node, '7');
    expect(merged.metadata.annotations).toEqual({ 'projectcalico.org/ASNumber': '65001', 'projectcalico.org/IPv4VXLANTunnelAddr': '10.1.0.1', other: 'kept' });
    expect(merged.metadata.labels).toEqual({ zone: 'z' });
    expect(merged.status).toBe(node.status);
  });
});

describe('WorkloadEndpoint from a Pod', () => {
  const pod = (annotations: Record<string, string>, status: unknown, spec: Record<string, unknown> = {}): KubeObject => ({
    metadata: { name: 'web-0', namespace: 'shop', resourceVersion: '9', annotations },
    spec: { nodeName: 'node-a', containers: [{ name: 'c' }], ...spec },
    status,
  });

  it('prefers the CNI annotations over status.podIPs, and a finished pod has no addresses', () => {
    expect(podToWorkloadEndpoint(pod({ 'cni.projectcalico.org/podIPs': '10.0.0.1/32,fd00::1/128' }, { podIPs: [{ ip: '10.9.9.9' }] }))?.value.spec).toMatchObject({ ipNetworks: ['10.0.0.1/32', 'fd00::1/128'] });
    expect(podToWorkloadEndpoint(pod({}, { podIPs: [{ ip: '10.9.9.9' }, { ip: 'fd00::9' }] }))?.value.spec).toMatchObject({ ipNetworks: ['10.9.9.9/32', 'fd00::9/128'] });
    expect(podToWorkloadEndpoint(pod({ 'cni.projectcalico.org/podIP': '10.0.0.1/32' }, { phase: 'Succeeded' }))?.value.spec).toMatchObject({ ipNetworks: [] });
    expect(podToWorkloadEndpoint(pod({ 'cni.projectcalico.org/podIPs': 'garbage,10.0.0.2' }, {}))?.value.spec).toMatchObject({ ipNetworks: ['10.0.0.2/32'] });
  });

  it('is named <node>-k8s-<pod>-eth0 with the cali interface; host-network and unscheduled pods make none', () => {
    const w = podToWorkloadEndpoint(pod({}, {}));
    expect(w?.key).toEqual({ kind: 'WorkloadEndpoint', name: 'node--a-k8s-web--0-eth0', namespace: 'shop' });
    expect((w?.value.spec as { interfaceName: string }).interfaceName).toMatch(/^cali[0-9a-f]{11}$/);
    expect(podToWorkloadEndpoint(pod({}, {}, { hostNetwork: true }))).toBeUndefined();
    expect(podToWorkloadEndpoint(pod({}, {}, { nodeName: undefined }))).toBeUndefined();
  });

  it('the CNI write is a merge patch of the three annotations; a delete clears them', () => {
    expect(podAnnotationPatch(value('WorkloadEndpoint', 'x', { ipNetworks: ['10.0.0.1/32'], containerID: 'c1' }), '9')).toEqual({
      metadata: { resourceVersion: '9', annotations: { 'cni.projectcalico.org/podIP': '10.0.0.1/32', 'cni.projectcalico.org/podIPs': '10.0.0.1/32', 'cni.projectcalico.org/containerID': 'c1' } },
    });
    expect(podAnnotationPatch(undefined)).toEqual({ metadata: { annotations: { 'cni.projectcalico.org/podIP': null, 'cni.projectcalico.org/podIPs': null, 'cni.projectcalico.org/containerID': null } } });
  });

  it('names parse back into node, pod and interface for any names Kubernetes allows', () => {
    const label = fc.stringMatching(/^[a-z0-9]([a-z0-9-]{0,20}[a-z0-9])?$/);
    fc.assert(
      fc.property(label, label, label, (n, p, i) => {
        expect(parseWepName(wepName(n, p, i))).toEqual({ node: n, pod: p, iface: i });
      }),
    );
    expect(parseWepName('not-a-wep')).toBeUndefined();
  });
});

describe('Profiles, knp policies and composite revisions', () => {
  it('profile names say which Namespace or ServiceAccount they come from', () => {
    expect(parseProfileName('kns.team-a')).toEqual({ namespace: 'team-a' });
    expect(parseProfileName('ksa.team-a.robot.v2')).toEqual({ namespace: 'team-a', serviceAccount: 'robot.v2' });
    expect(parseProfileName('my-profile')).toBeUndefined();
    expect(parseProfileName('ksa.only')).toBeUndefined();
  });

  it('a NetworkPolicy the model cannot convert is reported, never thrown', () => {
    const bad = k8sPolicyToStored({ metadata: { name: 'x', namespace: 'd' }, spec: { podSelector: {}, ingress: [{ from: [{}] }] } });
    expect(bad).toEqual({ error: expect.stringMatching(/NetworkPolicy d\/x: .*peer needs/) });
  });

  it('composite revisions split in two; another shape is refused', () => {
    expect(splitRevision('12/34', 2)).toEqual(['12', '34']);
    expect(splitRevision('', 2)).toEqual(['', '']);
    expect(splitRevision('12', 2)).toBeUndefined();
  });
});

describe('errors', () => {
  const server = 'https://10.0.0.1:6443';
  it('maps answers onto the datastore codes, a missing CRD to an install hint', () => {
    expect(statusToError(server, 404, { kind: 'Status', reason: 'NotFound', details: { name: 'p' } }, 'IPPool p').code).toBe('NotFound');
    const noCrd = statusToError(server, 404, { kind: 'Status', reason: 'NotFound', message: 'the server could not find the requested resource' }, 'ippools');
    expect(noCrd.code).toBe('Unavailable');
    expect(noCrd.message).toMatch(/manifests\/crds/);
    expect(statusToError(server, 404, { message: '404 page not found' }, 'ippools').message).toMatch(/manifests\/crds/);
    expect(statusToError(server, 404, { reason: 'NotFound', details: { name: 'team-x', kind: 'namespaces' } }, 'NetworkPolicy team-x/p').message).toMatch(/namespace team-x does not exist/);
    expect(statusToError(server, 409, { reason: 'AlreadyExists' }, 'x').code).toBe('AlreadyExists');
    expect(statusToError(server, 409, { reason: 'Conflict' }, 'x').code).toBe('Conflict');
    expect(statusToError(server, 410, { reason: 'Expired' }, 'x').code).toBe('Compacted');
    expect(statusToError(server, 422, { message: 'spec.cidr: Invalid value' }, 'x').message).toContain('spec.cidr');
    expect(statusToError(server, 401, undefined, 'x').message).toMatch(/KUBECONFIG/);
  });

  it('socket failures are Unavailable, naming the server and the cause', () => {
    const e = socketToError(server, Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' }), 4000);
    expect(e.code).toBe('Unavailable');
    expect(e.message).toContain(server);
    expect(e.message).toMatch(/connection refused/);
    expect(socketToError(server, Object.assign(new Error('x'), { code: 'ETIMEDOUT' }), 4000).message).toMatch(/no answer within 4000 ms/);
  });
});
