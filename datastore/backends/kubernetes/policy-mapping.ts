// Calico's namespaced NetworkPolicy on Kubernetes: Calico's own (networkpolicies.crd.projectcalico.org)
// together with networking.k8s.io/v1 NetworkPolicies seen as read-only knp.default.<name>
// policies. A listing's revision is the composite "<crd rev>/<k8s rev>" watch() takes back.
import type { ObjectKey, StoredObject, StoredValue, StoreListResult, StoreWatch, StoreWatchHandlers } from '../../store.js';
import { listAll, mergeWatches, orUndefined, refused, sorted, watchCollection, type KindMapping } from './collection.js';
import type { CrdMapping } from './crd-mapping.js';
import { isKnpName, k8sPolicyToStored, knpSourceName, splitRevision } from './derived-convert.js';
import { badRevision } from './derived-mappings.js';
import type { KubeApi, KubeObject } from './driver.js';

const k8sPath = (namespace?: string): string =>
  namespace ? `/apis/networking.k8s.io/v1/namespaces/${encodeURIComponent(namespace)}/networkpolicies` : '/apis/networking.k8s.io/v1/networkpolicies';

export class NetworkPolicyMapping implements KindMapping {
  constructor(
    private readonly api: KubeApi,
    private readonly crd: CrdMapping,
    private readonly warn: (msg: string) => void,
  ) {}

  readOnly(key: ObjectKey): string | undefined {
    if (!isKnpName(key.name)) return undefined;
    return `NetworkPolicy ${key.namespace ?? ''}/${key.name}: derived from the Kubernetes NetworkPolicy ${knpSourceName(key.name)} and read-only; change that with kubectl`;
  }

  private convert(o: KubeObject): StoredObject | undefined {
    const r = k8sPolicyToStored(o);
    if ('error' in r) {
      this.warn(`skipped ${r.error}`);
      return undefined;
    }
    return r;
  }

  async get(key: ObjectKey): Promise<StoredObject | undefined> {
    if (!isKnpName(key.name)) return this.crd.get(key);
    if (!key.namespace) return undefined;
    const path = `${k8sPath(key.namespace)}/${encodeURIComponent(knpSourceName(key.name))}`;
    const o = await orUndefined(this.api.call<KubeObject>('GET', path, `NetworkPolicy ${key.namespace}/${knpSourceName(key.name)}`));
    return o ? this.convert(o) : undefined;
  }

  async list(namespace?: string): Promise<StoreListResult> {
    const [own, k8s] = await Promise.all([this.crd.list(namespace), listAll(this.api, k8sPath(namespace), 'networking.k8s.io networkpolicies')]);
    const derived = k8s.items.flatMap((o) => this.convert(o) ?? []);
    return { items: sorted([...own.items, ...derived]), revision: `${own.revision}/${k8s.metadata.resourceVersion}` };
  }

  private refuseDerived(key: ObjectKey): void {
    const why = this.readOnly(key);
    if (why) throw refused(why, key);
  }

  async create(value: StoredValue): Promise<StoredObject> {
    this.refuseDerived({ kind: 'NetworkPolicy', ...value.metadata });
    return this.crd.create(value);
  }

  async update(value: StoredValue, expectedRevision: string): Promise<StoredObject> {
    this.refuseDerived({ kind: 'NetworkPolicy', ...value.metadata });
    return this.crd.update(value, expectedRevision);
  }

  async delete(key: ObjectKey, expectedRevision?: string): Promise<StoredObject> {
    this.refuseDerived(key);
    return this.crd.delete(key, expectedRevision);
  }

  watch(fromRevision: string, handlers: StoreWatchHandlers, namespace?: string): StoreWatch {
    const froms = splitRevision(fromRevision, 2);
    if (!froms) return badRevision('NetworkPolicy', fromRevision, handlers);
    return mergeWatches(
      [
        (from, h) => this.crd.watch(from, h, namespace),
        (from, h) => watchCollection(this.api, k8sPath(namespace), 'networking.k8s.io networkpolicies', from, h, { convert: (o) => this.convert(o) }),
      ],
      froms,
      handlers,
    );
  }
}
