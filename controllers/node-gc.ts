// The node controller's decisions (calico-kube-controllers' node controller), pure: given the
// Kubernetes Nodes and Pods and the Calico IPAM state, what to release. No I/O, time passed in.
//
// - A host is gone when it is no Kubernetes Node and (on etcd, where Calico Nodes are separate
//   objects) its Calico Node is absent or is a Kubernetes node's (orchRef k8s, or its Kubernetes
//   Node was seen deleted): then its Calico Node is deleted, every address it holds released at
//   once, and its block affinities released. A Calico Node of another orchestrator (a route
//   reflector) is left alone.
// - An address allocated to a pod (attributes namespace + pod) that no pod holds is a leak
//   candidate; it is released once it has stayed a candidate for the grace period, with its
//   sequence number as a guard so a re-allocated address is never touched.

export interface Allocation {
  ip: string;
  sequenceNumber?: number;
  handle: string | null;
  /** The allocation's `node` attribute, else the host of its tunnel handle, else its block's affinity host. */
  host?: string;
  namespace?: string;
  pod?: string;
}

export interface PodAddresses {
  namespace: string;
  name: string;
  /** From status.podIPs or the cni.projectcalico.org/podIPs annotation; empty while a CNI ADD is in flight. */
  ips: readonly string[];
}

export interface CalicoNodeInfo {
  /** spec.orchRefs names Kubernetes. */
  kubernetes: boolean;
}

export interface NodeGcInput {
  now: number;
  /** 0 = leak collection off. */
  graceMs: number;
  kubeNodes: ReadonlySet<string>;
  /** Kubernetes Nodes this controller saw deleted (their Calico Node may lack an orchRef). */
  deletedKubeNodes: ReadonlySet<string>;
  pods: readonly PodAddresses[];
  allocations: readonly Allocation[];
  /** Hosts holding block affinities. */
  affinityHosts: ReadonlySet<string>;
  /** etcd only: the Calico Nodes. Undefined on the Kubernetes datastore (Calico Node = Kubernetes Node). */
  calicoNodes?: ReadonlyMap<string, CalicoNodeInfo>;
  /** Leak candidates from the previous pass: id → when first seen. */
  leakSince: ReadonlyMap<string, number>;
}

export interface ReleaseIp {
  ip: string;
  sequenceNumber?: number;
}

export type NodeGcAction =
  | { kind: 'delete-calico-node'; node: string }
  | { kind: 'release-ips'; reason: 'node-deleted' | 'leaked'; ips: ReleaseIp[] }
  | { kind: 'release-affinities'; node: string };

export interface NodeGcPlan {
  /** In order: Calico Nodes first, then addresses, then affinities (a block empties before its affinity goes). */
  actions: NodeGcAction[];
  leakSince: Map<string, number>;
  /** Candidates still inside their grace period. */
  pendingLeaks: number;
}

const TUNNEL_HANDLE = /^(?:ipip-tunnel-addr|vxlan-tunnel-addr|vxlan-v6-tunnel-addr|wireguard-tunnel-addr|wireguard-v6-tunnel-addr)-(.+)$/;

/** The host a tunnel address belongs to, from its handle. */
export function tunnelHost(handle: string | null): string | undefined {
  return handle ? TUNNEL_HANDLE.exec(handle)?.[1] : undefined;
}

function goneHosts(input: NodeGcInput, hosts: Iterable<string>): Set<string> {
  const gone = new Set<string>();
  for (const h of hosts) {
    if (input.kubeNodes.has(h)) continue;
    const cn = input.calicoNodes?.get(h);
    if (!cn || cn.kubernetes || input.deletedKubeNodes.has(h)) gone.add(h);
  }
  return gone;
}

export function planNodeGc(input: NodeGcInput): NodeGcPlan {
  const actions: NodeGcAction[] = [];
  const hosts = new Set<string>([...input.affinityHosts, ...(input.calicoNodes?.keys() ?? [])]);
  for (const a of input.allocations) if (a.host) hosts.add(a.host);
  const gone = goneHosts(input, hosts);

  for (const h of gone) if (input.calicoNodes?.has(h)) actions.push({ kind: 'delete-calico-node', node: h });

  const ofGoneHosts = input.allocations.filter((a) => a.host !== undefined && gone.has(a.host));
  if (ofGoneHosts.length) actions.push({ kind: 'release-ips', reason: 'node-deleted', ips: ofGoneHosts.map(releaseOf) });

  const held = new Map<string, ReadonlySet<string>>();
  for (const p of input.pods) held.set(`${p.namespace}/${p.name}`, new Set(p.ips));
  const leakSince = new Map<string, number>();
  const ripe: ReleaseIp[] = [];
  if (input.graceMs > 0) {
    for (const a of input.allocations) {
      if (!a.namespace || !a.pod || (a.host !== undefined && gone.has(a.host))) continue;
      const podIps = held.get(`${a.namespace}/${a.pod}`);
      // A pod with no address recorded yet may be mid-ADD: it holds whatever it was given.
      if (podIps && (podIps.size === 0 || podIps.has(a.ip))) continue;
      const id = `${a.ip}#${a.sequenceNumber ?? ''}`;
      const since = input.leakSince.get(id) ?? input.now;
      if (input.now - since >= input.graceMs) ripe.push(releaseOf(a));
      else leakSince.set(id, since);
    }
  }
  if (ripe.length) actions.push({ kind: 'release-ips', reason: 'leaked', ips: ripe });

  for (const h of gone) if (input.affinityHosts.has(h)) actions.push({ kind: 'release-affinities', node: h });
  return { actions, leakSince, pendingLeaks: leakSince.size };
}

function releaseOf(a: Allocation): ReleaseIp {
  return a.sequenceNumber === undefined ? { ip: a.ip } : { ip: a.ip, sequenceNumber: a.sequenceNumber };
}
