// The Store over the Kubernetes API (Calico's "Kubernetes datastore", DATASTORE_TYPE=kubernetes):
// each kind goes to its mapping — Calico's CRDs, or the Kubernetes objects Calico derives Nodes,
// WorkloadEndpoints, Profiles and knp.default. policies from.
import { DatastoreError } from '../../errors.js';
import { kindByName } from '../../model/kinds.js';
import type { ObjectKey, ReadOptions, Store, StoredObject, StoredValue, StoreListResult, StoreWatch, StoreWatchHandlers } from '../../store.js';
import type { KindMapping } from './collection.js';
import { CrdMapping } from './crd-mapping.js';
import { crdName } from './crd-convert.js';
import { CRD_API_VERSION, CRD_KINDS } from './crds.js';
import { NodeMapping, ProfileMapping, WorkloadEndpointMapping } from './derived-mappings.js';
import { KubeApi, loadKubeConfig } from './driver.js';
import { NetworkPolicyMapping } from './policy-mapping.js';
import { WatchCachedMapping } from './watch-cache.js';

export interface KubernetesStoreOptions {
  /** Path of the kubeconfig (Calico's KUBECONFIG / `kubeconfig` in the config file); default chain when absent. */
  kubeconfig?: string;
  /** Overrides the kubeconfig's server address (Calico's k8sAPIEndpoint). */
  server?: string;
  /** Per-request budget, default 4 s: an unreachable apiserver is reported within 5 s. */
  timeoutMs?: number;
  /** Kubernetes objects that cannot be converted (and are skipped) are reported here. */
  onWarning?: (message: string) => void;
  /**
   * Kinds whose `cached` reads this client answers from its own list-and-watch copy (for a
   * long-running client such as tortie-node; a short-lived one would only pay for the watch).
   */
  watchCache?: readonly string[];
}

export class KubernetesStore implements Store {
  readonly description: string;
  private readonly api: KubeApi;
  private readonly mappings = new Map<string, KindMapping>();
  private readonly watchCaches: WatchCachedMapping[] = [];

  constructor(opts: KubernetesStoreOptions) {
    this.api = new KubeApi(loadKubeConfig(opts.kubeconfig, opts.server), opts.timeoutMs ? { timeoutMs: opts.timeoutMs } : {});
    this.description = `kubernetes at ${this.api.server}`;
    const warn = opts.onWarning ?? ((m: string) => process.emitWarning(m, 'TortieKubernetesDatastore'));
    for (const def of CRD_KINDS) this.mappings.set(def.kind, new CrdMapping(this.api, def));
    const crdPolicies = this.mappings.get('NetworkPolicy') as CrdMapping;
    this.mappings.set('NetworkPolicy', new NetworkPolicyMapping(this.api, crdPolicies, warn));
    this.mappings.set('Node', new NodeMapping(this.api));
    this.mappings.set('WorkloadEndpoint', new WorkloadEndpointMapping(this.api));
    this.mappings.set('Profile', new ProfileMapping(this.api, warn));
    for (const kind of opts.watchCache ?? []) {
      const cached = new WatchCachedMapping(this.mapping(kind));
      this.watchCaches.push(cached);
      this.mappings.set(kind, cached);
    }
  }

  private mapping(kind: string): KindMapping {
    const m = this.mappings.get(kind);
    if (m) return m;
    const known = kindByName(kind);
    throw new DatastoreError('Invalid', known ? `${kind} is not kept on the Kubernetes datastore` : `unknown kind ${JSON.stringify(kind)}`);
  }

  readOnly(key: ObjectKey): string | undefined {
    return this.mappings.get(key.kind)?.readOnly(key);
  }

  locate(key: ObjectKey): string {
    const def = CRD_KINDS.find((k) => k.kind === key.kind);
    const ns = key.namespace ? `${key.namespace}/` : '';
    return def ? `/apis/${CRD_API_VERSION}/${key.namespace ? `namespaces/${key.namespace}/` : ''}${def.plural}/${crdName(key.kind, key.name)}` : `${key.kind}(${ns}${key.name})`;
  }

  async get(key: ObjectKey, opts?: ReadOptions): Promise<StoredObject | undefined> {
    return this.mapping(key.kind).get(key, opts);
  }

  async list(kind: string, namespace?: string, opts?: ReadOptions): Promise<StoreListResult> {
    return this.mapping(kind).list(namespace, opts);
  }

  async create(value: StoredValue): Promise<StoredObject> {
    return this.mapping(value.kind).create(value);
  }

  async update(value: StoredValue, expectedRevision: string): Promise<StoredObject> {
    return this.mapping(value.kind).update(value, expectedRevision);
  }

  async delete(key: ObjectKey, expectedRevision?: string): Promise<StoredObject> {
    return this.mapping(key.kind).delete(key, expectedRevision);
  }

  watch(kind: string, fromRevision: string, handlers: StoreWatchHandlers, namespace?: string): StoreWatch {
    return this.mapping(kind).watch(fromRevision, handlers, namespace);
  }

  async close(): Promise<void> {
    await Promise.all(this.watchCaches.map((c) => c.close()));
    this.api.close();
  }
}
