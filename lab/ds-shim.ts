// The lab's stand-in for the Kubernetes namespace controller, run inside a host namespace (where
// etcd is reachable): `namespace NAME LABELS_JSON` writes the namespace's Profile kns.NAME as
// Calico's Kubernetes converter does (labels applied with the pcns. prefix). Pods are not made
// here: they go through the real CNI plugin (lab/cni.ts). `node-del NAME` decommissions a node as
// calicoctl's node deletion does: its tunnel addresses and block affinities released (empty blocks
// go), then the Node resource deleted (which drops it from every BGP mesh).
import { configFromEnv } from '../datastore/config.js';
import { createBackend } from '../datastore/backends/index.js';
import { resourceKey } from '../datastore/keys.js';
import { namespaceToProfile } from '../datastore/model/k8s.js';
import { IpamClient } from '../ipam/allocator.js';

async function main(): Promise<void> {
  const [op, name, labelsJson] = process.argv.slice(2);
  if (op === 'node-del' && name) return deleteNode(name);
  if (op !== 'namespace' || !name) throw new Error('usage: ds-shim namespace NAME LABELS_JSON | node-del NAME');
  await writeNamespace(name, JSON.parse(labelsJson ?? '{}') as Record<string, string>);
}

async function writeNamespace(name: string, labels: Record<string, string>): Promise<void> {
  const backend = createBackend(configFromEnv(process.env));
  try {
    const doc = namespaceToProfile(name, labels);
    const key = resourceKey('profiles', `kns.${name}`);
    const cur = await backend.get(key);
    if (cur) await backend.update(key, JSON.stringify(doc), cur.modRevision);
    else await backend.create(key, JSON.stringify(doc));
  } finally {
    await backend.close();
  }
}

async function deleteNode(name: string): Promise<void> {
  const backend = createBackend(configFromEnv(process.env));
  try {
    const ipam = new IpamClient(backend);
    for (const kind of ['ipip', 'vxlan']) await ipam.releaseByHandle(`${kind}TunnelAddress-${name}`);
    const { kept } = await ipam.releaseHostAffinities(name);
    if (kept.length) process.stderr.write(`ds-shim: blocks ${kept.join(', ')} still hold addresses; their affinity stays\n`);
    await backend.delete(resourceKey('nodes', name)).catch(() => undefined);
  } finally {
    await backend.close();
  }
}

main().catch((e: unknown) => {
  process.stderr.write(`ds-shim: ${e instanceof Error ? e.message : String(e)}\n`);
  process.exit(1);
});
