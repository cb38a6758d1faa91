// A Calico kind kept as a crd.projectcalico.org/v1 custom resource: CAS through resourceVersion,
// and for the IPAM kinds Calico's two-step delete (mark `deleted` by a CAS update, then DELETE with
// UID and resourceVersion preconditions), so a delete never loses a concurrent claim; a reader that
// meets a marked object finishes the delete and sees nothing.
import { DatastoreError } from '../../errors.js';
import type { KindDef } from '../../model/kinds.js';
import type { ObjectKey, ReadOptions, StoredObject, StoredValue, StoreListResult, StoreWatch, StoreWatchHandlers } from '../../store.js';
import { cachedQuery, listAll, orUndefined, sorted, watchCollection, type KindMapping } from './collection.js';
import { crdName, fromCustomResource, hasDeletedMark, isMarkedDeleted, markDeleted, toCustomResource } from './crd-convert.js';
import { CRD_API_VERSION } from './crds.js';
import type { KubeApi, KubeObject } from './driver.js';

/**
 * The IPAM kinds: written on every pod start and stop, by Tortie alone. Their updates ask the
 * apiserver to drop managedFields (one empty entry, as Kubernetes documents), and an object without
 * them is not tracked on later updates: field ownership costs the apiserver about a fifth of each
 * block update, and nobody server-side-applies a block.
 */
const UNTRACKED_KINDS: ReadonlySet<string> = new Set(['IPAMBlock', 'IPAMHandle', 'BlockAffinity']);

export class CrdMapping implements KindMapping {
  private readonly kind: string;
  private readonly marks: boolean;
  private readonly untracked: boolean;

  constructor(
    private readonly api: KubeApi,
    private readonly def: KindDef,
  ) {
    this.kind = def.kind;
    this.marks = hasDeletedMark(def.kind);
    this.untracked = UNTRACKED_KINDS.has(def.kind);
  }

  private path(namespace?: string, name?: string): string {
    const ns = this.def.namespaced && namespace ? `/namespaces/${encodeURIComponent(namespace)}` : '';
    return `/apis/${CRD_API_VERSION}${ns}/${this.def.plural}${name !== undefined ? `/${encodeURIComponent(crdName(this.kind, name))}` : ''}`;
  }

  private what(key: { name: string; namespace?: string }): string {
    return `${this.kind} ${key.namespace ? `${key.namespace}/` : ''}${key.name}`;
  }

  private checkNamespace(key: { name: string; namespace?: string }): void {
    if (this.def.namespaced && !key.namespace) throw new DatastoreError('Invalid', `${this.what(key)}: a ${this.kind} needs a namespace`, this.what(key));
  }

  readOnly(): string | undefined {
    return undefined;
  }

  /** The custom resource as stored, marked or not; undefined when absent. */
  private async raw(key: ObjectKey, opts?: ReadOptions): Promise<KubeObject | undefined> {
    return orUndefined(this.api.call<KubeObject>('GET', `${this.path(key.namespace, key.name)}${cachedQuery(opts)}`, this.what(key)));
  }

  /** Second step of a delete: gone only if nobody changed it since `cr` was read. */
  private async finishDelete(cr: KubeObject, what: string): Promise<void> {
    const preconditions = { uid: cr.metadata.uid, resourceVersion: cr.metadata.resourceVersion };
    await this.api.call('DELETE', this.path(cr.metadata.namespace, fromCustomResource(this.kind, cr).key.name), what, { apiVersion: 'v1', kind: 'DeleteOptions', preconditions });
  }

  /** Finishes a delete someone else started; a lost race (changed or gone meanwhile) is fine. */
  private async finishQuietly(cr: KubeObject, what: string): Promise<void> {
    try {
      await this.finishDelete(cr, what);
    } catch (err) {
      if (!(err instanceof DatastoreError) || (err.code !== 'NotFound' && err.code !== 'Conflict')) throw err;
    }
  }

  async get(key: ObjectKey, opts?: ReadOptions): Promise<StoredObject | undefined> {
    this.checkNamespace(key);
    const cr = await this.raw(key, opts);
    if (!cr) return undefined;
    const obj = fromCustomResource(this.kind, cr);
    if (this.marks && isMarkedDeleted(this.kind, obj.value.spec)) {
      await this.finishQuietly(cr, this.what(key));
      return undefined;
    }
    return obj;
  }

  async list(namespace?: string, opts?: ReadOptions): Promise<StoreListResult> {
    const l = await listAll(this.api, this.path(namespace), `${this.def.plural}${namespace ? ` in ${namespace}` : ''}`, opts);
    const items: StoredObject[] = [];
    for (const cr of l.items) {
      const obj = fromCustomResource(this.kind, cr);
      if (this.marks && isMarkedDeleted(this.kind, obj.value.spec)) await this.finishQuietly(cr, this.what(obj.key));
      else items.push(obj);
    }
    return { items: sorted(items), revision: l.metadata.resourceVersion };
  }

  async create(value: StoredValue): Promise<StoredObject> {
    this.checkNamespace(value.metadata);
    const what = this.what(value.metadata);
    const post = async (): Promise<StoredObject> =>
      fromCustomResource(this.kind, await this.api.call<KubeObject>('POST', this.path(value.metadata.namespace), what, toCustomResource(value)));
    try {
      return await post();
    } catch (err) {
      // A marked object is already gone for readers: finish its delete and take the name.
      if (!this.marks || !(err instanceof DatastoreError) || err.code !== 'AlreadyExists') throw err;
      const cr = await this.raw({ kind: this.kind, ...value.metadata });
      if (!cr || !isMarkedDeleted(this.kind, cr.spec)) throw err;
      await this.finishQuietly(cr, what);
      return post();
    }
  }

  async update(value: StoredValue, expectedRevision: string): Promise<StoredObject> {
    this.checkNamespace(value.metadata);
    const what = this.what(value.metadata);
    if (!expectedRevision) throw new DatastoreError('Invalid', `${what}: an update needs the revision it was read at`, what);
    const body = toCustomResource(value, expectedRevision);
    if (this.untracked) body.metadata.managedFields = [{}];
    return fromCustomResource(this.kind, await this.api.call<KubeObject>('PUT', this.path(value.metadata.namespace, value.metadata.name), what, body));
  }

  async delete(key: ObjectKey, expectedRevision?: string): Promise<StoredObject> {
    this.checkNamespace(key);
    // Without an expected revision the caller wants it gone whatever it holds: a write that
    // slipped in between our read and our delete only means reading again.
    for (let attempt = 1; ; attempt++) {
      try {
        return await this.deleteOnce(key, expectedRevision);
      } catch (err) {
        if (expectedRevision || attempt >= 5 || !(err instanceof DatastoreError) || err.code !== 'Conflict') throw err;
      }
    }
  }

  private async deleteOnce(key: ObjectKey, expectedRevision?: string): Promise<StoredObject> {
    const what = this.what(key);
    const cr = await this.raw(key);
    const gone = (): DatastoreError => new DatastoreError('NotFound', `${what} not found`, what);
    if (!cr) throw gone();
    const before = fromCustomResource(this.kind, cr);
    if (this.marks && isMarkedDeleted(this.kind, before.value.spec)) {
      await this.finishQuietly(cr, what);
      throw gone();
    }
    if (expectedRevision && before.revision !== expectedRevision) {
      throw new DatastoreError('Conflict', `${what} was changed by someone else (revision ${before.revision}, expected ${expectedRevision})`, what);
    }
    if (!this.marks) {
      await this.finishDelete(cr, what);
      return before;
    }
    // Once marked it is gone for everyone; a reader may finish the DELETE before we do.
    const marked = { ...before.value, spec: markDeleted(this.kind, before.value.spec) };
    const target = await this.api.call<KubeObject>('PUT', this.path(key.namespace, key.name), what, toCustomResource(marked, before.revision));
    await this.finishQuietly(target, what);
    return before;
  }

  watch(fromRevision: string, handlers: StoreWatchHandlers, namespace?: string): StoreWatch {
    return watchCollection(this.api, this.path(namespace), this.def.plural, fromRevision, handlers, {
      convert: (o) => fromCustomResource(this.kind, o),
      ...(this.marks ? { isMarkedDeleted: (o: StoredObject) => isMarkedDeleted(this.kind, o.value.spec) } : {}),
    });
  }
}
