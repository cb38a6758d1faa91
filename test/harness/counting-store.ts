// A Store wrapper that counts datastore calls by kind and operation, for the IPAM benches (the same
// count on etcd and on the Kubernetes API, so their round trips per allocation compare directly) and
// for the tests that assert how many writes an assignment costs.
import type { ObjectKey, ReadOptions, Store, StoredObject, StoredValue, StoreListResult, StoreWatch, StoreWatchHandlers } from '../../datastore/store.js';

export class CountingStore implements Store {
  calls = 0;
  readonly byOp = new Map<string, number>();
  /** Milliseconds spent waiting per "op kind" (calls overlap, so this is latency, not CPU). */
  readonly msByOp = new Map<string, number>();

  constructor(private readonly inner: Store) {}

  /** The writes only (create, update, delete), by "op kind". */
  writes(): Map<string, number> {
    return new Map([...this.byOp].filter(([k]) => /^(create|update|delete) /.test(k)));
  }

  /** Starts the counts over (after a test's warm-up, say). */
  reset(): void {
    this.calls = 0;
    this.byOp.clear();
    this.msByOp.clear();
  }

  private count<T>(op: string, kind: string, p: () => Promise<T>): Promise<T> {
    this.calls++;
    const k = `${op} ${kind}`;
    this.byOp.set(k, (this.byOp.get(k) ?? 0) + 1);
    const t0 = performance.now();
    const done = (): void => void this.msByOp.set(k, (this.msByOp.get(k) ?? 0) + performance.now() - t0);
    const r = p();
    r.then(done, done);
    return r;
  }

  get description(): string {
    return this.inner.description;
  }
  readOnly(key: ObjectKey): string | undefined {
    return this.inner.readOnly(key);
  }
  get(key: ObjectKey, opts?: ReadOptions): Promise<StoredObject | undefined> {
    return this.count('get', key.kind, () => this.inner.get(key, opts));
  }
  list(kind: string, namespace?: string, opts?: ReadOptions): Promise<StoreListResult> {
    return this.count('list', kind, () => this.inner.list(kind, namespace, opts));
  }
  create(value: StoredValue): Promise<StoredObject> {
    return this.count('create', value.kind, () => this.inner.create(value));
  }
  update(value: StoredValue, expectedRevision: string): Promise<StoredObject> {
    return this.count('update', value.kind, () => this.inner.update(value, expectedRevision));
  }
  delete(key: ObjectKey, expectedRevision?: string): Promise<StoredObject> {
    return this.count('delete', key.kind, () => this.inner.delete(key, expectedRevision));
  }
  watch(kind: string, fromRevision: string, handlers: StoreWatchHandlers, namespace?: string): StoreWatch {
    return this.inner.watch(kind, fromRevision, handlers, namespace);
  }
  close(): Promise<void> {
    return this.inner.close();
  }
}
