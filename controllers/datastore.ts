// Every Calico-side read and write of tortie-controllers, in one place: the IPAM state the node
// controller plans over, and the releases and deletions it decides, on the model-level Store of
// either datastore. The rest of controllers/ sees only this interface.
import { createStore } from '../datastore/backends/index.js';
import { ResourceClient } from '../datastore/client.js';
import type { InvalidObject } from '../datastore/invalid.js';
import type { Resource } from '../datastore/model/resource.js';
import type { DatastoreConfig } from '../datastore/config.js';
import { API_VERSION } from '../datastore/model/resource.js';
import { DatastoreError } from '../datastore/store.js';
import { IpamClient } from '../ipam/allocator.js';
import { ordinalToIp } from '../ipam/block.js';
import { snapshot } from '../ipam/check.js';
import { affinityHost } from '../ipam/model.js';
import { ownedBy, type SyncController, type SyncedObject } from './k8s-sync.js';
import { tunnelHost, type Allocation, type CalicoNodeInfo, type ReleaseIp } from './node-gc.js';
import type { WepLabels } from './wep-labels.js';
import { KUBE_LABELS_ANNOTATION, parseKubeLabels, type CalicoNodeLabels, type LabelUpdate } from './node-labels.js';

export interface IpamState {
  allocations: Allocation[];
  affinityHosts: Set<string>;
}

export interface ControllerDatastore {
  readonly description: string;
  ipamState(): Promise<IpamState>;
  /** etcd: the Calico Nodes; undefined on the Kubernetes datastore, where they are the Kubernetes Nodes. */
  calicoNodes(): Promise<Map<string, CalicoNodeInfo & CalicoNodeLabels> | undefined>;
  /** etcd only: writes a Calico Node's labels and kube-labels annotation (compare-and-swap). */
  setCalicoNodeLabels(update: LabelUpdate): Promise<void>;
  /** Releases addresses, each guarded by its sequence number; returns those released. */
  releaseIps(ips: ReleaseIp[]): Promise<string[]>;
  /** Releases a host's block affinities (and its empty blocks); non-empty blocks are kept. */
  releaseAffinities(host: string): Promise<{ released: string[]; kept: string[] }>;
  /** etcd only; an absent node is not an error. */
  deleteCalicoNode(name: string): Promise<void>;
  /** etcd only: the Calico objects a sync controller derives (by name prefix). */
  listDerived(c: SyncController): Promise<SyncedObject[]>;
  writeDerived(o: SyncedObject): Promise<void>;
  /** etcd only: the WorkloadEndpoints Kubernetes pods own (orchestrator k8s). */
  listWeps(): Promise<WepLabels[]>;
  /** etcd only: replaces an endpoint's labels; an endpoint gone meanwhile is not an error. */
  setWepLabels(w: WepLabels): Promise<void>;
  deleteDerived(o: SyncedObject): Promise<void>;
  close(): Promise<void>;
}

/**
 * `onInvalid` hears once of each stored value that is not a valid object of its kind (the passes
 * skip it and go on with the rest).
 */
export async function openControllerDatastore(cfg: DatastoreConfig, onInvalid: (bad: InvalidObject) => void = () => undefined): Promise<ControllerDatastore> {
  const store = await createStore(cfg);
  const ipam = new IpamClient(store);
  const resources = new ResourceClient(store);
  const told = new Set<string>();
  // Every pass lists again: a bad value is told once per revision, not once per pass.
  const listValid = async (kind: string): Promise<Resource[]> => {
    const l = await resources.list(kind);
    for (const bad of l.invalid) {
      const id = `${bad.where}@${bad.revision}`;
      if (!told.has(id)) onInvalid(bad);
      told.add(id);
    }
    return l.items;
  };
  // On the Kubernetes datastore the Calico Node is the Kubernetes Node: nothing separate to delete or label.
  const separateNodes = cfg.type !== 'kubernetes';
  return {
    description: store.description,
    async ipamState() {
      const snap = await snapshot(store);
      const allocations: Allocation[] = [];
      for (const { block } of snap.blocks) {
        const blockHost = affinityHost(block);
        block.allocations.forEach((idx, ord) => {
          if (idx === null) return;
          const attr = block.attributes[idx];
          const handle = attr?.handle_id ?? null;
          const sec = attr?.secondary ?? {};
          const host = sec.node ?? tunnelHost(handle) ?? blockHost;
          const seq = block.sequenceNumberForAllocation[String(ord)];
          allocations.push({
            ip: ordinalToIp(block, ord),
            handle,
            ...(seq !== undefined ? { sequenceNumber: seq } : {}),
            ...(host ? { host } : {}),
            ...(sec.namespace ? { namespace: sec.namespace } : {}),
            ...(sec.pod ? { pod: sec.pod } : {}),
          });
        });
      }
      return { allocations, affinityHosts: new Set(snap.affinities.map((a) => a.host)) };
    },
    async calicoNodes() {
      if (!separateNodes) return undefined;
      const items = await listValid('Node');
      const out = new Map<string, CalicoNodeInfo & CalicoNodeLabels>();
      for (const n of items) {
        const refs = (n.spec as { orchRefs?: { orchestrator: string }[] } | undefined)?.orchRefs ?? [];
        const kubeLabels = parseKubeLabels(n.metadata.annotations?.[KUBE_LABELS_ANNOTATION]);
        out.set(n.metadata.name, {
          kubernetes: refs.some((r) => r.orchestrator.toLowerCase() === 'k8s' || r.orchestrator.toLowerCase() === 'kubernetes'),
          labels: n.metadata.labels ?? {},
          ...(kubeLabels ? { kubeLabels } : {}),
        });
      }
      return out;
    },
    async releaseIps(ips) {
      return (await ipam.releaseIps(ips)).released;
    },
    releaseAffinities: (host) => ipam.releaseHostAffinities(host),
    async setCalicoNodeLabels(u) {
      const n = await resources.get('Node', u.node);
      const annotations = { ...n.metadata.annotations, [KUBE_LABELS_ANNOTATION]: JSON.stringify(u.kubeLabels) };
      await resources.update({ ...n, metadata: { ...n.metadata, labels: u.labels, annotations } });
    },
    async deleteCalicoNode(name) {
      await resources.delete('Node', name).catch((e: unknown) => {
        if (!(e instanceof DatastoreError && e.code === 'NotFound')) throw e;
      });
    },
    async listDerived(c) {
      const items = await listValid(c === 'policy' ? 'NetworkPolicy' : 'Profile');
      return items
        .map((r) => ({ kind: r.kind as SyncedObject['kind'], name: r.metadata.name, ...(r.metadata.namespace ? { namespace: r.metadata.namespace } : {}), spec: r.spec }))
        .filter((o) => ownedBy(c, o));
    },
    async writeDerived(o) {
      await resources.apply({ apiVersion: API_VERSION, kind: o.kind, metadata: { name: o.name, ...(o.namespace ? { namespace: o.namespace } : {}) }, spec: o.spec });
    },
    async listWeps() {
      const items = await listValid('WorkloadEndpoint');
      return items.flatMap((r) => {
        const spec = (r.spec ?? {}) as { orchestrator?: string; pod?: string };
        return spec.orchestrator === 'k8s' && spec.pod && r.metadata.namespace
          ? [{ name: r.metadata.name, namespace: r.metadata.namespace, pod: spec.pod, labels: r.metadata.labels ?? {} }]
          : [];
      });
    },
    async setWepLabels(w) {
      try {
        const r = await resources.get('WorkloadEndpoint', w.name, w.namespace);
        await resources.update({ ...r, metadata: { ...r.metadata, labels: w.labels } });
      } catch (e) {
        if (!(e instanceof DatastoreError && e.code === 'NotFound')) throw e;
      }
    },
    async deleteDerived(o) {
      await resources.delete(o.kind, o.name, o.namespace ? { namespace: o.namespace } : {}).catch((e: unknown) => {
        if (!(e instanceof DatastoreError && e.code === 'NotFound')) throw e;
      });
    },
    close: () => store.close(),
  };
}
