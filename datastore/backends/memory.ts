// In-process Backend with etcd v3 semantics, for unit tests and the lab's quick paths.
// It mirrors etcd exactly where callers can tell: one store-wide revision counter (an empty store is at
// revision 1, the first write is revision 2), one revision per write, CAS on mod revision, watches that
// replay history from a revision with previous values, and compaction that makes old watches fail.
import {
  DatastoreError,
  type Backend,
  type KV,
  type ListResult,
  type Watch,
  type WatchEvent,
  type WatchHandlers,
} from './kv.js';

export interface MemoryBackendOptions {
  /**
   * How many past revisions of history watches may replay (like etcd's auto-compaction by revision).
   * Older history is compacted away: watching from before it yields DatastoreError('Compacted').
   * Default: unlimited.
   */
  historyWindow?: number;
  /** Shown in error messages. Default "memory". */
  description?: string;
}

interface HistoryEntry {
  revision: number;
  events: WatchEvent[];
}

interface Watcher {
  prefix: string;
  handlers: WatchHandlers;
  /** Next revision this watcher still has to see. */
  nextRevision: number;
  closed: boolean;
  /** Delivery is queued so handlers never run inside the writer's call (as with a network). */
  pending: Promise<void>;
}

type WriteOp = { type: 'put'; key: string; value: string } | { type: 'delete'; key: string };

const copy = (kv: KV): KV => ({ ...kv });

function copyEvent(e: WatchEvent): WatchEvent {
  if (e.type === 'put') return { type: 'put', kv: copy(e.kv), ...(e.prev ? { prev: copy(e.prev) } : {}) };
  return { type: 'delete', key: e.key, revision: e.revision, ...(e.prev ? { prev: copy(e.prev) } : {}) };
}

export class MemoryBackend implements Backend {
  readonly description: string;
  private readonly data = new Map<string, KV>();
  private revision = 1;
  /** Lowest revision still in history; watching from below it is Compacted. */
  private compactRevision = 0;
  private readonly history: HistoryEntry[] = [];
  private readonly watchers = new Set<Watcher>();
  private readonly historyWindow: number;
  private closed = false;
  /** Set while simulating an outage: every call fails with this error. */
  private outage: DatastoreError | undefined;

  constructor(opts: MemoryBackendOptions = {}) {
    this.description = opts.description ?? 'memory';
    this.historyWindow = opts.historyWindow ?? Number.POSITIVE_INFINITY;
    if (!(this.historyWindow >= 1)) throw new DatastoreError('Invalid', `historyWindow must be >= 1, got ${opts.historyWindow}`);
  }

  /** Current store revision (the header revision etcd would report). */
  get currentRevision(): number {
    return this.revision;
  }

  /** Revision below which history is gone (0 = never compacted). */
  get compactedRevision(): number {
    return this.compactRevision;
  }

  async get(key: string): Promise<KV | undefined> {
    this.check();
    const kv = this.data.get(key);
    return kv ? copy(kv) : undefined;
  }

  async list(prefix: string): Promise<ListResult> {
    this.check();
    const items: KV[] = [];
    for (const kv of this.data.values()) if (kv.key.startsWith(prefix)) items.push(copy(kv));
    // etcd returns keys in byte order.
    items.sort((a, b) => cmpBytes(a.key, b.key));
    return { items, revision: this.revision };
  }

  async create(key: string, value: string): Promise<KV> {
    this.check();
    validKey(key);
    if (this.data.has(key)) throw new DatastoreError('AlreadyExists', `${key} already exists`, key);
    return copy(this.commit([{ type: 'put', key, value }])[0] as KV);
  }

  async update(key: string, value: string, expectedModRevision: number): Promise<KV> {
    this.check();
    validKey(key);
    const cur = this.data.get(key);
    if (!cur) throw new DatastoreError('NotFound', `${key} does not exist`, key);
    if (cur.modRevision !== expectedModRevision) {
      throw new DatastoreError('Conflict', `${key} was modified (revision ${cur.modRevision}, expected ${expectedModRevision})`, key);
    }
    return copy(this.commit([{ type: 'put', key, value }])[0] as KV);
  }

  async delete(key: string, expectedModRevision?: number): Promise<KV> {
    this.check();
    const cur = this.data.get(key);
    if (!cur) throw new DatastoreError('NotFound', `${key} does not exist`, key);
    if (expectedModRevision !== undefined && cur.modRevision !== expectedModRevision) {
      throw new DatastoreError('Conflict', `${key} was modified (revision ${cur.modRevision}, expected ${expectedModRevision})`, key);
    }
    this.commit([{ type: 'delete', key }]);
    return copy(cur);
  }

  watch(prefix: string, fromRevision: number, handlers: WatchHandlers): Watch {
    const w: Watcher = {
      prefix,
      handlers,
      // etcd treats start revision 0 as "from now on".
      nextRevision: fromRevision > 0 ? fromRevision : this.revision + 1,
      closed: false,
      pending: Promise.resolve(),
    };
    if (this.closed || this.outage) {
      const err = this.outage ?? new DatastoreError('Unavailable', `${this.description} is closed`);
      w.closed = true;
      queueMicrotask(() => handlers.onError(err));
      return { close: async () => {} };
    }
    if (w.nextRevision < this.compactRevision) {
      w.closed = true;
      const err = new DatastoreError(
        'Compacted',
        `watch of ${prefix} from revision ${fromRevision}: required revision has been compacted (compacted at ${this.compactRevision})`,
      );
      queueMicrotask(() => handlers.onError(err));
      return { close: async () => {} };
    }
    this.watchers.add(w);
    // Replay history the watcher asked for, then it follows live commits.
    const backlog = this.history.filter((h) => h.revision >= w.nextRevision);
    for (const h of backlog) this.deliver(w, h);
    return {
      close: async () => {
        w.closed = true;
        this.watchers.delete(w);
        await w.pending;
      },
    };
  }

  /** Drop history before `revision`, like etcd's `compact`. Watches already past it are unaffected. */
  compact(revision: number): void {
    if (revision > this.revision) {
      throw new DatastoreError('Invalid', `cannot compact to revision ${revision}: store is at ${this.revision}`);
    }
    if (revision <= this.compactRevision) return;
    this.compactRevision = revision;
    const keep = this.history.findIndex((h) => h.revision >= revision);
    this.history.splice(0, keep === -1 ? this.history.length : keep);
    // A watcher that has not yet been delivered revisions below the compaction point can no longer catch up.
    for (const w of [...this.watchers]) {
      if (w.nextRevision < revision) this.fail(w, new DatastoreError('Compacted', `watch of ${w.prefix} fell behind compaction at ${revision}`));
    }
  }

  /**
   * Test helper: behave as if the datastore became unreachable. Every call throws Unavailable and
   * every open watch ends with onError(Unavailable), as the etcd backend does when etcd goes away.
   */
  simulateOutage(message = `${this.description} is unavailable`): void {
    this.outage = new DatastoreError('Unavailable', message);
    for (const w of [...this.watchers]) this.fail(w, this.outage);
  }

  /**
   * Test helper: end every open watch with this error (e.g. 'Compacted', as when a slow watcher falls
   * behind etcd's compaction) while the store itself stays reachable.
   */
  dropWatches(code: 'Compacted' | 'Unavailable' = 'Compacted'): void {
    for (const w of [...this.watchers]) this.fail(w, new DatastoreError(code, `watch of ${w.prefix} dropped (${code})`));
  }

  /** Test helper: end a simulated outage; data and revisions are as they were. */
  endOutage(): void {
    this.outage = undefined;
  }

  /**
   * Test helper: write directly even during a simulated outage (another client reaching the store).
   * Returns the new revision.
   */
  forcePut(key: string, value: string): number {
    this.commit([{ type: 'put', key, value }]);
    return this.revision;
  }

  /** Test helper: delete directly even during a simulated outage. Returns the new revision. */
  forceDelete(key: string): number {
    this.commit([{ type: 'delete', key }]);
    return this.revision;
  }

  async close(): Promise<void> {
    this.closed = true;
    const ws = [...this.watchers];
    this.watchers.clear();
    for (const w of ws) w.closed = true;
    await Promise.all(ws.map((w) => w.pending));
  }

  private check(): void {
    if (this.closed) throw new DatastoreError('Unavailable', `${this.description} is closed`);
    if (this.outage) throw this.outage;
  }

  /** Applies ops at one new revision (none if nothing changed). Returns the resulting KVs of puts. */
  private commit(ops: WriteOp[]): KV[] {
    const rev = this.revision + 1;
    const events: WatchEvent[] = [];
    const puts: KV[] = [];
    for (const op of ops) {
      const prev = this.data.get(op.key);
      if (op.type === 'put') {
        const kv: KV = { key: op.key, value: op.value, modRevision: rev, createRevision: prev ? prev.createRevision : rev };
        this.data.set(op.key, kv);
        puts.push(kv);
        events.push(prev ? { type: 'put', kv: copy(kv), prev: copy(prev) } : { type: 'put', kv: copy(kv) });
      } else if (prev) {
        this.data.delete(op.key);
        events.push({ type: 'delete', key: op.key, revision: rev, prev: copy(prev) });
      }
    }
    if (events.length === 0) return puts;
    this.revision = rev;
    const entry: HistoryEntry = { revision: rev, events };
    this.history.push(entry);
    if (Number.isFinite(this.historyWindow)) {
      const floor = rev - this.historyWindow + 1;
      if (floor > this.compactRevision) this.compact(floor);
    }
    for (const w of this.watchers) this.deliver(w, entry);
    return puts;
  }

  private deliver(w: Watcher, entry: HistoryEntry): void {
    if (w.closed || entry.revision < w.nextRevision) return;
    const events = entry.events.filter((e) => (e.type === 'put' ? e.kv.key : e.key).startsWith(w.prefix)).map(copyEvent);
    w.nextRevision = entry.revision + 1;
    if (events.length === 0) return;
    w.pending = w.pending.then(() => {
      if (!w.closed) w.handlers.onEvents(events);
    });
  }

  private fail(w: Watcher, err: DatastoreError): void {
    this.watchers.delete(w);
    w.pending = w.pending.then(() => {
      if (w.closed) return;
      w.closed = true;
      w.handlers.onError(err);
    });
  }
}

function validKey(key: string): void {
  if (typeof key !== 'string' || key.length === 0) throw new DatastoreError('Invalid', 'key must be a non-empty string');
}

/** Byte-order comparison of UTF-8 strings, as etcd sorts keys. */
function cmpBytes(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8'));
}
