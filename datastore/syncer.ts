// The syncer: list + watch into a local cache, one per consumer, filtered to what that consumer needs.
// Consumers see a status (wait-for-datastore → resync → in-sync) and batches of update/delete events.
// When a watch fails (history compacted, or the datastore went away) the syncer re-lists with back-off
// and emits exactly the differences between its cache and the new listing, so a consumer never sees
// a spurious event for something that did not change, and never misses one that did.
import { DatastoreError, type Backend, type KV, type ListResult, type Watch, type WatchEvent } from './backend.js';

export type SyncStatus = 'wait-for-datastore' | 'resync' | 'in-sync';

export type SyncEvent =
  | { type: 'update'; key: string; value: string; prevValue?: string; revision: number }
  | { type: 'delete'; key: string; prevValue: string; revision: number };

export interface SyncerOptions {
  backend: Backend;
  /** Key prefixes this consumer needs (e.g. resourceListPrefix('ippools'), IPAM_PREFIX). */
  prefixes: string[];
  /** Finer per-consumer filter; a key whose new value no longer passes is delivered as a delete. */
  filter?: (key: string, value: string) => boolean;
  /** One call per batch: a re-list's differences, or one watch response. Never called with []. */
  onEvents(events: SyncEvent[]): void;
  onStatus?(status: SyncStatus): void;
  /** Told about each failure the syncer recovers from (for logs); the syncer keeps going. */
  onError?(err: DatastoreError, prefix: string): void;
  /** Re-list back-off: starts at initialMs, doubles to maxMs, resets after a good listing. */
  backoff?: { initialMs?: number; maxMs?: number };
  /**
   * Awaited before every re-list that follows a failure. Lets a caller hold re-syncing (tests use it
   * to change the store at a known moment). Default: no wait.
   */
  beforeRelist?: (prefix: string) => Promise<void>;
}

/** Drops prefixes covered by a shorter one, so no key is cached (or delivered) twice. */
export function normalisePrefixes(prefixes: string[]): string[] {
  const unique = [...new Set(prefixes)];
  return unique.filter((p) => !unique.some((q) => q !== p && p.startsWith(q)));
}

/**
 * The differences between a cache and a fresh listing (pure): updates for new or changed values,
 * deletes for keys that vanished (or stopped passing the filter). Order: listing order, then deletes.
 */
export function diffListing(
  cache: ReadonlyMap<string, KV>,
  listing: ListResult,
  filter: (key: string, value: string) => boolean = () => true,
): { events: SyncEvent[]; next: Map<string, KV> } {
  const next = new Map<string, KV>();
  const events: SyncEvent[] = [];
  for (const kv of listing.items) {
    if (!filter(kv.key, kv.value)) continue;
    next.set(kv.key, kv);
    const old = cache.get(kv.key);
    if (!old) events.push({ type: 'update', key: kv.key, value: kv.value, revision: kv.modRevision });
    else if (old.value !== kv.value) events.push({ type: 'update', key: kv.key, value: kv.value, prevValue: old.value, revision: kv.modRevision });
  }
  for (const [key, old] of cache) {
    if (!next.has(key)) events.push({ type: 'delete', key, prevValue: old.value, revision: listing.revision });
  }
  return { events, next };
}

/**
 * Applies one watch response to a cache (pure apart from mutating `cache`): returns the events to
 * deliver. Keys outside the filter are not cached; a cached key that stops passing becomes a delete.
 */
export function applyWatchEvents(
  cache: Map<string, KV>,
  events: WatchEvent[],
  filter: (key: string, value: string) => boolean = () => true,
): SyncEvent[] {
  const out: SyncEvent[] = [];
  for (const e of events) {
    if (e.type === 'put') {
      const old = cache.get(e.kv.key);
      if (filter(e.kv.key, e.kv.value)) {
        cache.set(e.kv.key, e.kv);
        out.push(
          old
            ? { type: 'update', key: e.kv.key, value: e.kv.value, prevValue: old.value, revision: e.kv.modRevision }
            : { type: 'update', key: e.kv.key, value: e.kv.value, revision: e.kv.modRevision },
        );
      } else if (old) {
        cache.delete(e.kv.key);
        out.push({ type: 'delete', key: e.kv.key, prevValue: old.value, revision: e.kv.modRevision });
      }
    } else {
      const old = cache.get(e.key);
      if (old) {
        cache.delete(e.key);
        out.push({ type: 'delete', key: e.key, prevValue: old.value, revision: e.revision });
      }
    }
  }
  return out;
}

interface PrefixState {
  prefix: string;
  cache: Map<string, KV>;
  synced: boolean;
  watch?: Watch;
  /** Bumped on every (re)start so callbacks of an old watch are ignored. */
  generation: number;
  backoffMs: number;
  timer?: NodeJS.Timeout;
  wake?: () => void;
}

export class Syncer {
  private readonly states: PrefixState[];
  private readonly filter: (key: string, value: string) => boolean;
  private readonly initialBackoff: number;
  private readonly maxBackoff: number;
  private statusNow: SyncStatus | undefined;
  private running = false;
  private stopped = false;
  private readonly loops = new Set<Promise<void>>();

  constructor(private readonly opts: SyncerOptions) {
    if (opts.prefixes.length === 0) throw new DatastoreError('Invalid', 'syncer needs at least one key prefix');
    this.filter = opts.filter ?? (() => true);
    this.initialBackoff = opts.backoff?.initialMs ?? 100;
    this.maxBackoff = opts.backoff?.maxMs ?? 5000;
    this.states = normalisePrefixes(opts.prefixes).map((prefix) => ({
      prefix,
      cache: new Map(),
      synced: false,
      generation: 0,
      backoffMs: this.initialBackoff,
    }));
  }

  get status(): SyncStatus | undefined {
    return this.statusNow;
  }

  /** The cached value of a key the consumer follows. */
  get(key: string): KV | undefined {
    for (const s of this.states) if (key.startsWith(s.prefix)) return s.cache.get(key);
    return undefined;
  }

  /** Every cached key/value, in no particular order. */
  *entries(): IterableIterator<KV> {
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
  private async run(s: PrefixState, afterFailure: boolean): Promise<void> {
    const gen = ++s.generation;
    let first = true;
    while (!this.stopped && gen === s.generation) {
      if (afterFailure && first && this.opts.beforeRelist) {
        try {
          await this.opts.beforeRelist(s.prefix);
        } catch (err) {
          this.opts.onError?.(asDatastoreError(err), s.prefix);
        }
      }
      if (this.stopped || gen !== s.generation) return;
      first = false;
      let listing: ListResult;
      try {
        listing = await this.opts.backend.list(s.prefix);
      } catch (err) {
        const e = asDatastoreError(err);
        if (this.stopped || gen !== s.generation) return;
        this.opts.onError?.(e, s.prefix);
        if (e.code === 'Unavailable') this.setStatus('wait-for-datastore');
        await this.sleep(s, s.backoffMs);
        s.backoffMs = Math.min(s.backoffMs * 2, this.maxBackoff);
        continue;
      }
      if (this.stopped || gen !== s.generation) return;
      s.backoffMs = this.initialBackoff;
      if (this.statusNow !== 'in-sync') this.setStatus('resync');
      const { events, next } = diffListing(s.cache, listing, this.filter);
      s.cache = next;
      if (events.length) this.deliver(events, s.prefix);
      s.synced = true;
      this.updateStatus();
      this.startWatch(s, gen, listing.revision + 1);
      return;
    }
  }

  private startWatch(s: PrefixState, gen: number, fromRevision: number): void {
    s.watch = this.opts.backend.watch(s.prefix, fromRevision, {
      onEvents: (events) => {
        if (this.stopped || gen !== s.generation) return;
        const out = applyWatchEvents(s.cache, events, this.filter);
        if (out.length) this.deliver(out, s.prefix);
      },
      onError: (err) => {
        if (this.stopped || gen !== s.generation) return;
        this.opts.onError?.(err, s.prefix);
        const old = s.watch;
        s.watch = undefined;
        void old?.close();
        s.synced = false;
        this.setStatus('resync');
        // Compacted: re-list now. Unavailable: the first list attempt will tell, then back off.
        this.track(this.run(s, true));
      },
    });
  }

  /** A consumer that throws must not break the syncer (or etcd's stream); it is told via onError. */
  private deliver(events: SyncEvent[], prefix: string): void {
    try {
      this.opts.onEvents(events);
    } catch (err) {
      const msg = err instanceof Error ? err.message : String(err);
      this.opts.onError?.(new DatastoreError('Invalid', `consumer's onEvents threw: ${msg}`), prefix);
    }
  }

  private track(p: Promise<void>): void {
    // A throwing consumer callback must not become an unhandled rejection; report it instead.
    const q = p.catch((err: unknown) => this.opts.onError?.(asDatastoreError(err), ''));
    this.loops.add(q);
    void q.finally(() => this.loops.delete(q));
  }

  private sleep(s: PrefixState, ms: number): Promise<void> {
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
