// A Backend wrapper that counts datastore round trips (one per call), for the IPAM bench and tests.
import type { Backend, KV, ListResult, Watch, WatchHandlers } from '../datastore/backends/kv.js';

export class CountingBackend implements Backend {
  calls = 0;
  constructor(private readonly inner: Backend) {}
  get description(): string {
    return this.inner.description;
  }
  get(key: string): Promise<KV | undefined> {
    this.calls++;
    return this.inner.get(key);
  }
  list(prefix: string): Promise<ListResult> {
    this.calls++;
    return this.inner.list(prefix);
  }
  create(key: string, value: string): Promise<KV> {
    this.calls++;
    return this.inner.create(key, value);
  }
  update(key: string, value: string, rev: number): Promise<KV> {
    this.calls++;
    return this.inner.update(key, value, rev);
  }
  delete(key: string, rev?: number): Promise<KV> {
    this.calls++;
    return this.inner.delete(key, rev);
  }
  watch(prefix: string, from: number, h: WatchHandlers): Watch {
    return this.inner.watch(prefix, from, h);
  }
  close(): Promise<void> {
    return this.inner.close();
  }
}
