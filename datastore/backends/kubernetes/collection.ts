// What every kind's mapping shares: the per-kind interface the store dispatches to, paged lists,
// "now" as a resourceVersion, and a collection's watch turned into store events.
import { DatastoreError } from '../../errors.js';
import type { ObjectKey, ReadOptions, StoredObject, StoredValue, StoreEvent, StoreListResult, StoreWatch, StoreWatchHandlers } from '../../store.js';
import type { KubeApi, KubeList, KubeObject } from './driver.js';

export interface KindMapping {
  readOnly(key: ObjectKey): string | undefined;
  get(key: ObjectKey, opts?: ReadOptions): Promise<StoredObject | undefined>;
  list(namespace?: string, opts?: ReadOptions): Promise<StoreListResult>;
  create(value: StoredValue): Promise<StoredObject>;
  update(value: StoredValue, expectedRevision: string): Promise<StoredObject>;
  delete(key: ObjectKey, expectedRevision?: string): Promise<StoredObject>;
  watch(fromRevision: string, handlers: StoreWatchHandlers, namespace?: string): StoreWatch;
}

const PAGE = 500;

/** `?resourceVersion=0` for a read the apiserver's watch cache may answer (ReadOptions.cached). */
export const cachedQuery = (opts?: ReadOptions): string => (opts?.cached ? '?resourceVersion=0' : '');

/**
 * Every page of a collection, all at the first page's resourceVersion (Kubernetes' continue tokens);
 * or, `cached`, the whole collection from the apiserver's watch cache in one answer.
 */
export async function listAll(api: Pick<KubeApi, 'call'>, path: string, what: string, opts?: ReadOptions): Promise<KubeList> {
  if (opts?.cached) return api.call<KubeList>('GET', `${path}${cachedQuery(opts)}`, what);
  const items: KubeObject[] = [];
  let cont = '';
  let rv = '';
  for (;;) {
    const page = await api.call<KubeList>('GET', `${path}?limit=${PAGE}${cont ? `&continue=${encodeURIComponent(cont)}` : ''}`, what);
    if (!rv) rv = page.metadata.resourceVersion;
    items.push(...page.items);
    if (!page.metadata.continue) return { metadata: { resourceVersion: rv }, items };
    cont = page.metadata.continue;
  }
}

/** The collection's current resourceVersion: a watch from it sees only what happens next. */
export async function currentRevision(api: KubeApi, path: string, what: string): Promise<string> {
  const page = await api.call<KubeList>('GET', `${path}?limit=1`, what);
  return page.metadata.resourceVersion;
}

export async function orUndefined<T>(p: Promise<T>): Promise<T | undefined> {
  try {
    return await p;
  } catch (err) {
    if (err instanceof DatastoreError && err.code === 'NotFound') return undefined;
    throw err;
  }
}

const byNamespaceThenName = (a: StoredObject, b: StoredObject): number => {
  const an = a.key.namespace ?? '';
  const bn = b.key.namespace ?? '';
  if (an !== bn) return an < bn ? -1 : 1;
  return a.key.name < b.key.name ? -1 : a.key.name > b.key.name ? 1 : 0;
};

export function sorted(items: StoredObject[]): StoredObject[] {
  return [...items].sort(byNamespaceThenName);
}

export interface CollectionWatchOptions {
  /** Kubernetes object → store object; undefined when this object is not one (skipped). */
  convert(obj: KubeObject): StoredObject | undefined;
  /** IPAM kinds: a change that sets the `deleted` mark is reported as the delete. */
  isMarkedDeleted?(o: StoredObject): boolean;
}

/**
 * Watches one collection from `fromRevision` ('' = from now) as store events. Ends with onError
 * once (410 Gone → Compacted, a lost connection → Unavailable); close() stops it silently.
 */
export function watchCollection(api: KubeApi, path: string, what: string, fromRevision: string, handlers: StoreWatchHandlers, opts: CollectionWatchOptions): StoreWatch {
  let closed = false;
  let inner: { close(): void } | undefined;
  // Keys already reported deleted through their `deleted` mark: their real DELETE is not news.
  const markedGone = new Set<string>();
  // Objects seen alive through this watch (events since it started): the `previous` of their next
  // change or delete, as etcd gives it (Kubernetes' watch events carry only the new state).
  const lastAlive = new Map<string, StoredObject>();
  const id = (k: ObjectKey): string => `${k.namespace ?? ''}/${k.name}`;
  const fail = (err: DatastoreError): void => {
    if (closed) return;
    closed = true;
    inner?.close();
    handlers.onError(err);
  };
  const deliver = (ev: StoreEvent): void => {
    if (closed) return;
    try {
      handlers.onEvents([ev]);
    } catch {
      /* a consumer's failure is its own; the watch goes on */
    }
  };
  const start = (rv: string): void => {
    if (closed) return;
    inner = api.watch(path, rv, what, {
      onEnd: fail,
      onEvent: (ev) => {
        if (ev.type === 'BOOKMARK') return;
        let obj: StoredObject | undefined;
        try {
          obj = opts.convert(ev.object);
        } catch {
          obj = undefined; // an object too malformed to convert is not one of ours
        }
        if (!obj) return;
        const k = id(obj.key);
        // A delete's `previous` is the object as last seen alive, as etcd reports it: not the
        // `deleted`-marked copy, nor the DELETED event's copy (which carries the delete's revision).
        const gone = (): void => {
          const previous = lastAlive.get(k) ?? obj;
          lastAlive.delete(k);
          deliver({ type: 'deleted', key: obj.key, revision: obj.revision, previous });
        };
        if (ev.type === 'DELETED') {
          if (markedGone.delete(k)) return;
          gone();
        } else if (opts.isMarkedDeleted?.(obj)) {
          if (markedGone.has(k)) return;
          markedGone.add(k);
          gone();
        } else {
          markedGone.delete(k);
          const previous = lastAlive.get(k);
          lastAlive.set(k, obj);
          deliver(ev.type === 'ADDED' || !previous ? { type: ev.type === 'ADDED' ? 'added' : 'modified', object: obj } : { type: 'modified', object: obj, previous });
        }
      },
    });
  };
  if (fromRevision) start(fromRevision);
  else currentRevision(api, path, what).then(start, fail);
  return {
    close: async () => {
      closed = true;
      inner?.close();
    },
  };
}

/**
 * Several watches as one (a kind made of two collections); fromRevision is their composite
 * "a/b". The first to end ends all, with its error.
 */
export function mergeWatches(starts: ((from: string, h: StoreWatchHandlers) => StoreWatch)[], froms: string[], handlers: StoreWatchHandlers): StoreWatch {
  let over = false;
  const watches: StoreWatch[] = [];
  const h: StoreWatchHandlers = {
    onEvents: (evs) => {
      if (!over) handlers.onEvents(evs);
    },
    onError: (err) => {
      if (over) return;
      over = true;
      for (const w of watches) void w.close();
      handlers.onError(err);
    },
  };
  starts.forEach((s, i) => watches.push(s(froms[i], h)));
  return {
    close: async () => {
      over = true;
      await Promise.all(watches.map((w) => w.close()));
    },
  };
}

/** A write refused because the object is derived from Kubernetes objects. */
export function refused(reason: string, key: ObjectKey): DatastoreError {
  return new DatastoreError('Invalid', reason, `${key.kind} ${key.namespace ? `${key.namespace}/` : ''}${key.name}`);
}
