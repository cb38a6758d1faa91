// tortie-controllers' node controller on the Kubernetes datastore (calico.yaml's setup): IPAM as
// Calico's CRDs on a real kube-apiserver; `kubectl delete node` releases that node's blocks,
// affinities and addresses, and an address no pod holds goes after the grace period.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { KubernetesStore } from '../../datastore/backends/kubernetes/store.js';
import { IpamClient } from '../../ipam/allocator.js';
import { ordinalToIp } from '../../ipam/block.js';
import { snapshot } from '../../ipam/check.js';
import { affinityHost } from '../../ipam/model.js';
import { putPool } from '../../ipam/testing.js';
import { manifestAccount, runControllers } from '../harness/controllers-ipam.js';
import { waitFor } from '../harness/daemon.js';
import type { KubeApiserver } from '../harness/kube.js';
import { startKubeWithCalicoCrds } from '../harness/kube-store.js';

describe('tortie-controllers on the Kubernetes datastore (real kube-apiserver, Calico CRDs)', () => {
  let kube: KubeApiserver;
  let store: KubernetesStore;
  let ctl: ReturnType<typeof runControllers> | undefined;
  const ips: Record<string, string> = {};

  const allocated = async (): Promise<Set<string>> => {
    const out = new Set<string>();
    for (const { block } of (await snapshot(store)).blocks) block.allocations.forEach((a, ord) => a !== null && out.add(ordinalToIp(block, ord)));
    return out;
  };
  const hosts = async (): Promise<Set<string>> => {
    const s = await snapshot(store);
    return new Set([...s.affinities.map((a) => a.host), ...s.blocks.map((b) => affinityHost(b.block) ?? '')].filter(Boolean));
  };

  beforeAll(async () => {
    kube = await startKubeWithCalicoCrds();
    store = new KubernetesStore({ kubeconfig: kube.kubeconfig });
    await putPool(store, 'ct-pool', { cidr: '10.78.0.0/16', blockSize: 26 });
    for (const n of ['ct-k1', 'ct-k2']) await kube.kubectl(['apply', '-f', '-'], { input: JSON.stringify({ apiVersion: 'v1', kind: 'Node', metadata: { name: n } }) });
    const ipam = new IpamClient(store);
    let cid = 0;
    for (const [node, pod] of [['ct-k1', 'live'], ['ct-k1', 'ghost'], ['ct-k2', 'onk2']]) {
      const r = await ipam.autoAssign({ handleId: `k8s-pod-network.c${cid++}`, hostname: node, num4: 1, attrs: { node, namespace: 'default', pod } });
      ips[pod] = r.ipv4[0]?.ip ?? '';
    }
    for (const [pod, node] of [['live', 'ct-k1'], ['onk2', 'ct-k2']]) {
      await kube.kubectl(['apply', '-f', '-'], { input: JSON.stringify({ apiVersion: 'v1', kind: 'Pod', metadata: { name: pod, namespace: 'default' }, spec: { nodeName: node, containers: [{ name: 'c', image: 'pause' }] } }) });
      await kube.kubectl(['patch', 'pod', pod, '--subresource=status', '--type=merge', '-p', JSON.stringify({ status: { podIPs: [{ ip: ips[pod] }] } })]);
    }
  }, 600_000);

  afterAll(async () => {
    if (ctl && ctl.child.exitCode === null) {
      ctl.child.kill('SIGTERM');
      await ctl.exited;
    }
    await store?.close();
    await kube?.stop();
  }, 60_000);

  it('with only tortie.yaml’s RBAC, releases a leaked address after the grace period and a deleted node’s blocks and addresses at once', async () => {
    ctl = runControllers({ DATASTORE_TYPE: 'kubernetes', KUBECONFIG: await manifestAccount(kube, 'tortie.yaml'), ENABLED_CONTROLLERS: 'node', LEAK_GRACE_PERIOD: '2s', TORTIE_HEALTH_PORT: '0', PROMETHEUS_METRICS_PORT: '0' });
    await waitFor(`the leaked address released (log: ${ctl.output().slice(-300)})`, async () => (!(await allocated()).has(ips.ghost) ? true : undefined), 120_000, 250);
    expect((await allocated()).has(ips.live)).toBe(true);
    expect((await hosts()).has('ct-k2')).toBe(true);
    await kube.kubectl(['delete', 'node', 'ct-k2']);
    await waitFor('ct-k2 gone from IPAM', async () => (!(await hosts()).has('ct-k2') ? true : undefined), 120_000, 250);
    expect((await allocated()).has(ips.onk2)).toBe(false);
    expect((await allocated()).has(ips.live)).toBe(true);
    expect((await hosts()).has('ct-k1')).toBe(true);
  }, 300_000);
});
