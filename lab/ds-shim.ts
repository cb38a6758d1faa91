// The lab's stand-in for the Kubernetes namespace controller, run inside a host namespace (where
// etcd is reachable): `namespace NAME LABELS_JSON` writes the namespace's Profile kns.NAME as
// Calico's Kubernetes converter does (labels applied with the pcns. prefix). Pods are not made
// here: they go through the real CNI plugin (lab/cni.ts). `node-del NAME` decommissions a node as
// calicoctl's node deletion does: its tunnel addresses and block affinities released (empty blocks
// go), then the Node resource deleted (which drops it from every BGP mesh).
import { configFromEnv } from '../datastore/config.js';
import { createStore } from '../datastore/backends/index.js';
import type { StoredValue } from '../datastore/store.js';
import { namespaceToProfile } from '../datastore/model/k8s.js';
import { IpamClient } from '../ipam/allocator.js';

async function main(): Promise<void> {
  const [op, name, labelsJson] = process.argv.slice(2);
  if (op === 'node-del' && name) return deleteNode(name);
  if (op !== 'namespace' || !name) throw new Error('usage: ds-shim namespace NAME LABELS_JSON | node-del NAME');
  await writeNamespace(name, JSON.parse(labelsJson ?? '{}') as Record<string, string>);
}

async function writeNamespace(name: string, labels: Record<string, string>): Promise<void> {
  const store = await createStore(configFromEnv(process.env));
  try {
    const doc = namespaceToProfile(name, labels) as unknown as StoredValue;
    const cur = await store.get({ kind: 'Profile', name: `kns.${name}` });
    if (cur) await store.update(doc, cur.revision);
    else await store.create(doc);
  } finally {
    await store.close();
  }
}

async function deleteNode(name: string): Promise<void> {
  const store = await createStore(configFromEnv(process.env));
  try {
    const ipam = new IpamClient(store);
    for (const handle of ['ipipTunnelAddress', 'vxlanTunnelAddress', 'vxlan-v6-tunnel-addr']) await ipam.releaseByHandle(`${handle}-${name}`);
    const { kept } = await ipam.releaseHostAffinities(name);
    if (kept.length) process.stderr.write(`ds-shim: blocks ${kept.join(', ')} still hold addresses; their affinity stays\n`);
    await store.delete({ kind: 'Node', name }).catch(() => undefined);
  } finally {
    await store.close();
  }
}

main().catch((e: unknown) => {
  process.stderr.write(`ds-shim: ${e instanceof Error ? e.message : String(e)}\n`);
  process.exit(1);
});
