// Cached reads of a small kind answered from this client's own copy, kept current by a list and a
// watch: client-go's informer in miniature. A long-running client (tortie-node) reads the IP pools
// and reservations for every pod it starts; through the apiserver each read costs it a request
// (authentication, a copy out of its watch cache, JSON), here nothing after the first.
// Only `cached` reads are answered here (ReadOptions: a moment behind is fine, a CAS guards the
// write); everything else goes straight to the kind's mapping. The copy is dropped when its watch
// ends and re-listed at the next read, and at most every `maxAgeMs`, so a watch that went quiet
// without ending cannot keep it stale for long.
import type { ObjectKey, ReadOptions, StoredObject, StoredValue, StoreEvent, StoreListResult, StoreWatch, StoreWatchHandlers } from '../../store.js';
import { sorted, type KindMapping } from './collection.js';

export interface WatchCacheOptions {
  /** Epoch ms; injected by tests. */
  now?: () => number;
  /** Re-list after this long even if the watch never ended; default 60 s. */
  maxAgeMs?: number;
}

interface Copy {
  objects: Map<string, StoredObject>;
  revision: string;
  listedAt: number;
  ready: Promise<void>;
  watch?: StoreWatch;
}

const id = (k: ObjectKey): string => `${k.namespace ?? ''}/${k.name}`;

export class WatchCachedMapping implements KindMapping {
  private copy: Copy | undefined;
  private closed = false;
  private readonly now: () => number;
  private readonly maxAgeMs: number;

  constructor(
    private readonly inner: KindMapping,
    opts: WatchCacheOptions = {},
  ) {
    this.now = opts.now ?? Date.now;
    this.maxAgeMs = opts.maxAgeMs ?? 60_000;
  }

  readOnly(key: ObjectKey): string | undefined {
    return this.inner.readOnly(key);
  }

  async get(key: ObjectKey, opts?: ReadOptions): Promise<StoredObject | undefined> {
    if (!opts?.cached || this.closed) return this.inner.get(key, opts);
    return (await this.current()).objects.get(id(key));
  }

  async list(namespace?: string, opts?: ReadOptions): Promise<StoreListResult> {
    if (!opts?.cached || this.closed) return this.inner.list(namespace, opts);
    const c = await this.current();
    const items = [...c.objects.values()].filter((o) => namespace === undefined || o.key.namespace === namespace);
    return { items: sorted(items), revision: c.revision };
  }

  create(value: StoredValue): Promise<StoredObject> {
    return this.inner.create(value);
  }

  update(value: StoredValue, expectedRevision: string): Promise<StoredObject> {
    return this.inner.update(value, expectedRevision);
  }

  delete(key: ObjectKey, expectedRevision?: string): Promise<StoredObject> {
    return this.inner.delete(key, expectedRevision);
  }

  watch(fromRevision: string, handlers: StoreWatchHandlers, namespace?: string): StoreWatch {
    return this.inner.watch(fromRevision, handlers, namespace);
  }

  async close(): Promise<void> {
    this.closed = true;
    await this.drop(this.copy);
  }

  private async current(): Promise<Copy> {
    const c = this.copy;
    if (c && this.now() - c.listedAt < this.maxAgeMs) {
      await c.ready;
      return c;
    }
    void this.drop(c);
    const next: Copy = { objects: new Map(), revision: '', listedAt: this.now(), ready: Promise.resolve() };
    next.ready = this.fill(next);
    this.copy = next;
    // A failed list is not kept: the next read tries again.
    next.ready.catch(() => void this.drop(next));
    await next.ready;
    return next;
  }

  private async fill(c: Copy): Promise<void> {
    const listed = await this.inner.list(undefined, { cached: true });
    for (const o of listed.items) c.objects.set(id(o.key), o);
    c.revision = listed.revision;
    if (this.copy !== c) return; // dropped (closed, or replaced) while listing
    c.watch = this.inner.watch(listed.revision, {
      onEvents: (events) => {
        for (const ev of events) apply(c, ev);
      },
      onError: () => void this.drop(c),
    });
  }

  private async drop(c: Copy | undefined): Promise<void> {
    if (!c) return;
    if (this.copy === c) this.copy = undefined;
    await c.watch?.close();
  }
}

function apply(c: Copy, ev: StoreEvent): void {
  if (ev.type === 'deleted') {
    c.objects.delete(id(ev.key));
  } else {
    c.objects.set(id(ev.object.key), ev.object);
  }
  c.revision = ev.type === 'deleted' ? ev.revision : ev.object.revision;
}
