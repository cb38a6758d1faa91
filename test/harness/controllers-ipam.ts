// The Calico side of the tortie-controllers tests, in one place: pools, Calico Nodes and pod
// addresses set up through IpamClient, and the IPAM state read back, on etcd through the Store.
import { spawn, type ChildProcess } from 'node:child_process';
import { hostVethName, wepName, wepResource } from '../../cni/wep.js';
import { EtcdBackend, EtcdStore } from '../../datastore/backends/index.js';
import { ResourceClient } from '../../datastore/client.js';
import { resourceKey } from '../../datastore/keys.js';
import { IpamClient } from '../../ipam/allocator.js';
import { checkIpam, snapshot } from '../../ipam/check.js';
import { ordinalToIp } from '../../ipam/block.js';
import { affinityHost } from '../../ipam/model.js';
import { putNode, putPool } from '../../ipam/testing.js';
import { entry } from './entry.js';

export interface ControllersIpamFixture {
  /** The env that points tortie-controllers at this store. */
  env: Record<string, string>;
  addPool(name: string, cidr: string, blockSize: number): Promise<void>;
  addCalicoNode(name: string): Promise<void>;
  hasCalicoNode(name: string): Promise<boolean>;
  /** A Calico resource's spec, or undefined when absent (kind as in the etcd key: networkpolicies, profiles). */
  calicoSpec(plural: string, name: string, namespace?: string): Promise<Record<string, unknown> | undefined>;
  calicoNodeLabels(name: string): Promise<Record<string, string> | undefined>;
  /** Writes the WorkloadEndpoint the CNI plugin would for a pod; returns its name. */
  addWep(node: string, namespace: string, pod: string, ip: string, labels: Record<string, string>): Promise<string>;
  wepLabels(name: string, namespace: string): Promise<Record<string, string> | undefined>;
  /** Allocates one address to a pod on a node, as the CNI plugin does; returns it. */
  assignPodIp(node: string, namespace: string, pod: string): Promise<string>;
  allocatedIps(): Promise<Set<string>>;
  /** Hosts named by block affinities or by blocks' affinity. */
  hostsInIpam(): Promise<Set<string>>;
  handles(): Promise<Set<string>>;
  problems(): Promise<{ duplicates: number; handleMismatches: number }>;
  close(): Promise<void>;
}

export function etcdControllersIpam(endpoint: string): ControllersIpamFixture {
  const backend = new EtcdBackend({ endpoints: [endpoint] });
  const be = new EtcdStore(backend);
  const ipam = new IpamClient(be);
  let n = 0;
  return {
    env: { DATASTORE_TYPE: 'etcdv3', ETCD_ENDPOINTS: endpoint },
    addPool: (name, cidr, blockSize) => putPool(be, name, { cidr, blockSize }),
    addCalicoNode: (name) => putNode(be, name),
    hasCalicoNode: async (name) => (await backend.get(resourceKey('nodes', name))) !== undefined,
    async calicoSpec(plural, name, namespace) {
      const kv = await backend.get(resourceKey(plural, name, namespace));
      return kv ? ((JSON.parse(kv.value) as { spec?: Record<string, unknown> }).spec ?? {}) : undefined;
    },
    async addWep(node, namespace, pod, ip, labels) {
      const w = wepResource({ node, namespace, pod, containerId: `cid-${pod}`, endpoint: 'eth0', interfaceName: hostVethName(namespace, pod, `cid-${pod}`), ipNetworks: [`${ip}/32`], mac: 'ee:ee:ee:ee:ee:ee', labels });
      await new ResourceClient(be).create(w);
      return wepName(node, pod, 'eth0');
    },
    async wepLabels(name, namespace) {
      const kv = await backend.get(resourceKey('workloadendpoints', name, namespace));
      return kv ? ((JSON.parse(kv.value) as { metadata: { labels?: Record<string, string> } }).metadata.labels ?? {}) : undefined;
    },
    async calicoNodeLabels(name) {
      const kv = await backend.get(resourceKey('nodes', name));
      return kv ? ((JSON.parse(kv.value) as { metadata: { labels?: Record<string, string> } }).metadata.labels ?? {}) : undefined;
    },
    async assignPodIp(node, namespace, pod) {
      const r = await ipam.autoAssign({ handleId: `k8s-pod-network.cid${n++}`, hostname: node, num4: 1, attrs: { node, namespace, pod } });
      const ip = r.ipv4[0]?.ip;
      if (!ip) throw new Error(`no address for ${namespace}/${pod}`);
      return ip;
    },
    async allocatedIps() {
      const { blocks } = await snapshot(be);
      const out = new Set<string>();
      for (const { block } of blocks) block.allocations.forEach((a, ord) => a !== null && out.add(ordinalToIp(block, ord)));
      return out;
    },
    async hostsInIpam() {
      const s = await snapshot(be);
      return new Set([...s.affinities.map((a) => a.host), ...s.blocks.map((b) => affinityHost(b.block) ?? '')].filter(Boolean));
    },
    handles: async () => new Set((await snapshot(be)).handles.keys()),
    async problems() {
      const r = await checkIpam(be);
      return { duplicates: r.summary.duplicates, handleMismatches: r.summary.handleMismatches };
    },
    close: () => be.close(),
  };
}

/** tortie-controllers as a child process with exactly this environment (plus PATH). */
export function runControllers(env: Record<string, string>): { child: ChildProcess; output: () => string; exited: Promise<number | null> } {
  const [cmd, args] = entry('controllers/main');
  const child = spawn(cmd, args, { env: { PATH: process.env.PATH ?? '', ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout?.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr?.on('data', (d: Buffer) => (out += d.toString()));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  return { child, output: () => out, exited };
}

export { manifestAccount } from './manifest-account.js';
