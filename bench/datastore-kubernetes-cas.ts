// Read-modify-CAS throughput of the Kubernetes datastore (what an IPAM claim costs: get an
// IPAMBlock, update it against the revision read), next to the same loop straight on etcd in the
// same run — the etcd under that very kube-apiserver, the same JSON. Ratio > 1: Kubernetes faster.
// A first look at the goal (Kubernetes ≥ 0.5× etcd's allocation rate); the IPAM
// allocator itself is not in the loop.
//
//   npx tsx bench/datastore-kubernetes-cas.ts [--workers 8] [--seconds 5]
import { EtcdBackend } from '../datastore/backends/etcd.js';
import { KubernetesStore } from '../datastore/backends/kubernetes/store.js';
import type { StoredValue } from '../datastore/store.js';
import { startKubeWithCalicoCrds } from '../test/harness/kube-store.js';

const args = process.argv.slice(2);
const arg = (name: string, def: number): number => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? Number(args[i + 1]) : def;
};
const WORKERS = arg('workers', 8);
const SECONDS = arg('seconds', 5);

function blockSpec(i: number, n: number): Record<string, unknown> {
  const allocations: (number | null)[] = Array(64).fill(null);
  allocations[n % 64] = 0;
  return { cidr: `10.${i >> 8}.${i & 255}.0/26`, affinity: `host:node-${i}`, strictAffinity: false, allocations, unallocated: [...Array(64).keys()].filter((k) => k !== n % 64), attributes: [{ handle_id: `h-${n}` }], deleted: false };
}

const blockValue = (i: number, n: number): StoredValue => ({
  apiVersion: 'projectcalico.org/v3',
  kind: 'IPAMBlock',
  metadata: { name: `10-${i >> 8}-${i & 255}-0-26` },
  spec: blockSpec(i, n),
});

/** Runs `step` in WORKERS parallel loops for SECONDS; returns completed steps per second. */
async function rate(step: (worker: number, n: number) => Promise<void>): Promise<number> {
  const until = Date.now() + SECONDS * 1000;
  let done = 0;
  await Promise.all(
    Array.from({ length: WORKERS }, async (_, w) => {
      for (let n = 0; Date.now() < until; n++) {
        await step(w, n);
        done++;
      }
    }),
  );
  return done / SECONDS;
}

const kube = await startKubeWithCalicoCrds();
const store = new KubernetesStore({ kubeconfig: kube.kubeconfig });
const etcd = new EtcdBackend({ endpoints: [kube.etcd.endpoint] });
try {
  for (let w = 0; w < WORKERS; w++) {
    await store.create(blockValue(w, 0));
    await etcd.create(`/bench/ipam/block/${w}`, JSON.stringify(blockSpec(w, 0)));
  }
  const k8s = await rate(async (w, n) => {
    const cur = await store.get({ kind: 'IPAMBlock', name: blockValue(w, 0).metadata.name });
    await store.update(blockValue(w, n + 1), cur?.revision ?? '');
  });
  const ref = await rate(async (w, n) => {
    const cur = await etcd.get(`/bench/ipam/block/${w}`);
    await etcd.update(`/bench/ipam/block/${w}`, JSON.stringify(blockSpec(w, n + 1)), cur?.modRevision ?? 0);
  });
  console.log(`read-modify-CAS of an IPAMBlock, ${WORKERS} workers × ${SECONDS} s`);
  console.log(`  kubernetes (CRD via kube-apiserver): ${k8s.toFixed(0)}/s`);
  console.log(`  etcd (same etcd, raw key):           ${ref.toFixed(0)}/s`);
  console.log(`  ratio kubernetes/etcd: ${(k8s / ref).toFixed(2)}`);
} finally {
  await store.close();
  await etcd.close();
  await kube.stop();
}
