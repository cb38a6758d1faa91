// The Services / EndpointSlices copy kept as an informer keeps it: list then watch; a dropped
// watch resumes from the last resourceVersion seen (events and bookmarks); 410 lists again.
import { describe, expect, it } from 'vitest';
import type { KubeList, KubeObject, KubeWatchHandlers } from '../../datastore/backends/kubernetes/driver.js';
import { DatastoreError } from '../../datastore/errors.js';
import { KubeCache, type KubeReader } from './kube-cache.js';

const obj = (name: string, rv: string, namespace = 'default'): KubeObject => ({ metadata: { name, namespace, resourceVersion: rv } });

/** A fake API: list answers from `items`; each watch is recorded with the version it started from. */
function fakeApi(): { api: KubeReader; items: KubeObject[]; listRv: string; lists: number; failLists: number; watches: Array<{ rv: string; h: KubeWatchHandlers; closed: boolean }> } {
  const f = {
    items: [] as KubeObject[],
    listRv: '10',
    lists: 0,
    failLists: 0,
    watches: [] as Array<{ rv: string; h: KubeWatchHandlers; closed: boolean }>,
    api: undefined as unknown as KubeReader,
  };
  f.api = {
    call: (async () => {
      f.lists++;
      if (f.failLists > 0) {
        f.failLists--;
        throw new DatastoreError('Unavailable', 'apiserver down');
      }
      return { metadata: { resourceVersion: f.listRv }, items: [...f.items] } satisfies KubeList;
    }) as KubeReader['call'],
    watch: (_path, rv, _what, h) => {
      const w = { rv, h, closed: false };
      f.watches.push(w);
      return { close: () => (w.closed = true) };
    },
  };
  return f;
}

const tick = (ms = 0): Promise<void> => new Promise((r) => setTimeout(r, ms));
const names = (c: KubeCache): string[] => c.list().map((o) => o.metadata.name).sort();

describe('KubeCache', () => {
  it('lists, then watches from the list version; events change the copy and tell the consumer', async () => {
    const f = fakeApi();
    f.items = [obj('a', '5'), obj('b', '7')];
    let changes = 0;
    const c = new KubeCache({ api: f.api, path: '/api/v1/services', what: 'services', onChange: () => changes++ });
    expect(c.synced).toBe(false);
    c.start();
    await tick();
    expect(c.synced).toBe(true);
    expect(names(c)).toEqual(['a', 'b']);
    expect(f.watches.map((w) => w.rv)).toEqual(['10']);
    const w = f.watches[0];
    w?.h.onEvent({ type: 'ADDED', object: obj('c', '11') });
    w?.h.onEvent({ type: 'MODIFIED', object: { ...obj('a', '12'), spec: { x: 1 } } });
    w?.h.onEvent({ type: 'DELETED', object: obj('b', '13') });
    expect(names(c)).toEqual(['a', 'c']);
    expect(c.list().find((o) => o.metadata.name === 'a')?.spec).toEqual({ x: 1 });
    expect(changes).toBe(4);
    c.stop();
    expect(w?.closed).toBe(true);
  });

  it('a dropped watch resumes from the last version seen (a bookmark counts) without listing again', async () => {
    const f = fakeApi();
    const errors: Array<[string, boolean]> = [];
    const c = new KubeCache({ api: f.api, path: '/p', what: 'w', onChange: () => undefined, onError: (e, relist) => errors.push([e.code, relist]), retryMs: 1 });
    c.start();
    await tick();
    f.watches[0]?.h.onEvent({ type: 'ADDED', object: obj('a', '11') });
    f.watches[0]?.h.onEvent({ type: 'BOOKMARK', object: obj('', '15') });
    f.watches[0]?.h.onEnd(new DatastoreError('Unavailable', 'connection closed'));
    await tick(20);
    expect(f.watches.map((w) => w.rv)).toEqual(['10', '15']);
    expect(f.lists).toBe(1);
    expect(names(c)).toEqual(['a']);
    expect(errors).toEqual([['Unavailable', false]]);
    c.stop();
  });

  it('410 Gone lists again and replaces the copy: what was deleted meanwhile disappears', async () => {
    const f = fakeApi();
    f.items = [obj('a', '5'), obj('b', '6')];
    const c = new KubeCache({ api: f.api, path: '/p', what: 'w', onChange: () => undefined, retryMs: 1 });
    c.start();
    await tick();
    f.items = [obj('b', '6'), obj('d', '30')];
    f.listRv = '31';
    f.watches[0]?.h.onEnd(new DatastoreError('Compacted', 'too old'));
    await tick(5);
    expect(f.lists).toBe(2);
    expect(names(c)).toEqual(['b', 'd']);
    expect(f.watches.map((w) => w.rv)).toEqual(['10', '31']);
    c.stop();
  });

  it('a listing that fails is tried again; nothing is synced until one succeeds', async () => {
    const f = fakeApi();
    f.failLists = 2;
    f.items = [obj('a', '1')];
    const c = new KubeCache({ api: f.api, path: '/p', what: 'w', onChange: () => undefined, retryMs: 1 });
    c.start();
    await tick();
    expect(c.synced).toBe(false);
    await tick(30);
    expect(c.synced).toBe(true);
    expect(f.lists).toBe(3);
    expect(names(c)).toEqual(['a']);
    c.stop();
  });

  it('stop() ends retries: a watch that ends afterwards starts nothing', async () => {
    const f = fakeApi();
    const c = new KubeCache({ api: f.api, path: '/p', what: 'w', onChange: () => undefined, retryMs: 1 });
    c.start();
    await tick();
    c.stop();
    f.watches[0]?.h.onEnd(new DatastoreError('Compacted', 'too old'));
    await tick(10);
    expect(f.lists).toBe(1);
    expect(f.watches).toHaveLength(1);
  });
});
