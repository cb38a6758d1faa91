// A local copy of one Kubernetes collection (Services, EndpointSlices), kept current as an
// informer does: list, then watch from the list's resourceVersion; a dropped watch resumes from
// the last resourceVersion seen (events and bookmarks); 410 Gone (the version was compacted)
// lists again. Thin I/O shell: consumers read list() and are told when it changed.
import { listAll } from '../../datastore/backends/kubernetes/collection.js';
import type { KubeApi, KubeObject } from '../../datastore/backends/kubernetes/driver.js';
import type { DatastoreError } from '../../datastore/errors.js';

/** What the cache needs of the API (KubeApi; tests pass a fake). */
export type KubeReader = Pick<KubeApi, 'call' | 'watch'>;

export interface KubeCacheOptions {
  api: KubeReader;
  /** Collection path, all namespaces: "/api/v1/services". */
  path: string;
  /** For messages: "services". */
  what: string;
  /** After every change of the copy (and after each complete listing). */
  onChange(): void;
  /** A failure the cache recovers from; `relist` says whether it lists again or resumes the watch. */
  onError?(err: DatastoreError, relist: boolean): void;
  /** First retry delay after a failure (doubles to 5 s, resets after a good watch event). Default 500 ms. */
  retryMs?: number;
}

const MAX_RETRY_MS = 5000;

export class KubeCache {
  private readonly objects = new Map<string, KubeObject>();
  private rv = '';
  private listed = false;
  private stopped = false;
  private watch?: { close(): void };
  private timer?: NodeJS.Timeout;
  private delay: number;

  constructor(private readonly o: KubeCacheOptions) {
    this.delay = o.retryMs ?? 500;
  }

  /** True once a complete listing has been taken (stays true across resumes and re-lists). */
  get synced(): boolean {
    return this.listed;
  }

  list(): KubeObject[] {
    return [...this.objects.values()];
  }

  start(): void {
    void this.relist();
  }

  stop(): void {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.watch?.close();
  }

  private retry(fn: () => void): void {
    if (this.stopped) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      fn();
    }, this.delay);
    this.delay = Math.min(this.delay * 2, MAX_RETRY_MS);
  }

  private async relist(): Promise<void> {
    if (this.stopped) return;
    let l;
    try {
      l = await listAll(this.o.api, this.o.path, this.o.what);
    } catch (e) {
      this.o.onError?.(e as DatastoreError, true);
      this.retry(() => void this.relist());
      return;
    }
    if (this.stopped) return;
    this.objects.clear();
    for (const obj of l.items) this.objects.set(id(obj), obj);
    this.rv = l.metadata.resourceVersion;
    this.listed = true;
    this.o.onChange();
    this.watchFrom();
  }

  private watchFrom(): void {
    if (this.stopped) return;
    this.watch = this.o.api.watch(this.o.path, this.rv, this.o.what, {
      onEvent: (ev) => {
        this.delay = this.o.retryMs ?? 500;
        const rv = ev.object.metadata.resourceVersion;
        if (rv) this.rv = rv;
        if (ev.type === 'BOOKMARK') return;
        if (ev.type === 'DELETED') this.objects.delete(id(ev.object));
        else this.objects.set(id(ev.object), ev.object);
        this.o.onChange();
      },
      onEnd: (err) => {
        if (this.stopped) return;
        const relist = err.code === 'Compacted';
        this.o.onError?.(err, relist);
        // Compacted: what happened since rv is gone; only a new listing tells the truth.
        if (relist) void this.relist();
        else this.retry(() => this.watchFrom());
      },
    });
  }
}

const id = (o: KubeObject): string => `${o.metadata.namespace ?? ''}/${o.metadata.name}`;
