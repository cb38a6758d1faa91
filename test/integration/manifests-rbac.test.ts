// Least privilege, proved on a real kube-apiserver with Node,RBAC authorization: tortie.yaml's
// ServiceAccounts, ClusterRoles and bindings applied as shipped; each component talks to the
// apiserver with its own account's token (`kubectl create token`, as a pod's mounted token) and
// does its job through the production code paths, and a verb its role does not grant is refused
// with 403 Forbidden.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BGP_CONFIG_KINDS } from '../../bgp/config/from-datastore.js';
import { DirectStore } from '../../cni/direct-store.js';
import { hostVethName, wepName, wepResource } from '../../cni/wep.js';
import { KubernetesStore } from '../../datastore/backends/kubernetes/store.js';
import { ResourceClient } from '../../datastore/client.js';
import type { Store } from '../../datastore/store.js';
import { Syncer, type SyncStatus } from '../../datastore/syncer.js';
import { IpamClient } from '../../ipam/allocator.js';
import { ROUTING_KINDS } from '../../node/agent.js';
import { POLICY_KINDS } from '../../node/policy.js';
import { ensureDefaultPool, upsertNode } from '../../node/register.js';
import { kubeApiFromEnv } from '../../node/services/advertiser.js';
import { KubeCache } from '../../node/services/kube-cache.js';
import { pino } from 'pino';
import { waitFor } from '../harness/daemon.js';
import { ROOT } from '../harness/entry.js';
import type { KubeApiserver } from '../harness/kube.js';
import { startKubeWithCalicoCrds } from '../harness/kube-store.js';

const NODE = 'rb-node1';
const POD = { namespace: 'default', name: 'rb-pod' };

/** The error a promise rejects with (fails the test when it resolves). */
async function refusal(p: Promise<unknown>): Promise<string> {
  return p.then(
    () => {
      throw new Error('expected a refusal, but the call was allowed');
    },
    (e: Error) => e.message,
  );
}

describe('tortie.yaml RBAC: each component with its own ServiceAccount (Node,RBAC apiserver)', () => {
  let kube: KubeApiserver;
  const kubeconfigs: Record<'node' | 'cni' | 'controllers', string> = { node: '', cni: '', controllers: '' };
  const stores: Store[] = [];
  const storeAs = (who: keyof typeof kubeconfigs): Store => {
    const s = new KubernetesStore({ kubeconfig: kubeconfigs[who] });
    stores.push(s);
    return s;
  };
  /** kubectl as a component; resolves with stdout, rejects with kubectl's message. */
  const kubectlAs = async (who: keyof typeof kubeconfigs, args: string[]): Promise<string> => (await kube.kubectlAs(kubeconfigs[who], args)).stdout;
  const forbidden = async (who: keyof typeof kubeconfigs, args: string[]): Promise<void> => {
    expect(await refusal(kubectlAs(who, args))).toMatch(/Forbidden|forbidden/);
  };

  beforeAll(async () => {
    kube = await startKubeWithCalicoCrds();
    await kube.kubectl(['apply', '--server-side', '-f', `${ROOT}/manifests/tortie.yaml`]);
    // What kubelet and the scheduler would have made: the Node and a pod bound to it.
    await kube.kubectl(['apply', '-f', '-'], { input: JSON.stringify({ apiVersion: 'v1', kind: 'Node', metadata: { name: NODE } }) });
    await kube.kubectl(['apply', '-f', '-'], {
      input: JSON.stringify({ apiVersion: 'v1', kind: 'Pod', metadata: { ...POD, labels: { app: 'rb' } }, spec: { nodeName: NODE, containers: [{ name: 'c', image: 'pause' }] } }),
    });
    // A Kubernetes NetworkPolicy: tortie-node reads it as knp.default.rb-deny (a valid Calico policy).
    await kube.kubectl(['apply', '-f', '-'], {
      input: JSON.stringify({ apiVersion: 'networking.k8s.io/v1', kind: 'NetworkPolicy', metadata: { name: 'rb-deny', namespace: 'default' }, spec: { podSelector: { matchLabels: { app: 'rb' } }, policyTypes: ['Ingress'] } }),
    });
    kubeconfigs.node = await kube.accountKubeconfig('tortie-node');
    kubeconfigs.cni = await kube.accountKubeconfig('tortie-cni-plugin');
    kubeconfigs.controllers = await kube.accountKubeconfig('tortie-kube-controllers');
  }, 600_000);

  afterAll(async () => {
    await Promise.all(stores.map((s) => s.close()));
    await kube?.stop();
  }, 60_000);

  it('tortie-node: creates the default pool, registers its Node, allocates its tunnel address and syncs every kind it follows', async () => {
    const store = storeAs('node');
    expect(await ensureDefaultPool(store, { cidr: '10.71.0.0/16', blockSize: 26, ipipMode: 'Always', vxlanMode: 'Never', natOutgoing: true })).toBe('10.71.0.0/16');
    await upsertNode(store, NODE, (spec) => ({ ...spec, bgp: { ipv4Address: '10.0.0.71/24', asNumber: 64512 } }));
    const tunnel = await new IpamClient(store).autoAssign({ handleId: `ipip-tunnel-addr-${NODE}`, hostname: NODE, num4: 1, use: 'Tunnel', attrs: { node: NODE, type: 'ipipTunnelAddress' } });
    expect(tunnel.ipv4[0]?.ip).toMatch(/^10\.71\./);
    const errors: string[] = [];
    let status: SyncStatus | undefined;
    // The agent's syncer and its BGP peer generator's, as tortie-node runs them.
    const syncers = [[...ROUTING_KINDS, ...POLICY_KINDS], [...BGP_CONFIG_KINDS]].map(
      (kinds) =>
        new Syncer({ store, kinds, onEvents: () => undefined, onStatus: (s) => (status = s), onError: (e, kind) => errors.push(`${kind}: ${e.message}`), onInvalid: (b) => errors.push(`invalid ${b.where}: ${b.reason}`) }),
    );
    try {
      for (const s of syncers) s.start();
      await waitFor(`in sync (errors: ${errors.join('; ')})`, async () => (syncers.every((s) => s.status === 'in-sync') ? true : undefined), 60_000, 100);
      expect(status).toBe('in-sync');
      // Nothing refused by RBAC, nothing missing or invalid. A call that timed out or a watch that
      // dropped on a loaded machine is retried by the syncer (and it is in sync above).
      expect(errors.filter((e) => /forbidden|unauthorized|no such resource|^invalid/i.test(e)), errors.join('\n')).toEqual([]);
      expect(syncers[0].get({ kind: 'NetworkPolicy', name: 'knp.default.rb-deny', namespace: 'default' })).toBeDefined();
      expect(syncers[0].get({ kind: 'Profile', name: 'kns.default' })).toBeDefined();
      const node = syncers[0].get({ kind: 'Node', name: NODE });
      expect(node?.value.spec).toMatchObject({ bgp: { ipv4Address: '10.0.0.71/24', asNumber: 64512 } });
    } finally {
      await Promise.all(syncers.map((s) => s.stop()));
    }
    // install-cni (in tortie-node's pod, with its account) asks for the CNI plugin's token.
    expect((await kubectlAs('node', ['create', 'token', 'tortie-cni-plugin', '-n', 'kube-system'])).trim()).toMatch(/^ey/);
  }, 120_000);

  it('tortie-node: lists and watches Services and EndpointSlices (service IP advertisement)', async () => {
    const api = kubeApiFromEnv({ KUBECONFIG: kubeconfigs.node }, pino({ level: 'silent' }));
    const errors: string[] = [];
    const caches = ['/api/v1/services', '/apis/discovery.k8s.io/v1/endpointslices'].map(
      (path) => new KubeCache({ api: api as NonNullable<typeof api>, path, what: path, onChange: () => undefined, onError: (e) => errors.push(e.message) }),
    );
    try {
      for (const c of caches) c.start();
      await kube.kubectl(['apply', '-f', '-'], { input: JSON.stringify({ apiVersion: 'v1', kind: 'Service', metadata: { name: 'rb-svc', namespace: 'default' }, spec: { ports: [{ port: 80 }] } }) });
      await kube.kubectl(['apply', '-f', '-'], {
        input: JSON.stringify({ apiVersion: 'discovery.k8s.io/v1', kind: 'EndpointSlice', metadata: { name: 'rb-svc-1', namespace: 'default', labels: { 'kubernetes.io/service-name': 'rb-svc' } }, addressType: 'IPv4', endpoints: [{ addresses: ['10.71.0.9'], nodeName: NODE }] }),
      });
      await waitFor(`both seen (errors: ${errors.join('; ')})`, async () => (caches.every((c) => c.list().some((o) => o.metadata.name.startsWith('rb-svc'))) ? true : undefined), 30_000, 100);
      expect(errors).toEqual([]);
    } finally {
      for (const c of caches) c.stop();
      api?.close();
    }
    await forbidden('node', ['delete', 'service', 'rb-svc']);
    await forbidden('node', ['delete', 'endpointslice', 'rb-svc-1']);
  }, 60_000);

  it('tortie-node: refused what it was not granted', async () => {
    await forbidden('node', ['create', 'token', 'tortie-kube-controllers', '-n', 'kube-system']);
    await forbidden('node', ['get', 'secrets', '-n', 'kube-system']);
    await forbidden('node', ['delete', 'ippools.crd.projectcalico.org', 'default-ipv4-ippool']);
    await forbidden('node', ['delete', 'node', NODE]);
    await forbidden('node', ['label', 'node', NODE, 'x=y']);
    await forbidden('node', ['delete', 'pod', POD.name, '-n', POD.namespace]);
    await forbidden('node', ['delete', 'bgppeers.crd.projectcalico.org', 'x']);
    // Through the Store too: the error names the RBAC refusal.
    const err = await refusal(storeAs('node').delete({ kind: 'IPPool', name: 'default-ipv4-ippool' }));
    expect(err).toMatch(/forbidden: .*cannot (delete|update) resource "ippools"/);
  }, 60_000);

  it('the CNI plugin: reads its pod, assigns an address, writes and removes the endpoint, releases the address', async () => {
    const store = storeAs('cni');
    const cni = new DirectStore(store, new IpamClient(store), Date.now() + 30_000);
    const pod = await cni.pod(kubeconfigs.cni, POD.namespace, POD.name);
    expect(pod.labels).toEqual({ app: 'rb' });
    const handle = 'k8s-pod-network.cid-rb';
    const ips = await cni.assign({ handle, node: NODE, attrs: { node: NODE, namespace: POD.namespace, pod: POD.name }, num4: 1, num6: 0 });
    expect(ips).toHaveLength(1);
    expect(ips[0]).toMatch(/^10\.71\./);
    const ref = { name: wepName(NODE, POD.name, 'eth0'), namespace: POD.namespace };
    await cni.putEndpoint(
      wepResource({ node: NODE, namespace: POD.namespace, pod: POD.name, containerId: 'cid-rb', endpoint: 'eth0', interfaceName: hostVethName(POD.namespace, POD.name, 'cid-rb'), ipNetworks: [`${ips[0]}/32`], mac: 'ee:ee:ee:ee:ee:ee', labels: pod.labels }),
    );
    expect(await cni.hasEndpoint(ref)).toBe(true);
    // tortie-node reads the pod back as a valid WorkloadEndpoint.
    const weps = await new ResourceClient(storeAs('node')).list('WorkloadEndpoint', { namespace: POD.namespace });
    expect(weps.invalid).toEqual([]);
    expect(weps.items.map((w) => w.metadata.name)).toEqual([ref.name]);
    const podIps = JSON.parse((await kube.kubectl(['get', 'pod', POD.name, '-n', POD.namespace, '-o', 'json'])).stdout) as { metadata: { annotations?: Record<string, string> } };
    expect(podIps.metadata.annotations?.['cni.projectcalico.org/podIP']).toBe(`${ips[0]}/32`);
    expect(await cni.removeEndpoint(ref, 'cid-rb')).toEqual([`${ips[0]}/32`]);
    await cni.release(handle);
    expect(await cni.held(handle)).toEqual([]);
  }, 60_000);

  it('the CNI plugin: refused what it was not granted', async () => {
    await forbidden('cni', ['get', 'secrets', '-n', 'kube-system']);
    await forbidden('cni', ['get', 'pods', '-A']);
    await forbidden('cni', ['label', 'pod', POD.name, '-n', POD.namespace, 'x=y']);
    await forbidden('cni', ['delete', 'pod', POD.name, '-n', POD.namespace]);
    await forbidden('cni', ['create', 'token', 'tortie-node', '-n', 'kube-system']);
    await forbidden('cni', ['delete', 'ippools.crd.projectcalico.org', 'default-ipv4-ippool']);
    const err = await refusal(upsertNode(storeAs('cni'), NODE, (spec) => ({ ...spec, bgp: { ipv4Address: '10.0.0.99/24' } })));
    expect(err).toMatch(/forbidden: .*nodes\/status/);
  }, 60_000);

  it('tortie-controllers: reads Nodes, Pods and IPAM; refused writes outside IPAM', async () => {
    expect(await kubectlAs('controllers', ['get', 'nodes', '-o', 'name'])).toContain(`node/${NODE}`);
    expect(await kubectlAs('controllers', ['get', 'pods', '-A', '-o', 'name'])).toContain(`pod/${POD.name}`);
    const blocks = await storeAs('controllers').list('IPAMBlock');
    expect(blocks.items.length).toBeGreaterThan(0);
    await forbidden('controllers', ['delete', 'node', NODE]);
    await forbidden('controllers', ['delete', 'pod', POD.name, '-n', POD.namespace]);
    await forbidden('controllers', ['get', 'secrets', '-n', 'kube-system']);
    await forbidden('controllers', ['create', 'token', 'tortie-node', '-n', 'kube-system']);
    await forbidden('controllers', ['delete', 'ippools.crd.projectcalico.org', 'default-ipv4-ippool']);
    const err = await refusal(storeAs('controllers').create({ apiVersion: 'projectcalico.org/v3', kind: 'BGPPeer', metadata: { name: 'x' }, spec: { peerIP: '10.0.0.1', asNumber: 64512 } }));
    expect(err).toMatch(/forbidden: .*cannot create resource "bgppeers"/);
  }, 60_000);
});
