// The datastore contract, at the level of Calico's model (as libcalico-go's backend API is): objects
// named by kind, namespace and name, each with an opaque revision; list and watch per kind. etcd,
// the Kubernetes API and the in-memory store all fit it; none of them is asked for more than it has
// (no store-wide revision order, no transaction across objects).
//
// Each backend maps the objects to its own layout: etcd keeps Calico's keys
// (/calico/resources/v3/projectcalico.org/<plural>/…, /calico/ipam/v2/…); Kubernetes keeps
// crd.projectcalico.org/v1 CRDs, and derives Node, WorkloadEndpoint, kns./ksa. Profiles and
// knp.default. policies from Nodes, Pods, Namespaces, ServiceAccounts and NetworkPolicies.

export { DatastoreError, type DatastoreErrorCode } from './errors.js';

/** Which object: `namespace` only for namespaced kinds (NetworkPolicy, NetworkSet, WorkloadEndpoint). */
export interface ObjectKey {
  /** Canonical kind, as the model's registry names it: "IPPool", "IPAMBlock", "BlockAffinity", … */
  kind: string;
  name: string;
  namespace?: string;
}

/**
 * A stored object in Calico's v3 shape: `{ apiVersion, kind, metadata, spec }`. IPAM kinds
 * (IPAMBlock, BlockAffinity, IPAMHandle, IPAMConfig) use the same shape, with the fields Calico
 * keeps for them in `spec`; the etcd backend stores that spec at Calico's IPAM keys.
 */
export interface StoredValue {
  apiVersion: string;
  kind: string;
  metadata: {
    name: string;
    namespace?: string;
    uid?: string;
    creationTimestamp?: string;
    labels?: Record<string, string>;
    annotations?: Record<string, string>;
  };
  spec: unknown;
}

export interface StoredObject {
  key: ObjectKey;
  value: StoredValue;
  /**
   * Opaque: the etcd mod revision or the Kubernetes resourceVersion, as a string. Compare for
   * equality only; never order two revisions.
   */
  revision: string;
}

export interface StoreListResult {
  /** Sorted by namespace, then name. */
  items: StoredObject[];
  /** Opaque; pass to watch() to receive every change after this listing and nothing before it. */
  revision: string;
}

export type StoreEvent =
  | { type: 'added' | 'modified'; object: StoredObject; previous?: StoredObject }
  | { type: 'deleted'; key: ObjectKey; revision: string; previous?: StoredObject };

export interface StoreWatchHandlers {
  /** Events of one kind in the order the store applied them. */
  onEvents(events: StoreEvent[]): void;
  /**
   * The watch is over: 'Compacted' (etcd compaction, Kubernetes 410 Gone: re-list) or 'Unavailable'
   * (connection lost). A watch never reconnects by itself; the syncer re-lists.
   */
  onError(err: import('./errors.js').DatastoreError): void;
}

export interface StoreWatch {
  close(): Promise<void>;
}

/** How current a read must be. */
export interface ReadOptions {
  /**
   * The datastore's own cache may answer, a moment behind the latest write (Kubernetes:
   * `resourceVersion=0`, the apiserver's watch cache, no round trip to its etcd). Only for reads a
   * compare-and-swap or a consistent re-read guards anyway; etcd and memory always read current.
   */
  cached?: boolean;
}

export interface Store {
  /** For error messages, e.g. "etcdv3 at https://10.0.0.1:2379" or "kubernetes at https://127.0.0.1:6443". */
  readonly description: string;
  /** Kinds this store derives from other objects and refuses to write (Kubernetes: kns./ksa. Profiles, knp.default. policies). */
  readOnly(key: ObjectKey): string | undefined;
  /** Where an object lives, for messages about it: the etcd key, or the API path of its resource. */
  locate?(key: ObjectKey): string;
  get(key: ObjectKey, opts?: ReadOptions): Promise<StoredObject | undefined>;
  /** Every object of a kind (of one namespace when given). */
  list(kind: string, namespace?: string, opts?: ReadOptions): Promise<StoreListResult>;
  /** Create only if absent; 'AlreadyExists' otherwise. */
  create(value: StoredValue): Promise<StoredObject>;
  /** Compare-and-swap on the revision read; 'Conflict' when it moved, 'NotFound' when gone. */
  update(value: StoredValue, expectedRevision: string): Promise<StoredObject>;
  /**
   * Delete, compare-and-swap when a revision is given. Never loses a concurrent write: on
   * Kubernetes (no compare-and-delete) the object is first marked deleted by a CAS update, then
   * deleted with a UID precondition, as Calico does.
   */
  delete(key: ObjectKey, expectedRevision?: string): Promise<StoredObject>;
  /** Changes of one kind after `fromRevision` (a list's revision); '' means from now. */
  watch(kind: string, fromRevision: string, handlers: StoreWatchHandlers, namespace?: string): StoreWatch;
  close(): Promise<void>;
}
