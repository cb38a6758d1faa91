import { describe, expect, it } from 'vitest';
import { DatastoreError } from '../../errors.js';
import type { ObjectKey, ReadOptions, StoredObject, StoredValue, StoreListResult, StoreWatch, StoreWatchHandlers } from '../../store.js';
import type { KindMapping } from './collection.js';
import { WatchCachedMapping } from './watch-cache.js';

const pool = (name: string, revision: string): StoredObject => ({
  key: { kind: 'IPPool', name },
  value: { apiVersion: 'projectcalico.org/v3', kind: 'IPPool', metadata: { name }, spec: { cidr: '10.0.0.0/16' } },
  revision,
});

/** A kind's mapping that counts what reaches it and lets the test drive its watches. */
class FakeMapping implements KindMapping {
  objects = new Map<string, StoredObject>();
  revision = '1';
  lists: ReadOptions[] = [];
  gets = 0;
  watches: { from: string; handlers: StoreWatchHandlers; closed: boolean }[] = [];

  readOnly(): string | undefined {
    return undefined;
  }
  async get(key: ObjectKey): Promise<StoredObject | undefined> {
    this.gets++;
    return this.objects.get(key.name);
  }
  async list(_ns?: string, opts?: ReadOptions): Promise<StoreListResult> {
    this.lists.push(opts ?? {});
    return { items: [...this.objects.values()], revision: this.revision };
  }
  async create(value: StoredValue): Promise<StoredObject> {
    const o = pool(value.metadata.name, String(Number(this.revision) + 1));
    this.objects.set(o.key.name, o);
    return o;
  }
  async update(value: StoredValue): Promise<StoredObject> {
    return this.create(value);
  }
  async delete(key: ObjectKey): Promise<StoredObject> {
    const o = this.objects.get(key.name);
    if (!o) throw new DatastoreError('NotFound', key.name);
    this.objects.delete(key.name);
    return o;
  }
  watch(from: string, handlers: StoreWatchHandlers): StoreWatch {
    const w = { from, handlers, closed: false };
    this.watches.push(w);
    return { close: async () => void (w.closed = true) };
  }
  get live(): { handlers: StoreWatchHandlers } {
    const w = this.watches.filter((x) => !x.closed);
    expect(w).toHaveLength(1);
    return w[0];
  }
}

const cached = { cached: true };

describe('WatchCachedMapping (cached reads from a list-and-watch copy)', () => {
  it('lists once, then answers cached lists and gets from the copy the watch keeps current', async () => {
    const inner = new FakeMapping();
    inner.objects.set('a', pool('a', '1'));
    const m = new WatchCachedMapping(inner);
    expect((await m.list(undefined, cached)).items.map((o) => o.key.name)).toEqual(['a']);
    expect(inner.watches.map((w) => w.from)).toEqual(['1']);
    inner.live.handlers.onEvents([{ type: 'added', object: pool('b', '2') }]);
    inner.live.handlers.onEvents([{ type: 'deleted', key: { kind: 'IPPool', name: 'a' }, revision: '3', previous: pool('a', '1') }]);
    const l = await m.list(undefined, cached);
    expect([l.items.map((o) => o.key.name), l.revision]).toEqual([['b'], '3']);
    expect((await m.get({ kind: 'IPPool', name: 'b' }, cached))?.revision).toBe('2');
    expect(await m.get({ kind: 'IPPool', name: 'a' }, cached)).toBeUndefined();
    expect(inner.lists).toEqual([cached]);
    expect(inner.gets).toBe(0);
  });

  it('sends reads that must be current, and every write and watch, to the kind itself', async () => {
    const inner = new FakeMapping();
    const m = new WatchCachedMapping(inner);
    await m.create(pool('a', '0').value);
    expect((await m.list()).items).toHaveLength(1);
    expect(await m.get({ kind: 'IPPool', name: 'a' })).toBeDefined();
    expect([inner.lists, inner.gets, inner.watches.length]).toEqual([[{}], 1, 0]);
  });

  it('re-lists after its watch ends, and when the copy is older than maxAgeMs', async () => {
    let now = 0;
    const inner = new FakeMapping();
    const m = new WatchCachedMapping(inner, { now: () => now, maxAgeMs: 60_000 });
    await m.list(undefined, cached);
    inner.live.handlers.onError(new DatastoreError('Compacted', 'gone'));
    inner.objects.set('late', pool('late', '5'));
    inner.revision = '5';
    expect((await m.list(undefined, cached)).items.map((o) => o.key.name)).toEqual(['late']);
    expect(inner.watches.at(-1)?.from).toBe('5');
    now = 59_999;
    await m.list(undefined, cached);
    expect(inner.lists).toHaveLength(2);
    now = 60_000;
    await m.list(undefined, cached);
    expect(inner.lists).toHaveLength(3);
    expect(inner.watches.filter((w) => !w.closed)).toHaveLength(1);
  });

  it('a failed list is not kept: the next cached read lists again', async () => {
    const inner = new FakeMapping();
    let fail = true;
    const list = inner.list.bind(inner);
    inner.list = async (ns, opts) => {
      if (fail) throw new DatastoreError('Unavailable', 'no answer');
      return list(ns, opts);
    };
    const m = new WatchCachedMapping(inner);
    await expect(m.list(undefined, cached)).rejects.toThrow('no answer');
    fail = false;
    expect((await m.list(undefined, cached)).revision).toBe('1');
    expect(inner.watches).toHaveLength(1);
  });

  it('close() ends the watch, and later reads go to the kind itself', async () => {
    const inner = new FakeMapping();
    const m = new WatchCachedMapping(inner);
    await m.list(undefined, cached);
    await m.close();
    expect(inner.watches.every((w) => w.closed)).toBe(true);
    await m.list(undefined, cached);
    expect(inner.watches).toHaveLength(1);
    expect(inner.lists).toHaveLength(2);
  });
});
