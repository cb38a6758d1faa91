// The Store over an etcd-semantics KV driver (EtcdBackend for a real etcd, MemoryBackend in-process),
// keeping Calico's etcd layout (etcd-layout.ts). Revisions are the etcd mod revision as a string; a
// listing's revision is the store revision it is consistent at, and a watch from it resumes at +1.
import { DatastoreError, type Backend, type KV, type WatchEvent } from './kv.js';
import type { ObjectKey, Store, StoreEvent, StoredObject, StoredValue, StoreListResult, StoreWatch, StoreWatchHandlers } from '../store.js';
import { candidateKeys, decodeValue, encodeValue, keyForValue, kindLayout, type KindLayout } from './etcd-layout.js';

export class EtcdStore implements Store {
  readonly description: string;

  /** `kv` is owned by the store from now on: close() closes it. */
  constructor(readonly kv: Backend) {
    this.description = kv.description;
  }

  readOnly(): string | undefined {
    return undefined;
  }

  locate(key: ObjectKey): string {
    return candidateKeys(key)[0];
  }

  async get(key: ObjectKey): Promise<StoredObject | undefined> {
    for (const k of candidateKeys(key)) {
      const kv = await this.kv.get(k);
      if (kv) return toObject(key, kv);
    }
    return undefined;
  }

  async list(kind: string, namespace?: string): Promise<StoreListResult> {
    const layout = kindLayout(kind, namespace);
    const res = await this.kv.list(layout.prefix);
    const items: StoredObject[] = [];
    for (const kv of res.items) {
      const key = layout.keyOf(kv.key);
      if (key && (!namespace || !key.namespace || key.namespace === namespace)) items.push(toObject(key, kv));
    }
    items.sort(compareObjects);
    return { items, revision: String(res.revision) };
  }

  async create(value: StoredValue): Promise<StoredObject> {
    const { key, etcdKey } = keyForValue(value);
    const kv = await this.kv.create(etcdKey, encodeValue(value)).catch(rethrowFor(key));
    return toObject(key, kv);
  }

  async update(value: StoredValue, expectedRevision: string): Promise<StoredObject> {
    const { key, etcdKey } = keyForValue(value);
    const kv = await this.kv.update(etcdKey, encodeValue(value), parseRevision(expectedRevision)).catch(rethrowFor(key));
    return toObject(key, kv);
  }

  async delete(key: ObjectKey, expectedRevision?: string): Promise<StoredObject> {
    const rev = expectedRevision === undefined ? undefined : parseRevision(expectedRevision);
    const keys = candidateKeys(key);
    let etcdKey = keys[0];
    if (keys.length > 1) {
      for (const k of keys) if (await this.kv.get(k)) etcdKey = k;
    }
    const kv = await this.kv.delete(etcdKey, rev).catch(rethrowFor(key));
    return toObject(key, kv);
  }

  watch(kind: string, fromRevision: string, handlers: StoreWatchHandlers, namespace?: string): StoreWatch {
    const layout = kindLayout(kind, namespace);
    const from = fromRevision === '' ? 0 : parseRevision(fromRevision) + 1;
    return this.kv.watch(layout.prefix, from, {
      onEvents: (events) => {
        const out = toStoreEvents(layout, events);
        if (out.length) handlers.onEvents(out);
      },
      onError: (err) => handlers.onError(err),
    });
  }

  close(): Promise<void> {
    return this.kv.close();
  }
}

function toObject(key: ObjectKey, kv: KV): StoredObject {
  // The key named by the stored value's place, so an IPv6 affinity read by a candidate key is exact.
  return { key, value: decodeValue(key, kv.key, kv.value), revision: String(kv.modRevision) };
}

function toStoreEvents(layout: KindLayout, events: WatchEvent[]): StoreEvent[] {
  const out: StoreEvent[] = [];
  for (const e of events) {
    const etcdKey = e.type === 'put' ? e.kv.key : e.key;
    const key = layout.keyOf(etcdKey);
    if (!key) continue;
    const previous = e.prev ? toObject(key, e.prev) : undefined;
    if (e.type === 'put') out.push({ type: e.prev ? 'modified' : 'added', object: toObject(key, e.kv), ...(previous ? { previous } : {}) });
    else out.push({ type: 'deleted', key, revision: String(e.revision), ...(previous ? { previous } : {}) });
  }
  return out;
}

function compareObjects(a: StoredObject, b: StoredObject): number {
  const na = a.key.namespace ?? '';
  const nb = b.key.namespace ?? '';
  if (na !== nb) return na < nb ? -1 : 1;
  return a.key.name < b.key.name ? -1 : a.key.name > b.key.name ? 1 : 0;
}

function parseRevision(rev: string): number {
  if (!/^[1-9][0-9]*$/.test(rev)) throw new DatastoreError('Invalid', `'${rev}' is not a revision of this store`);
  return Number(rev);
}

/** The KV layer's errors name the etcd key; the Store's name the object. */
function rethrowFor(key: ObjectKey): (err: unknown) => never {
  return (err) => {
    if (err instanceof DatastoreError && err.code !== 'Unavailable') {
      const what = `${key.kind}(${key.namespace ? `${key.namespace}/` : ''}${key.name})`;
      const why = err.code === 'AlreadyExists' ? 'already exists' : err.code === 'NotFound' ? 'does not exist' : err.code === 'Conflict' ? 'changed since it was read (revision mismatch)' : err.message;
      throw new DatastoreError(err.code, `${what} ${why}`, err.key);
    }
    throw err;
  };
}

