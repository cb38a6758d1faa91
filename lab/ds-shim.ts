// What the CNI plugin does against the datastore for a lab pod, run inside the pod's host
// namespace (where etcd is reachable): `add NODE NAMESPACE POD IFACE` assigns an address through
// IPAM and writes the WorkloadEndpoint, printing the address; `del NODE NAMESPACE POD` undoes it.
import { configFromEnv } from '../datastore/config.js';
import { createBackend } from '../datastore/backends/index.js';
import { resourceKey } from '../datastore/keys.js';
import { IpamClient } from '../ipam/allocator.js';

/** Calico's WorkloadEndpoint name for a Kubernetes pod. */
function wepName(node: string, pod: string): string {
  const esc = (s: string): string => s.replace(/-/g, '--');
  return `${esc(node)}-k8s-${esc(pod)}-eth0`;
}

async function main(): Promise<void> {
  const [op, node, namespace, pod, iface] = process.argv.slice(2);
  if (!op || !node || !namespace || !pod) throw new Error('usage: ds-shim add|del NODE NAMESPACE POD [IFACE]');
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
        metadata: { name: wepName(node, pod), namespace, labels: { 'projectcalico.org/namespace': namespace, 'projectcalico.org/orchestrator': 'k8s' } },
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

main().catch((e: unknown) => {
  process.stderr.write(`ds-shim: ${e instanceof Error ? e.message : String(e)}\n`);
  process.exit(1);
});
