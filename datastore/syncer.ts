// The syncer: list + watch per kind into a local cache, one per consumer, filtered to what that
// consumer needs. Consumers see a status (wait-for-datastore → resync → in-sync) and batches of
// update/delete events carrying the object key and decoded value. Each kind is listed, then
// watched from its own listing's revision (revisions are opaque and never compared across kinds).
// When a watch fails (history compacted, or the datastore went away) the syncer re-lists that kind
// with back-off and emits exactly the differences between its cache and the new listing, so a
// consumer never sees a spurious event for something that did not change, and never misses one
// that did.
import { invalidObject, splitValid, type InvalidObject } from './invalid.js';
import { DatastoreError, type ObjectKey, type Store, type StoredObject, type StoreEvent, type StoreListResult, type StoreWatch } from './store.js';

export type SyncStatus = 'wait-for-datastore' | 'resync' | 'in-sync';

export type SyncEvent =
  | { type: 'update'; object: StoredObject; previous?: StoredObject }
  | { type: 'delete'; key: ObjectKey; previous: StoredObject };

/** A kind to follow, all of it or one namespace of it. */
export interface SyncKind {
  kind: string;
  namespace?: string;
}

export type SyncFilter = (object: StoredObject) => boolean;

export interface SyncerOptions {
  store: Store;
  /** Kinds this consumer needs (e.g. 'IPPool', { kind: 'WorkloadEndpoint', namespace: 'default' }). */
  kinds: Array<string | SyncKind>;
  /** Finer per-consumer filter; an object whose new value no longer passes is delivered as a delete. */
  filter?: SyncFilter;
  /** One call per batch: a re-list's differences, or one watch response. Never called with []. */
  onEvents(events: SyncEvent[]): void;
  onStatus?(status: SyncStatus): void;
  /** Told about each failure the syncer recovers from (for logs); the syncer keeps going. */
  onError?(err: DatastoreError, kind: string): void;
  /**
   * Told once per stored value that is not a valid object of its kind (not JSON, the wrong shape,
   * another kind, a spec the model rejects): the syncer treats it as absent (a delete when it
   * replaced a valid one) and goes on with everything else.
   */
  onInvalid?(bad: InvalidObject): void;
  /** Re-list back-off: starts at initialMs, doubles to maxMs, resets after a good listing. */
  backoff?: { initialMs?: number; maxMs?: number };
  /**
   * Awaited before every re-list that follows a failure. Lets a caller hold re-syncing (tests use it
   * to change the store at a known moment). Default: no wait.
   */
  beforeRelist?: (kind: string) => Promise<void>;
}

/** A cache key for an object: unique per kind, namespace and name. */
export function objectId(key: ObjectKey): string {
  return `${key.kind}/${key.namespace ?? ''}/${key.name}`;
}

/** Drops duplicates, and namespaced entries of a kind also followed whole, so nothing is cached twice. */
export function normaliseKinds(kinds: Array<string | SyncKind>): SyncKind[] {
  const all = kinds.map((k) => (typeof k === 'string' ? { kind: k } : k));
  const whole = new Set(all.filter((k) => k.namespace === undefined).map((k) => k.kind));
  const seen = new Set<string>();
  const out: SyncKind[] = [];
  for (const k of all) {
    if (k.namespace !== undefined && whole.has(k.kind)) continue;
    const id = `${k.kind}/${k.namespace ?? ''}`;
    if (seen.has(id)) continue;
    seen.add(id);
    out.push(k);
  }
  return out;
}

/** Same object content: the same revision, or (rewritten unchanged) the same value. */
function sameContent(a: StoredObject, b: StoredObject): boolean {
  return a.revision === b.revision || JSON.stringify(a.value) === JSON.stringify(b.value);
}

/**
 * The differences between a cache and a fresh listing (pure): updates for new or changed objects,
 * deletes for objects that vanished (or stopped passing the filter). Order: listing order, then deletes.
 */
export function diffListing(cache: ReadonlyMap<string, StoredObject>, listing: StoreListResult, filter: SyncFilter = () => true): { events: SyncEvent[]; next: Map<string, StoredObject> } {
  const next = new Map<string, StoredObject>();
  const events: SyncEvent[] = [];
  for (const o of listing.items) {
    if (!filter(o)) continue;
    const id = objectId(o.key);
    next.set(id, o);
    const old = cache.get(id);
    if (!old) events.push({ type: 'update', object: o });
    else if (!sameContent(old, o)) events.push({ type: 'update', object: o, previous: old });
  }
  for (const [id, old] of cache) {
    if (!next.has(id)) events.push({ type: 'delete', key: old.key, previous: old });
  }
  return { events, next };
}

/**
 * Applies one watch batch to a cache (pure apart from mutating `cache`): returns the events to
 * deliver. Objects outside the filter are not cached; a cached one that stops passing becomes a delete.
 */
export function applyWatchEvents(cache: Map<string, StoredObject>, events: StoreEvent[], filter: SyncFilter = () => true): SyncEvent[] {
  const out: SyncEvent[] = [];
  for (const e of events) {
    const key = e.type === 'deleted' ? e.key : e.object.key;
    const id = objectId(key);
    const old = cache.get(id);
    if (e.type !== 'deleted' && filter(e.object)) {
      cache.set(id, e.object);
      out.push(old ? { type: 'update', object: e.object, previous: old } : { type: 'update', object: e.object });
    } else if (old) {
      cache.delete(id);
      out.push({ type: 'delete', key, previous: old });
    }
  }
  return out;
}

interface KindState {
  sync: SyncKind;
  /** For logs and beforeRelist: "Kind" or "Kind/namespace". */
  label: string;
  cache: Map<string, StoredObject>;
  /** Invalid values reported, by object id → revision (each is reported once). */
  invalid: Map<string, string>;
  synced: boolean;
  watch?: StoreWatch;
  /** Bumped on every (re)start so callbacks of an old watch are ignored. */
  generation: number;
  backoffMs: number;
  timer?: NodeJS.Timeout;
  wake?: () => void;
}

export class Syncer {
  private readonly states: KindState[];
  private readonly filter: SyncFilter;
  private readonly initialBackoff: number;
  private readonly maxBackoff: number;
  private statusNow: SyncStatus | undefined;
  private running = false;
  private stopped = false;
  private readonly loops = new Set<Promise<void>>();

  constructor(private readonly opts: SyncerOptions) {
    if (opts.kinds.length === 0) throw new DatastoreError('Invalid', 'syncer needs at least one kind');
    this.filter = opts.filter ?? (() => true);
    this.initialBackoff = opts.backoff?.initialMs ?? 100;
    this.maxBackoff = opts.backoff?.maxMs ?? 5000;
    this.states = normaliseKinds(opts.kinds).map((sync) => ({
      sync,
      label: sync.namespace === undefined ? sync.kind : `${sync.kind}/${sync.namespace}`,
      cache: new Map(),
      invalid: new Map(),
      synced: false,
      generation: 0,
      backoffMs: this.initialBackoff,
    }));
  }

  get status(): SyncStatus | undefined {
    return this.statusNow;
  }

  /** The cached object, when the consumer follows it. */
  get(key: ObjectKey): StoredObject | undefined {
    const id = objectId(key);
    for (const s of this.states) {
      const o = s.cache.get(id);
      if (o) return o;
    }
    return undefined;
  }

  /** Every cached object, in no particular order. */
  *entries(): IterableIterator<StoredObject> {
    for (const s of this.states) yield* s.cache.values();
  }

  start(): void {
    if (this.running || this.stopped) return;
    this.running = true;
    this.setStatus('wait-for-datastore');
    for (const s of this.states) this.track(this.run(s, false));
  }

  async stop(): Promise<void> {
    this.stopped = true;
    for (const s of this.states) {
      s.generation++;
      if (s.timer) clearTimeout(s.timer);
      s.wake?.();
    }
    await Promise.all(this.states.map((s) => s.watch?.close()));
    await Promise.allSettled([...this.loops]);
  }

  private setStatus(status: SyncStatus): void {
    if (this.stopped || this.statusNow === status) return;
    this.statusNow = status;
    this.opts.onStatus?.(status);
  }

  private updateStatus(): void {
    if (this.states.every((s) => s.synced)) this.setStatus('in-sync');
  }

  /** List (with back-off until it works), deliver the differences, then watch from the listing. */
  private async run(s: KindState, afterFailure: boolean): Promise<void> {
    const gen = ++s.generation;
    let first = true;
    while (!this.stopped && gen === s.generation) {
      if (afterFailure && first && this.opts.beforeRelist) {
        try {
          await this.opts.beforeRelist(s.label);
        } catch (err) {
          this.opts.onError?.(asDatastoreError(err), s.label);
        }
      }
      if (this.stopped || gen !== s.generation) return;
      first = false;
      let listing: StoreListResult;
      try {
        listing = await this.opts.store.list(s.sync.kind, s.sync.namespace);
      } catch (err) {
        const e = asDatastoreError(err);
        if (this.stopped || gen !== s.generation) return;
        this.opts.onError?.(e, s.label);
        if (e.code === 'Unavailable') this.setStatus('wait-for-datastore');
        await this.sleep(s, s.backoffMs);
        s.backoffMs = Math.min(s.backoffMs * 2, this.maxBackoff);
        continue;
      }
      if (this.stopped || gen !== s.generation) return;
      s.backoffMs = this.initialBackoff;
      if (this.statusNow !== 'in-sync') this.setStatus('resync');
      const { valid, invalid } = splitValid(this.opts.store, listing.items);
      const seen = s.invalid;
      s.invalid = new Map();
      for (const bad of invalid) this.reportInvalid(s, bad, seen);
      const { events, next } = diffListing(s.cache, { ...listing, items: valid }, this.filter);
      s.cache = next;
      if (events.length) this.deliver(events, s.label);
      s.synced = true;
      this.updateStatus();
      this.startWatch(s, gen, listing.revision);
      return;
    }
  }

  private startWatch(s: KindState, gen: number, fromRevision: string): void {
    s.watch = this.opts.store.watch(
      s.sync.kind,
      fromRevision,
      {
        onEvents: (events) => {
          if (this.stopped || gen !== s.generation) return;
          const out = applyWatchEvents(s.cache, this.dropInvalid(s, events), this.filter);
          if (out.length) this.deliver(out, s.label);
        },
        onError: (err) => {
          if (this.stopped || gen !== s.generation) return;
          this.opts.onError?.(err, s.label);
          const old = s.watch;
          s.watch = undefined;
          void old?.close();
          s.synced = false;
          this.setStatus('resync');
          // Compacted: re-list now. Unavailable: the first list attempt will tell, then back off.
          this.track(this.run(s, true));
        },
      },
      s.sync.namespace,
    );
  }

  /** Watch events with each invalid value reported and turned into a delete of that object. */
  private dropInvalid(s: KindState, events: StoreEvent[]): StoreEvent[] {
    return events.map((e) => {
      if (e.type === 'deleted') {
        s.invalid.delete(objectId(e.key));
        return e;
      }
      const bad = invalidObject(this.opts.store, e.object);
      if (!bad) {
        s.invalid.delete(objectId(e.object.key));
        return e;
      }
      this.reportInvalid(s, bad, s.invalid);
      return { type: 'deleted', key: e.object.key, revision: e.object.revision };
    });
  }

  private reportInvalid(s: KindState, bad: InvalidObject, seen: ReadonlyMap<string, string>): void {
    const id = objectId(bad.key);
    const known = seen.get(id) === bad.revision;
    s.invalid.set(id, bad.revision);
    if (known) return;
    try {
      this.opts.onInvalid?.(bad);
    } catch {
      // A logger that throws must not stop the sync.
    }
  }

  /** A consumer that throws must not break the syncer (or the store's stream); it is told via onError. */
  private deliver(events: SyncEvent[], label: string): void {
    try {
      this.opts.onEvents(events);
    } catch (err) {
      const msg = err instanceof Error ? err.message : String(err);
      this.opts.onError?.(new DatastoreError('Invalid', `consumer's onEvents threw: ${msg}`), label);
    }
  }

  private track(p: Promise<void>): void {
    // A throwing consumer callback must not become an unhandled rejection; report it instead.
    const q = p.catch((err: unknown) => this.opts.onError?.(asDatastoreError(err), ''));
    this.loops.add(q);
    void q.finally(() => this.loops.delete(q));
  }

  private sleep(s: KindState, ms: number): Promise<void> {
    return new Promise((resolve) => {
      s.wake = resolve;
      s.timer = setTimeout(resolve, ms);
    });
  }
}

function asDatastoreError(err: unknown): DatastoreError {
  if (err instanceof DatastoreError) return err;
  return new DatastoreError('Unavailable', err instanceof Error ? err.message : String(err));
}
