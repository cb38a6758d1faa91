// The Calico objects the Kubernetes datastore derives from Kubernetes' own, against a real
// kube-apiserver: Node ↔ Node (Calico fields in annotations), WorkloadEndpoint ↔ Pod, Profiles from
// Namespaces and ServiceAccounts, knp.default. policies from NetworkPolicies — and the writes
// Calico refuses on them.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DatastoreError } from '../../datastore/store.js';
import { KubernetesStore } from '../../datastore/backends/kubernetes/store.js';
import { wepName } from '../../datastore/model/wep-names.js';
import type { StoredValue, StoreEvent } from '../../datastore/store.js';
import type { KubeApiserver } from '../harness/kube.js';
import { startKubeWithCalicoCrds } from '../harness/kube-store.js';
import { makeTestCerts } from '../harness/tls.js';


async function rejection(p: Promise<unknown>): Promise<DatastoreError> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(DatastoreError);
  return err as DatastoreError;
}

async function until(cond: () => boolean, what: string, ms = 15_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe('Kubernetes datastore: kinds derived from Kubernetes objects', () => {
  let kube: KubeApiserver;
  let store: KubernetesStore;
  const warnings: string[] = [];
  const apply = (doc: unknown) => kube.kubectl(['apply', '-f', '-'], { input: JSON.stringify(doc) });

  beforeAll(async () => {
    kube = await startKubeWithCalicoCrds();
    store = new KubernetesStore({ kubeconfig: kube.kubeconfig, onWarning: (m) => warnings.push(m) });
  });
  afterAll(async () => {
    await store?.close();
    await kube?.stop();
  });

  it("Node is the Kubernetes Node: its labels, Calico's fields in projectcalico.org/ annotations, CAS on its resourceVersion", async () => {
    await apply({ apiVersion: 'v1', kind: 'Node', metadata: { name: 'node-1', labels: { zone: 'z1' } }, status: { addresses: [{ type: 'InternalIP', address: '192.0.2.11' }] } });
    const n = await store.get({ kind: 'Node', name: 'node-1' });
    expect(n?.value.metadata.labels).toEqual({ zone: 'z1' });
    expect(n?.value.spec).toMatchObject({ orchRefs: [{ nodeName: 'node-1', orchestrator: 'k8s' }] });

    const spec = { bgp: { ipv4Address: '192.0.2.11/24', asNumber: 64512, ipv4IPIPTunnelAddr: '10.0.0.1', routeReflectorClusterID: '224.0.0.1' }, ipv4VXLANTunnelAddr: '10.0.0.2', vxlanTunnelMACAddr: '66:0e:94:c9:6e:5b' };
    const updated = await store.update({ apiVersion: 'projectcalico.org/v3', kind: 'Node', metadata: { name: 'node-1', labels: { zone: 'z1', 'route-reflector': 'true' } }, spec }, n?.revision ?? '');
    const raw = JSON.parse((await kube.kubectl(['get', 'node', 'node-1', '-o', 'json'])).stdout) as { metadata: { labels: Record<string, string>; annotations: Record<string, string> } };
    expect(raw.metadata.annotations).toMatchObject({
      'projectcalico.org/IPv4Address': '192.0.2.11/24',
      'projectcalico.org/ASNumber': '64512',
      'projectcalico.org/IPv4IPIPTunnelAddr': '10.0.0.1',
      'projectcalico.org/RouteReflectorClusterID': '224.0.0.1',
      'projectcalico.org/IPv4VXLANTunnelAddr': '10.0.0.2',
      'projectcalico.org/VXLANTunnelMACAddr': '66:0e:94:c9:6e:5b',
    });
    // The Node's own labels are kubelet's; Calico-only labels ride in an annotation.
    expect(raw.metadata.labels).toEqual({ zone: 'z1' });
    expect(updated.value.metadata.labels).toEqual({ zone: 'z1', 'route-reflector': 'true' });
    expect(updated.value.spec).toMatchObject({ ...spec, addresses: [{ address: '192.0.2.11/24', type: 'CalicoNodeIP' }, { address: '192.0.2.11', type: 'InternalIP' }] });

    expect((await rejection(store.update({ apiVersion: 'projectcalico.org/v3', kind: 'Node', metadata: { name: 'node-1' }, spec: {} }, n?.revision ?? ''))).code).toBe('Conflict');
    const noCreate = await rejection(store.create({ apiVersion: 'projectcalico.org/v3', kind: 'Node', metadata: { name: 'node-2' }, spec: {} }));
    expect(noCreate.code).toBe('Invalid');
    expect(noCreate.message).toMatch(/Kubernetes Node/);
    expect((await rejection(store.delete({ kind: 'Node', name: 'node-1' }))).message).toMatch(/kubectl delete node node-1/);
    expect((await store.list('Node')).items.map((o) => o.key.name)).toEqual(['node-1']);
  });

  it('WorkloadEndpoint is the scheduled Pod: name <node>-k8s-<pod>-eth0, addresses from the CNI annotations or status.podIPs', async () => {
    await apply({ apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name: 'web-sa', namespace: 'default' } });
    const pod = (name: string, extra: Record<string, unknown> = {}) => ({
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { name, namespace: 'default', labels: { app: 'web' } },
      spec: { nodeName: 'node-1', serviceAccountName: 'web-sa', containers: [{ name: 'c', image: 'nginx', ports: [{ name: 'http', containerPort: 80 }] }], ...extra },
    });
    await apply(pod('web-1'));
    await apply(pod('host-pod', { hostNetwork: true }));
    await apply({ ...pod('unscheduled'), spec: { containers: [{ name: 'c', image: 'nginx' }] } });
    const name = wepName('node-1', 'web-1', 'eth0');
    expect(name).toBe('node--1-k8s-web--1-eth0');
    const wep = await store.get({ kind: 'WorkloadEndpoint', name, namespace: 'default' });
    expect(wep?.value.metadata.labels).toEqual({
      app: 'web',
      'projectcalico.org/namespace': 'default',
      'projectcalico.org/orchestrator': 'k8s',
      'projectcalico.org/serviceaccount': 'web-sa',
    });
    expect(wep?.value.spec).toMatchObject({ node: 'node-1', pod: 'web-1', endpoint: 'eth0', ipNetworks: [], profiles: ['kns.default', 'ksa.default.web-sa'], ports: [{ name: 'http', protocol: 'TCP', port: 80 }] });
    expect((await store.list('WorkloadEndpoint', 'default')).items.map((o) => o.key.name)).toEqual([name]);

    // What the CNI plugin does on ADD: its annotations on pods/status, compared on the pod's revision.
    const added = await store.update({ ...(wep?.value as StoredValue), spec: { ...(wep?.value.spec as object), ipNetworks: ['10.65.0.5/32'], containerID: 'abc' } }, wep?.revision ?? '');
    expect(added.value.spec).toMatchObject({ ipNetworks: ['10.65.0.5/32'], containerID: 'abc' });
    const ann = (await kube.kubectl(['get', 'pod', 'web-1', '-o', 'jsonpath={.metadata.annotations}'])).stdout;
    expect(JSON.parse(ann)).toMatchObject({ 'cni.projectcalico.org/podIP': '10.65.0.5/32', 'cni.projectcalico.org/podIPs': '10.65.0.5/32', 'cni.projectcalico.org/containerID': 'abc' });
    expect((await rejection(store.update(added.value, wep?.revision ?? ''))).code).toBe('Conflict');
    // DEL clears them; the pod stays (kubelet owns it).
    await store.delete({ kind: 'WorkloadEndpoint', name, namespace: 'default' });
    expect((await store.get({ kind: 'WorkloadEndpoint', name, namespace: 'default' }))?.value.spec).toMatchObject({ ipNetworks: [] });

    // Without the annotations, kubelet's status.podIPs count.
    await kube.kubectl(['patch', 'pod', 'web-1', '--subresource=status', '--type=merge', '-p', JSON.stringify({ status: { podIP: '10.65.0.9', podIPs: [{ ip: '10.65.0.9' }] } })]);
    expect((await store.get({ kind: 'WorkloadEndpoint', name, namespace: 'default' }))?.value.spec).toMatchObject({ ipNetworks: ['10.65.0.9/32'] });
    expect((await rejection(store.create({ apiVersion: 'projectcalico.org/v3', kind: 'WorkloadEndpoint', metadata: { name: wepName('node-1', 'nopod', 'eth0'), namespace: 'default' }, spec: {} }))).code).toBe('NotFound');
  });

  it('Profiles kns.<ns> and ksa.<ns>.<sa> come from Namespaces and ServiceAccounts, are watched, and cannot be written', async () => {
    await apply({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'team-a', labels: { tier: 'gold' } } });
    await apply({ apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name: 'robot', namespace: 'team-a', labels: { role: 'ci' } } });
    const kns = await store.get({ kind: 'Profile', name: 'kns.team-a' });
    expect(kns?.value.spec).toMatchObject({ ingress: [{ action: 'Allow' }], egress: [{ action: 'Allow' }], labelsToApply: { 'pcns.tier': 'gold', 'pcns.projectcalico.org/name': 'team-a' } });
    const ksa = await store.get({ kind: 'Profile', name: 'ksa.team-a.robot' });
    expect(ksa?.value.spec).toMatchObject({ labelsToApply: { 'pcsa.role': 'ci', 'pcsa.projectcalico.org/name': 'robot' } });
    const all = await store.list('Profile');
    expect(all.items.map((o) => o.key.name)).toEqual(expect.arrayContaining(['kns.default', 'kns.team-a', 'ksa.default.web-sa', 'ksa.team-a.robot']));
    expect(all.revision).toMatch(/^\d+\/\d+$/);

    const events: StoreEvent[] = [];
    const w = store.watch('Profile', all.revision, { onEvents: (evs) => events.push(...evs), onError: () => undefined });
    try {
      await kube.kubectl(['label', 'namespace', 'team-a', 'tier=silver', '--overwrite']);
      await until(() => events.some((e) => e.type === 'modified' && e.object.key.name === 'kns.team-a'), 'the namespace change');
    } finally {
      await w.close();
    }

    expect(store.readOnly({ kind: 'Profile', name: 'kns.team-a' })).toMatch(/derived from Namespaces/);
    const err = await rejection(store.create({ apiVersion: 'projectcalico.org/v3', kind: 'Profile', metadata: { name: 'mine' }, spec: {} }));
    expect(err.code).toBe('Invalid');
    expect(err.message).toMatch(/kubectl/);
    expect((await rejection(store.delete({ kind: 'Profile', name: 'kns.team-a' }))).code).toBe('Invalid');
  });

  it('a networking.k8s.io NetworkPolicy is the read-only NetworkPolicy knp.default.<name>, listed and watched with Calico\'s own', async () => {
    await store.create({ apiVersion: 'projectcalico.org/v3', kind: 'NetworkPolicy', metadata: { name: 'calico-own', namespace: 'default' }, spec: { selector: 'all()' } });
    const before = await store.list('NetworkPolicy', 'default');
    const events: StoreEvent[] = [];
    const w = store.watch('NetworkPolicy', before.revision, { onEvents: (evs) => events.push(...evs), onError: () => undefined }, 'default');
    try {
      await apply({
        apiVersion: 'networking.k8s.io/v1',
        kind: 'NetworkPolicy',
        metadata: { name: 'allow-web', namespace: 'default' },
        spec: { podSelector: { matchLabels: { app: 'web' } }, ingress: [{ ports: [{ port: 80 }] }] },
      });
      await until(() => events.some((e) => e.type === 'added' && e.object.key.name === 'knp.default.allow-web'), 'the knp policy');
    } finally {
      await w.close();
    }
    const knp = await store.get({ kind: 'NetworkPolicy', name: 'knp.default.allow-web', namespace: 'default' });
    expect(knp?.value.spec).toEqual({
      order: 1000,
      selector: "projectcalico.org/orchestrator == 'k8s' && app == 'web'",
      types: ['Ingress'],
      ingress: [{ action: 'Allow', protocol: 'TCP', destination: { ports: [80] } }],
    });
    expect((await store.list('NetworkPolicy', 'default')).items.map((o) => o.key.name)).toEqual(['calico-own', 'knp.default.allow-web']);
    expect(store.readOnly({ kind: 'NetworkPolicy', name: 'knp.default.allow-web', namespace: 'default' })).toMatch(/allow-web.*read-only/);
    expect(store.readOnly({ kind: 'NetworkPolicy', name: 'calico-own', namespace: 'default' })).toBeUndefined();
    const err = await rejection(store.update(knp?.value as StoredValue, knp?.revision ?? ''));
    expect(err.code).toBe('Invalid');
    expect((await rejection(store.delete({ kind: 'NetworkPolicy', name: 'knp.default.allow-web', namespace: 'default' }))).code).toBe('Invalid');
    expect(warnings).toEqual([]);
  });

  it("a kubeconfig whose CA did not sign the apiserver's certificate is Unavailable, saying so", async () => {
    const other = await makeTestCerts('not-the-kube-ca');
    try {
      const path = join(other.dir, 'kubeconfig');
      writeFileSync(
        path,
        `apiVersion: v1\nkind: Config\nclusters: [{name: c, cluster: {server: "${kube.server}", certificate-authority: "${other.caFile}"}}]\n` +
          `users: [{name: u, user: {client-certificate: "${other.clientCertFile}", client-key: "${other.clientKeyFile}"}}]\n` +
          'contexts: [{name: x, context: {cluster: c, user: u}}]\ncurrent-context: x\n',
      );
      const s = new KubernetesStore({ kubeconfig: path });
      try {
        const err = await rejection(s.list('IPPool'));
        expect(err.code).toBe('Unavailable');
        expect(err.message).toContain(kube.server);
        expect(err.message).toMatch(/certificate/);
      } finally {
        await s.close();
      }
    } finally {
      other.cleanup();
    }
  });

  it("a kind whose CRD is not installed is Unavailable, saying to apply manifests/crds/", async () => {
    await kube.kubectl(['delete', 'crd', 'ipamconfigs.crd.projectcalico.org', '--wait=true']);
    const err = await rejection(store.list('IPAMConfig'));
    expect(err.code).toBe('Unavailable');
    expect(err.message).toMatch(/kubectl apply -f manifests\/crds\//);
  });
});
