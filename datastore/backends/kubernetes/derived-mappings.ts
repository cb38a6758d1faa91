// Calico kinds the Kubernetes datastore derives from Kubernetes' own objects: Node (Kubernetes
// Nodes; updates only, through nodes/status as Calico does), WorkloadEndpoint (Pods; writes are
// the CNI plugin's annotations on pods/status) and Profile (Namespaces + ServiceAccounts,
// read-only).
import type { ObjectKey, ReadOptions, StoredObject, StoredValue, StoreListResult, StoreWatch, StoreWatchHandlers } from '../../store.js';
import { DatastoreError } from '../../errors.js';
import { parseWepName } from '../../model/wep-names.js';
import { cachedQuery, listAll, mergeWatches, orUndefined, refused, sorted, watchCollection, type KindMapping } from './collection.js';
import { namespaceToStored, parseProfileName, serviceAccountToStored, splitRevision } from './derived-convert.js';
import type { KubeApi, KubeObject } from './driver.js';
import { k8sNodeToCalico, mergeCalicoIntoK8sNode } from './node-convert.js';
import { podAnnotationPatch, podToWorkloadEndpoint } from './pod-convert.js';

const MERGE_PATCH = 'application/merge-patch+json';

export class NodeMapping implements KindMapping {
  constructor(private readonly api: KubeApi) {}

  readOnly(): string | undefined {
    return undefined;
  }

  async get(key: ObjectKey, opts?: ReadOptions): Promise<StoredObject | undefined> {
    const n = await orUndefined(this.api.call<KubeObject>('GET', `/api/v1/nodes/${encodeURIComponent(key.name)}${cachedQuery(opts)}`, `Node ${key.name}`));
    return n && k8sNodeToCalico(n);
  }

  async list(_namespace?: string, opts?: ReadOptions): Promise<StoreListResult> {
    const l = await listAll(this.api, '/api/v1/nodes', 'nodes', opts);
    return { items: sorted(l.items.map(k8sNodeToCalico)), revision: l.metadata.resourceVersion };
  }

  async create(value: StoredValue): Promise<StoredObject> {
    throw refused(
      `Node ${value.metadata.name}: on the Kubernetes datastore a Calico Node is the Kubernetes Node; it cannot be created through Calico (kubelet registers it, or kubectl create). Create the Node, then update it.`,
      { kind: 'Node', name: value.metadata.name },
    );
  }

  async update(value: StoredValue, expectedRevision: string): Promise<StoredObject> {
    const what = `Node ${value.metadata.name}`;
    const path = `/api/v1/nodes/${encodeURIComponent(value.metadata.name)}`;
    const current = await this.api.call<KubeObject>('GET', path, what);
    if (expectedRevision && current.metadata.resourceVersion !== expectedRevision) {
      throw new DatastoreError('Conflict', `${what} was changed by someone else (revision ${current.metadata.resourceVersion}, expected ${expectedRevision})`, what);
    }
    // Through the status subresource, as Calico does (its RBAC grants nodes/status, not nodes).
    const body = mergeCalicoIntoK8sNode(value, current, current.metadata.resourceVersion ?? '');
    return k8sNodeToCalico(await this.api.call<KubeObject>('PUT', `${path}/status`, what, body));
  }

  async delete(key: ObjectKey): Promise<StoredObject> {
    throw refused(`Node ${key.name}: on the Kubernetes datastore a Calico Node is the Kubernetes Node; delete it with kubectl delete node ${key.name}`, key);
  }

  watch(fromRevision: string, handlers: StoreWatchHandlers): StoreWatch {
    return watchCollection(this.api, '/api/v1/nodes', 'nodes', fromRevision, handlers, { convert: k8sNodeToCalico });
  }
}

export class WorkloadEndpointMapping implements KindMapping {
  constructor(private readonly api: KubeApi) {}

  readOnly(): string | undefined {
    return undefined;
  }

  private podsPath(namespace?: string): string {
    return namespace ? `/api/v1/namespaces/${encodeURIComponent(namespace)}/pods` : '/api/v1/pods';
  }

  /** The pod behind a WorkloadEndpoint name, and the endpoint it makes (undefined when none). */
  private async lookup(key: { name: string; namespace?: string }): Promise<{ pod: KubeObject; wep: StoredObject } | undefined> {
    const parts = parseWepName(key.name);
    if (!parts || !key.namespace) return undefined;
    const pod = await orUndefined(this.api.call<KubeObject>('GET', `${this.podsPath(key.namespace)}/${encodeURIComponent(parts.pod)}`, `Pod ${key.namespace}/${parts.pod}`));
    const wep = pod && podToWorkloadEndpoint(pod);
    return pod && wep && wep.key.name === key.name ? { pod, wep } : undefined;
  }

  async get(key: ObjectKey): Promise<StoredObject | undefined> {
    return (await this.lookup(key))?.wep;
  }

  async list(namespace?: string): Promise<StoreListResult> {
    const l = await listAll(this.api, this.podsPath(namespace), namespace ? `pods in ${namespace}` : 'pods');
    const items = l.items.flatMap((p) => podToWorkloadEndpoint(p) ?? []);
    return { items: sorted(items), revision: l.metadata.resourceVersion };
  }

  /** Writes the endpoint's addresses onto its pod (merge patch on pods/status, CAS on the pod). */
  private async patch(value: StoredValue | undefined, key: { name: string; namespace?: string }, expectedRevision?: string): Promise<StoredObject> {
    const what = `WorkloadEndpoint ${key.namespace ?? ''}/${key.name}`;
    const found = await this.lookup(key);
    if (!found) {
      throw new DatastoreError('NotFound', `${what}: no scheduled pod makes this endpoint (on the Kubernetes datastore an endpoint is its pod's: create the Pod first)`, what);
    }
    if (expectedRevision && found.wep.revision !== expectedRevision) {
      throw new DatastoreError('Conflict', `${what} was changed by someone else (revision ${found.wep.revision}, expected ${expectedRevision})`, what);
    }
    const path = `${this.podsPath(key.namespace)}/${encodeURIComponent(found.pod.metadata.name)}/status`;
    const pod = await this.api.call<KubeObject>('PATCH', path, what, podAnnotationPatch(value, found.pod.metadata.resourceVersion), MERGE_PATCH);
    const wep = podToWorkloadEndpoint(pod);
    if (!wep) throw new DatastoreError('NotFound', `${what} not found`, what);
    return value ? wep : found.wep;
  }

  create(value: StoredValue): Promise<StoredObject> {
    return this.patch(value, value.metadata);
  }

  update(value: StoredValue, expectedRevision: string): Promise<StoredObject> {
    return this.patch(value, value.metadata, expectedRevision);
  }

  /** As Calico's CNI DEL: the pod stays (kubelet owns it); its addresses are cleared. */
  delete(key: ObjectKey, expectedRevision?: string): Promise<StoredObject> {
    return this.patch(undefined, key, expectedRevision);
  }

  watch(fromRevision: string, handlers: StoreWatchHandlers, namespace?: string): StoreWatch {
    return watchCollection(this.api, this.podsPath(namespace), 'pods', fromRevision, handlers, { convert: podToWorkloadEndpoint });
  }
}

const PROFILE_READ_ONLY =
  'on the Kubernetes datastore Profiles are derived from Namespaces (kns.<namespace>) and ServiceAccounts (ksa.<namespace>.<account>) and cannot be written: change the Namespace or ServiceAccount with kubectl';

export class ProfileMapping implements KindMapping {
  constructor(
    private readonly api: KubeApi,
    private readonly warn: (msg: string) => void,
  ) {}

  readOnly(key: ObjectKey): string {
    return `Profile ${key.name}: ${PROFILE_READ_ONLY}`;
  }

  private keep(r: StoredObject | { error: string }): StoredObject[] {
    if ('error' in r) {
      this.warn(`skipped ${r.error}`);
      return [];
    }
    return [r];
  }

  async get(key: ObjectKey): Promise<StoredObject | undefined> {
    const which = parseProfileName(key.name);
    if (!which) return undefined;
    const ns = encodeURIComponent(which.namespace);
    if (!('serviceAccount' in which)) {
      const o = await orUndefined(this.api.call<KubeObject>('GET', `/api/v1/namespaces/${ns}`, `Namespace ${which.namespace}`));
      return o ? this.keep(namespaceToStored(o))[0] : undefined;
    }
    const path = `/api/v1/namespaces/${ns}/serviceaccounts/${encodeURIComponent(which.serviceAccount)}`;
    const o = await orUndefined(this.api.call<KubeObject>('GET', path, `ServiceAccount ${which.namespace}/${which.serviceAccount}`));
    return o ? this.keep(serviceAccountToStored(o))[0] : undefined;
  }

  /** Revision "<namespaces rev>/<serviceaccounts rev>", as Calico composes it. */
  async list(): Promise<StoreListResult> {
    const [nss, sas] = await Promise.all([listAll(this.api, '/api/v1/namespaces', 'namespaces'), listAll(this.api, '/api/v1/serviceaccounts', 'serviceaccounts')]);
    const items = [...nss.items.flatMap((o) => this.keep(namespaceToStored(o))), ...sas.items.flatMap((o) => this.keep(serviceAccountToStored(o)))];
    return { items: sorted(items), revision: `${nss.metadata.resourceVersion}/${sas.metadata.resourceVersion}` };
  }

  async create(value: StoredValue): Promise<StoredObject> {
    throw refused(this.readOnly({ kind: 'Profile', name: value.metadata.name }), { kind: 'Profile', name: value.metadata.name });
  }

  update(value: StoredValue): Promise<StoredObject> {
    return this.create(value);
  }

  async delete(key: ObjectKey): Promise<StoredObject> {
    throw refused(this.readOnly(key), key);
  }

  watch(fromRevision: string, handlers: StoreWatchHandlers): StoreWatch {
    const froms = splitRevision(fromRevision, 2);
    if (!froms) return badRevision('Profile', fromRevision, handlers);
    const conv = (f: typeof namespaceToStored) => (o: KubeObject) => this.keep(f(o))[0];
    return mergeWatches(
      [
        (from, h) => watchCollection(this.api, '/api/v1/namespaces', 'namespaces', from, h, { convert: conv(namespaceToStored) }),
        (from, h) => watchCollection(this.api, '/api/v1/serviceaccounts', 'serviceaccounts', from, h, { convert: conv(serviceAccountToStored) }),
      ],
      froms,
      handlers,
    );
  }
}

/** A composite kind watched from a revision that is not one of its composite revisions. */
export function badRevision(kind: string, rev: string, handlers: StoreWatchHandlers): StoreWatch {
  queueMicrotask(() => handlers.onError(new DatastoreError('Compacted', `${kind}: revision ${JSON.stringify(rev)} is not one this store gave out; re-list`)));
  return { close: async () => undefined };
}
