// 100 concurrent ADDs on one host fill the host's blocks one after another — ceil(100/64) = 2 /26
// blocks — instead of each racer claiming a block of its own, on a real etcd and on a real
// kube-apiserver; both through the plugins' own datastore path (each ADD its own datastore client,
// as each plugin process has, taking turns under the host's IPAM lock, as Calico's ipam.lock) and
// through tortie-node's CNI socket (the agent runs block writes one at a time).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import pino from 'pino';
import { EtcdBackend } from '../../datastore/backends/etcd.js';
import { EtcdStore } from '../../datastore/backends/etcd-store.js';
import { KubernetesStore } from '../../datastore/backends/kubernetes/store.js';
import type { Store } from '../../datastore/store.js';
import type { NetConf } from '../../cni/config.js';
import { directStore } from '../../cni/datastore.js';
import type { AssignRequest } from '../../cni/store.js';
import { IpamClient } from '../../ipam/allocator.js';
import { putPool } from '../../ipam/testing.js';
import { CniServer } from '../../node/cni-server.js';
import { startEtcd, type EtcdServer } from '../harness/etcd.js';
import type { KubeApiserver } from '../harness/kube.js';
import { startKubeWithCalicoCrds } from '../harness/kube-store.js';

const ADDS = 100;

const request = (node: string, i: number): AssignRequest => ({ handle: `k8s-pod-network.${node}-c${i}`, node, attrs: { node, namespace: 'default', pod: `p${i}` }, num4: 1, num6: 0 });

interface Backend {
  name: string;
  open(): Store;
  conf(node: string): NetConf;
}

async function blocksOf(store: Store, node: string): Promise<string[]> {
  const { items } = await store.list('IPAMBlock');
  return items.filter((o) => (o.value.spec as { affinity?: string }).affinity === `host:${node}`).map((o) => (o.value.spec as { cidr: string }).cidr);
}

function suite(backend: () => Backend): void {
  let admin: Store;
  beforeAll(async () => {
    admin = backend().open();
    await putPool(admin, 'lock-pool', { cidr: '10.77.0.0/16', blockSize: 26 });
  });
  afterAll(async () => admin?.close());

  it(`plugins without an agent: ${ADDS} ADDs at once on one host take 2 blocks, ${ADDS} distinct addresses`, async () => {
    const node = 'direct-host';
    const deadline = Date.now() + 600_000;
    const env = { TORTIE_IPAM_LOCK_FILE: `/run/tortie-test-ipam-${process.pid}.lock` };
    const ips = await Promise.all(
      Array.from({ length: ADDS }, async (_, i) => {
        const s = await directStore(backend().conf(node), env, deadline);
        try {
          return await s.assign(request(node, i));
        } finally {
          await s.close();
        }
      }),
    );
    expect(new Set(ips.flat()).size).toBe(ADDS);
    expect((await blocksOf(admin, node)).length).toBe(2);
  }, 900_000);

  it(`through tortie-node's CNI socket: ${ADDS} ADDs at once on one host take 2 blocks`, async () => {
    const node = 'agent-host';
    const store = backend().open();
    const server = new CniServer({ path: '/nonexistent', store, ipam: new IpamClient(store), log: pino({ level: 'silent' }) });
    try {
      const deadline = Date.now() + 600_000;
      const replies = await Promise.all(Array.from({ length: ADDS }, (_, i) => server.handle(JSON.stringify({ op: 'assign', args: [request(node, i)], deadline }))));
      const ips = replies.map((r) => (r.ok ? (r.value as string[]) : expect.fail(r.msg)));
      expect(new Set(ips.flat()).size).toBe(ADDS);
      expect((await blocksOf(admin, node)).length).toBe(2);
    } finally {
      await store.close();
    }
  }, 900_000);
}

describe('host IPAM lock on a real etcd', () => {
  let etcd: EtcdServer;
  beforeAll(async () => {
    etcd = await startEtcd();
  });
  afterAll(async () => etcd?.stop());
  suite(() => ({
    name: 'etcd',
    open: () => new EtcdStore(new EtcdBackend({ endpoints: [etcd.endpoint] })),
    conf: (node) => ({ cniVersion: '1.0.0', name: 'k8s-pod-network', type: 'calico', nodename: node, etcd_endpoints: etcd.endpoint }) as NetConf,
  }));
});

describe('host IPAM lock on a real kube-apiserver', () => {
  let kube: KubeApiserver;
  beforeAll(async () => {
    kube = await startKubeWithCalicoCrds();
  }, 300_000);
  afterAll(async () => kube?.stop());
  suite(() => ({
    name: 'kubernetes',
    open: () => new KubernetesStore({ kubeconfig: kube.kubeconfig, timeoutMs: 30_000 }),
    conf: (node) => ({ cniVersion: '1.0.0', name: 'k8s-pod-network', type: 'calico', nodename: node, datastore_type: 'kubernetes', kubernetes: { kubeconfig: kube.kubeconfig } }) as NetConf,
  }));
});
