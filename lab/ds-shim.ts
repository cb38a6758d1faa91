// What the CNI plugin does against the datastore for a lab pod, run inside the pod's host
// namespace (where etcd is reachable): `add NODE NAMESPACE POD IFACE` assigns an address through
// IPAM and writes the WorkloadEndpoint (pod labels from an optional JSON argument), printing the
// address; `del NODE NAMESPACE POD` undoes it; `namespace NAME LABELS_JSON` writes the namespace's
// Profile kns.NAME as Calico's Kubernetes converter does (labels applied with the pcns. prefix).
import { configFromEnv } from '../datastore/config.js';
import { createBackend } from '../datastore/backends/index.js';
import { resourceKey } from '../datastore/keys.js';
import { IpamClient } from '../ipam/allocator.js';
import { namespaceToProfile } from '../datastore/model/k8s.js';

/** Calico's WorkloadEndpoint name for a Kubernetes pod. */
function wepName(node: string, pod: string): string {
  const esc = (s: string): string => s.replace(/-/g, '--');
  return `${esc(node)}-k8s-${esc(pod)}-eth0`;
}

async function main(): Promise<void> {
  const [op, node, namespace, pod, iface, labelsJson] = process.argv.slice(2);
  if (op === 'namespace' && node) return writeNamespace(node, JSON.parse(namespace ?? '{}') as Record<string, string>);
  if (!op || !node || !namespace || !pod) throw new Error('usage: ds-shim add|del NODE NAMESPACE POD [IFACE [LABELS_JSON]] | namespace NAME LABELS_JSON');
  const backend = createBackend(configFromEnv(process.env));
  const ipam = new IpamClient(backend);
  const handleId = `k8s-pod-network.${namespace}.${pod}`;
  const key = resourceKey('workloadendpoints', wepName(node, pod), namespace);
  try {
    if (op === 'add') {
      if (!iface) throw new Error('add needs IFACE');
      const r = await ipam.autoAssign({ handleId, hostname: node, num4: 1, attrs: { namespace, pod, node } });
      const ip = r.ipv4[0]?.ip;
      if (!ip) throw new Error(`no address available for ${namespace}/${pod} on ${node}`);
      const doc = {
        apiVersion: 'projectcalico.org/v3',
        kind: 'WorkloadEndpoint',
        metadata: { name: wepName(node, pod), namespace, labels: { ...(JSON.parse(labelsJson ?? '{}') as Record<string, string>), 'projectcalico.org/namespace': namespace, 'projectcalico.org/orchestrator': 'k8s' } },
        spec: { orchestrator: 'k8s', node, pod, endpoint: 'eth0', interfaceName: iface, ipNetworks: [`${ip}/32`], profiles: [`kns.${namespace}`] },
      };
      await backend.create(key, JSON.stringify(doc));
      process.stdout.write(`${ip}\n`);
    } else if (op === 'del') {
      await backend.delete(key).catch(() => undefined);
      await ipam.releaseByHandle(handleId);
    } else {
      throw new Error(`unknown op ${op}`);
    }
  } finally {
    await backend.close();
  }
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

main().catch((e: unknown) => {
  process.stderr.write(`ds-shim: ${e instanceof Error ? e.message : String(e)}\n`);
  process.exit(1);
});
