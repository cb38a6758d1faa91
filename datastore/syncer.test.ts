import { afterEach, describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { MemoryBackend } from './backends/memory.js';
import { EtcdStore } from './backends/etcd-store.js';
import { applyWatchEvents, diffListing, normaliseKinds, Syncer, type SyncEvent, type SyncStatus, type SyncerOptions } from './syncer.js';
import type { StoredObject } from './store.js';

// The syncer is driven through the etcd store over the memory KV, whose test hooks (outages,
// dropped watches, compaction, writes behind the syncer's back) work at Calico's etcd keys.
const P = '/calico/resources/v3/projectcalico.org/ippools/';
const N = '/calico/resources/v3/projectcalico.org/nodes/';
// A valid object of the key's kind (the syncer skips invalid ones), carrying `v` as a label.
const val = (v: string, key: string): string => JSON.stringify({ metadata: { labels: { v } }, spec: key.startsWith(P) ? { cidr: '10.0.0.0/16' } : {} });
const vOf = (o: StoredObject | undefined): string | undefined => o?.value.metadata.labels?.v;

type Seen = { type: 'update'; name: string; v?: string; prev?: string } | { type: 'delete'; name: string; prev?: string };
function seen(e: SyncEvent): Seen {
  if (e.type === 'delete') return { type: 'delete', name: e.key.name, prev: vOf(e.previous) };
  const v = vOf(e.object);
  return { type: 'update', name: e.object.key.name, ...(v !== undefined ? { v } : {}), ...(e.previous ? { prev: vOf(e.previous) } : {}) };
}

/** Records what a consumer sees and lets a test wait for it. */
class Consumer {
  readonly batches: SyncEvent[][] = [];
  readonly statuses: SyncStatus[] = [];
  get events(): SyncEvent[] {
    return this.batches.flat();
  }
  readonly opts = {
    onEvents: (events: SyncEvent[]) => void this.batches.push(events),
    onStatus: (s: SyncStatus) => void this.statuses.push(s),
  };
  async until(cond: () => boolean, what: string): Promise<void> {
    const deadline = Date.now() + 5000;
    while (!cond()) {
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}; statuses ${this.statuses.join(',')}; events ${JSON.stringify(this.events.map(seen))}`);
      await new Promise((r) => setTimeout(r, 5));
    }
  }
  /** Events since `from`, by name and value, for exact comparison. */
  since(from: number): Seen[] {
    return this.events.slice(from).map(seen);
  }
}

/** A gate the syncer waits at before re-listing; the test opens it when the store is ready. */
function gate(): { wait: () => Promise<void>; open: () => void; reached: () => boolean } {
  let release!: () => void;
  let hit = false;
  const p = new Promise<void>((r) => (release = r));
  return {
    wait: () => {
      hit = true;
      return p;
    },
    open: () => release(),
    reached: () => hit,
  };
}

const syncers: Syncer[] = [];
function startSyncer(b: MemoryBackend, opts: Omit<SyncerOptions, 'store'>): Syncer {
  const s = new Syncer({ store: new EtcdStore(b), ...opts });
  syncers.push(s);
  s.start();
  return s;
}
afterEach(async () => {
  await Promise.all(syncers.splice(0).map((s) => s.stop()));
});

const obj = (name: string, v: string, rev: number): StoredObject => ({
  key: { kind: 'IPPool', name },
  value: { apiVersion: 'projectcalico.org/v3', kind: 'IPPool', metadata: { name, labels: { v } }, spec: { cidr: '10.0.0.0/16' } },
  revision: String(rev),
});

describe('pure helpers', () => {
  it('normaliseKinds drops duplicates and namespaces of kinds followed whole', () => {
    expect(normaliseKinds(['IPPool', { kind: 'WorkloadEndpoint', namespace: 'a' }, 'IPPool', { kind: 'NetworkPolicy', namespace: 'a' }, 'NetworkPolicy', { kind: 'WorkloadEndpoint', namespace: 'a' }])).toEqual([
      { kind: 'IPPool' },
      { kind: 'WorkloadEndpoint', namespace: 'a' },
      { kind: 'NetworkPolicy' },
    ]);
  });

  it('diffListing: updates for new/changed, deletes for vanished, nothing for unchanged', () => {
    const cache = new Map([
      ['IPPool//a', obj('a', '1', 2)],
      ['IPPool//b', obj('b', '1', 3)],
      ['IPPool//c', obj('c', '1', 4)],
    ]);
    const { events, next } = diffListing(cache, { items: [obj('a', '1', 9), obj('b', '2', 10), obj('d', '1', 11)], revision: '12' });
    expect(events.map(seen)).toEqual([
      { type: 'update', name: 'b', v: '2', prev: '1' },
      { type: 'update', name: 'd', v: '1' },
      { type: 'delete', name: 'c', prev: '1' },
    ]);
    expect([...next.keys()]).toEqual(['IPPool//a', 'IPPool//b', 'IPPool//d']);
    expect(next.get('IPPool//a')?.revision).toBe('9'); // same value rewritten: no event, but the revision is current
  });

  it('diffListing property: applying the events to the old view gives the new view', () => {
    const view = fc.dictionary(fc.constantFrom('a', 'b', 'c', 'd', 'e'), fc.constantFrom('x', 'y', 'z'));
    fc.assert(
      fc.property(view, view, (before, after) => {
        const cache = new Map(Object.entries(before).map(([k, v]) => [`IPPool//${k}`, obj(k, v, 2)]));
        const { events } = diffListing(cache, { items: Object.entries(after).map(([k, v]) => obj(k, v, 3)), revision: '3' });
        const applied: Record<string, string> = { ...before };
        for (const e of events.map(seen)) {
          expect(e.prev).toBe(before[e.name]);
          if (e.type === 'update') {
            expect(before[e.name]).not.toBe(e.v);
            applied[e.name] = e.v ?? '';
          } else delete applied[e.name];
        }
        expect(applied).toEqual(after);
        // Exactly the differences: one event per changed object, none for the rest.
        const changed = new Set([...Object.keys(before), ...Object.keys(after)].filter((k) => before[k] !== after[k]));
        expect(events.map((e) => seen(e).name).sort()).toEqual([...changed].sort());
      }),
    );
  });

  it('applyWatchEvents: an object that stops passing the filter is delivered as a delete', () => {
    const cache = new Map([['IPPool//a', obj('a', 'keep', 2)]]);
    const out = applyWatchEvents(
      cache,
      [
        { type: 'modified', object: obj('a', 'drop', 5), previous: obj('a', 'keep', 2) },
        { type: 'added', object: obj('b', 'drop', 6) },
        { type: 'deleted', key: { kind: 'IPPool', name: 'zz' }, revision: '7' },
      ],
      (o) => vOf(o) !== 'drop',
    );
    expect(out.map(seen)).toEqual([{ type: 'delete', name: 'a', prev: 'keep' }]);
    expect(cache.size).toBe(0);
  });
});

describe('Syncer over the etcd store on the memory KV', () => {
  it('initial sync: status wait → resync → in-sync, a batch per kind with what the consumer asked for', async () => {
    const b = new MemoryBackend();
    await b.create(`${P}p1`, val('a', `${P}p1`));
    await b.create(`${P}p2`, JSON.stringify({ spec: { skip: true } }));
    await b.create(`${N}n1`, '{}');
    await b.create('/calico/ipam/v2/host/n1/ipv4/block/10.0.0.0-26', '{"state":"confirmed"}');
    const c = new Consumer();
    startSyncer(b, {
      kinds: ['IPPool', 'BlockAffinity'],
      filter: (o) => !JSON.stringify(o.value).includes('skip'),
      ...c.opts,
    });
    await c.until(() => c.statuses.at(-1) === 'in-sync', 'in-sync');
    expect(c.statuses).toEqual(['wait-for-datastore', 'resync', 'in-sync']);
    expect(c.since(0).sort((x, y) => x.name.localeCompare(y.name))).toEqual([
      { type: 'update', name: 'n1-10-0-0-0-26' },
      { type: 'update', name: 'p1', v: 'a' },
    ]);
    expect(c.batches.length).toBe(2);
  });

  it('follows live changes with previous values, in order', async () => {
    const b = new MemoryBackend();
    const a = await b.create(`${P}a`, val('1', `${P}a`));
    const c = new Consumer();
    const s = startSyncer(b, { kinds: ['IPPool'], ...c.opts });
    await c.until(() => c.statuses.at(-1) === 'in-sync', 'in-sync');
    const n = c.events.length;
    await b.update(`${P}a`, val('2', `${P}a`), a.modRevision);
    await b.create(`${P}b`, val('x', `${P}b`));
    await b.delete(`${P}a`);
    await b.create(`${N}outside`, val('x', `${N}outside`));
    await c.until(() => c.events.length >= n + 3, 'three live events');
    expect(c.since(n)).toEqual([
      { type: 'update', name: 'a', v: '2', prev: '1' },
      { type: 'update', name: 'b', v: 'x' },
      { type: 'delete', name: 'a', prev: '2' },
    ]);
    expect(vOf(s.get({ kind: 'IPPool', name: 'b' }))).toBe('x');
    expect(s.get({ kind: 'IPPool', name: 'a' })).toBeUndefined();
    expect([...s.entries()].map((o) => o.key.name)).toEqual(['b']);
  });

  it('after a compacted watch it re-lists and emits exactly the differences', async () => {
    const b = new MemoryBackend();
    await b.create(`${P}same`, val('s', `${P}same`));
    const ch = await b.create(`${P}changed`, val('old', `${P}changed`));
    await b.create(`${P}gone`, val('g', `${P}gone`));
    await b.create(`${P}rewritten`, val('r', `${P}rewritten`));
    const c = new Consumer();
    const g = gate();
    const errors: string[] = [];
    startSyncer(b, { kinds: ['IPPool'], beforeRelist: g.wait, onError: (e) => void errors.push(e.code), ...c.opts });
    await c.until(() => c.statuses.at(-1) === 'in-sync', 'in-sync');
    const n = c.events.length;
    b.dropWatches('Compacted');
    await c.until(() => g.reached(), 'syncer waiting to re-list');
    expect(c.statuses.at(-1)).toBe('resync');
    await b.update(`${P}changed`, val('new', `${P}changed`), ch.modRevision);
    await b.delete(`${P}gone`);
    await b.create(`${P}new`, val('n', `${P}new`));
    const r = await b.get(`${P}rewritten`);
    await b.update(`${P}rewritten`, val('r', `${P}rewritten`), r?.modRevision ?? 0); // same value: not a difference
    b.compact(b.currentRevision);
    g.open();
    await c.until(() => c.statuses.at(-1) === 'in-sync', 'in-sync again');
    expect(errors).toEqual(['Compacted']);
    expect(c.batches.slice(-1)[0]?.length).toBe(3); // the differences arrive as one batch
    expect(c.since(n)).toEqual([
      { type: 'update', name: 'changed', v: 'new', prev: 'old' },
      { type: 'update', name: 'new', v: 'n' },
      { type: 'delete', name: 'gone', prev: 'g' },
    ]);
    // And it watches again.
    await b.create(`${P}after`, val('a', `${P}after`));
    await c.until(() => c.events.length === n + 4, 'event after resync');
    expect(c.since(n + 3)).toEqual([{ type: 'update', name: 'after', v: 'a' }]);
  });

  it('a failed watch re-lists only its own kind; in-sync waits for every kind', async () => {
    const b = new MemoryBackend();
    await b.create(`${P}a`, val('1', `${P}a`));
    await b.create(`${N}n`, val('1', `${N}n`));
    const c = new Consumer();
    const relisted: string[] = [];
    startSyncer(b, { kinds: ['IPPool', 'Node'], beforeRelist: async (k) => void relisted.push(k), ...c.opts });
    await c.until(() => c.statuses.at(-1) === 'in-sync', 'in-sync');
    b.dropWatches('Compacted');
    await c.until(() => relisted.length === 2 && c.statuses.at(-1) === 'in-sync', 'both kinds re-listed');
    expect(relisted.sort()).toEqual(['IPPool', 'Node']);
    expect(c.events.length).toBe(2); // nothing changed: no events from the re-lists
  });

  it('follows one namespace of a namespaced kind', async () => {
    const W = '/calico/resources/v3/projectcalico.org/workloadendpoints/';
    const b = new MemoryBackend();
    await b.create(`${W}prod/n1-k8s-a-eth0`, val('1', `${W}prod/n1-k8s-a-eth0`));
    await b.create(`${W}dev/n1-k8s-b-eth0`, val('1', `${W}dev/n1-k8s-b-eth0`));
    const c = new Consumer();
    startSyncer(b, { kinds: [{ kind: 'WorkloadEndpoint', namespace: 'prod' }], ...c.opts });
    await c.until(() => c.statuses.at(-1) === 'in-sync', 'in-sync');
    await b.create(`${W}dev/n1-k8s-c-eth0`, val('1', `${W}dev/n1-k8s-c-eth0`));
    await b.create(`${W}prod/n1-k8s-d-eth0`, val('1', `${W}prod/n1-k8s-d-eth0`));
    await c.until(() => c.events.length >= 2, 'the prod endpoint created');
    expect(c.events.map((e) => (e.type === 'update' ? e.object.key : e.key))).toEqual([
      { kind: 'WorkloadEndpoint', namespace: 'prod', name: 'n1-k8s-a-eth0' },
      { kind: 'WorkloadEndpoint', namespace: 'prod', name: 'n1-k8s-d-eth0' },
    ]);
  });

  it('through an outage: wait-for-datastore with back-off, then exactly the differences', async () => {
    const b = new MemoryBackend();
    await b.create(`${P}a`, val('1', `${P}a`));
    await b.create(`${P}b`, val('1', `${P}b`));
    const c = new Consumer();
    const errors: string[] = [];
    startSyncer(b, { kinds: ['IPPool'], backoff: { initialMs: 5, maxMs: 20 }, onError: (e) => void errors.push(e.code), ...c.opts });
    await c.until(() => c.statuses.at(-1) === 'in-sync', 'in-sync');
    const n = c.events.length;
    b.simulateOutage();
    await c.until(() => c.statuses.at(-1) === 'wait-for-datastore', 'wait-for-datastore');
    await c.until(() => errors.length >= 3, 'a few failed re-list attempts');
    // Another client changes the store while this one cannot reach it.
    b.forcePut(`${P}a`, val('2', `${P}a`));
    b.forceDelete(`${P}b`);
    b.forcePut(`${P}c`, val('1', `${P}c`));
    b.endOutage();
    await c.until(() => c.statuses.at(-1) === 'in-sync', 'in-sync after outage');
    expect(c.statuses.slice(-4)).toEqual(['resync', 'wait-for-datastore', 'resync', 'in-sync']);
    expect(errors.every((e) => e === 'Unavailable')).toBe(true);
    expect(c.since(n)).toEqual([
      { type: 'update', name: 'a', v: '2', prev: '1' },
      { type: 'update', name: 'c', v: '1' },
      { type: 'delete', name: 'b', prev: '1' },
    ]);
  });

  it('waits for a datastore that is down at start', async () => {
    const b = new MemoryBackend();
    b.forcePut(`${P}a`, val('1', `${P}a`));
    b.simulateOutage();
    const c = new Consumer();
    startSyncer(b, { kinds: ['IPPool'], backoff: { initialMs: 5, maxMs: 10 }, ...c.opts });
    await new Promise((r) => setTimeout(r, 30));
    expect(c.statuses).toEqual(['wait-for-datastore']);
    expect(c.events).toEqual([]);
    b.endOutage();
    await c.until(() => c.statuses.at(-1) === 'in-sync', 'in-sync');
    expect(c.since(0)).toEqual([{ type: 'update', name: 'a', v: '1' }]);
  });

  it('stop() ends delivery', async () => {
    const b = new MemoryBackend();
    const c = new Consumer();
    const s = startSyncer(b, { kinds: ['IPPool'], ...c.opts });
    await c.until(() => c.statuses.at(-1) === 'in-sync', 'in-sync');
    await s.stop();
    await b.create(`${P}a`, val('1', `${P}a`));
    await new Promise((r) => setTimeout(r, 20));
    expect(c.events).toEqual([]);
  });

  it('refuses an empty kind list', () => {
    expect(() => new Syncer({ store: new EtcdStore(new MemoryBackend()), kinds: [], onEvents: () => {} })).toThrow(/at least one kind/);
  });
});

describe('Syncer robustness', () => {
  it('a consumer that throws is reported and the syncer keeps going', async () => {
    const b = new MemoryBackend();
    const names: string[] = [];
    const errors: string[] = [];
    startSyncer(b, {
      kinds: ['IPPool'],
      onEvents: (evs) => {
        names.push(...evs.map((e) => seen(e).name));
        if (names.includes('boom')) throw new Error('consumer bug');
      },
      onError: (e) => void errors.push(e.message),
    });
    await b.create(`${P}boom`, val('1', `${P}boom`));
    await b.create(`${P}after`, val('1', `${P}after`));
    const deadline = Date.now() + 5000;
    while (!names.includes('after') && Date.now() < deadline) await new Promise((r) => setTimeout(r, 5));
    expect(names).toContain('after');
    expect(errors.join()).toMatch(/consumer's onEvents threw: consumer bug/);
  });
});

describe('Syncer property: the consumer view always converges to the store', () => {
  type Step =
    | { t: 'put'; k: string; v: string }
    | { t: 'del'; k: string }
    | { t: 'drop' }
    | { t: 'outage'; changes: Array<{ k: string; v: string | null }> }
    | { t: 'compact' };
  const k = fc.constantFrom(`${P}a`, `${P}b`, `${P}c`, `${P}skip`, `${N}x`);
  const v = fc.constantFrom('1', '2', '3');
  const step: fc.Arbitrary<Step> = fc.oneof(
    { weight: 4, arbitrary: fc.record({ t: fc.constant('put' as const), k, v }) },
    { weight: 2, arbitrary: fc.record({ t: fc.constant('del' as const), k }) },
    { weight: 1, arbitrary: fc.record({ t: fc.constant('drop' as const) }) },
    { weight: 1, arbitrary: fc.record({ t: fc.constant('outage' as const), changes: fc.array(fc.record({ k, v: fc.option(v, { nil: null }) }), { maxLength: 4 }) }) },
    { weight: 1, arbitrary: fc.record({ t: fc.constant('compact' as const) }) },
  );

  it('after any mix of writes, dropped watches, outages and compactions, view == store (filtered)', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(step, { maxLength: 20 }), async (steps) => {
        const b = new MemoryBackend();
        const view = new Map<string, string | undefined>();
        const problems: string[] = [];
        const statuses: SyncStatus[] = [];
        const s = new Syncer({
          store: new EtcdStore(b),
          kinds: ['IPPool'],
          filter: (o) => o.key.name !== 'skip',
          backoff: { initialMs: 1, maxMs: 4 },
          onStatus: (st) => void statuses.push(st),
          onEvents: (evs) => {
            for (const e of evs.map(seen)) {
              const cur = view.get(e.name);
              if (e.type === 'update') {
                if (e.prev !== cur) problems.push(`update ${e.name}: previous ${e.prev} but view has ${cur}`);
                view.set(e.name, e.v);
              } else {
                if (!view.has(e.name)) problems.push(`delete of ${e.name} the view does not have`);
                else if (e.prev !== cur) problems.push(`delete ${e.name}: previous ${e.prev} but view has ${cur}`);
                view.delete(e.name);
              }
            }
          },
        });
        s.start();
        try {
          for (const st of steps) {
            if (st.t === 'put') b.forcePut(st.k, val(st.v, st.k));
            else if (st.t === 'del') b.forceDelete(st.k);
            else if (st.t === 'drop') b.dropWatches('Compacted');
            else if (st.t === 'compact') b.compact(b.currentRevision);
            else {
              b.simulateOutage();
              await new Promise((r) => setTimeout(r, 2));
              for (const c of st.changes) {
                if (c.v === null) b.forceDelete(c.k);
                else b.forcePut(c.k, val(c.v, c.k));
              }
              b.endOutage();
            }
            if (steps.indexOf(st) % 3 === 0) await new Promise((r) => setTimeout(r, 1));
          }
          // Quiesce: a sentinel written last is seen last.
          b.forcePut(`${P}zz-sentinel`, val('end', `${P}zz-sentinel`));
          const deadline = Date.now() + 5000;
          while (!(view.get('zz-sentinel') === 'end' && s.status === 'in-sync') && Date.now() < deadline) await new Promise((r) => setTimeout(r, 1));
          const store = new Map((await b.list(P)).items.filter((kv) => !kv.key.endsWith('skip')).map((kv) => [kv.key.slice(P.length), (JSON.parse(kv.value) as { metadata: { labels: { v: string } } }).metadata.labels.v]));
          expect(problems).toEqual([]);
          expect(Object.fromEntries(view)).toEqual(Object.fromEntries(store));
          expect(statuses[0]).toBe('wait-for-datastore');
          expect(statuses.at(-1)).toBe('in-sync');
        } finally {
          await s.stop();
          await b.close();
        }
      }),
      { numRuns: 80 },
    );
  });
});

describe('Syncer: invalid values in the store', () => {
  it('reports each once with its key and reason, treats it as absent (a delete when it replaced a valid one), and delivers everything else', async () => {
    const b = new MemoryBackend();
    const c = new Consumer();
    const bad: string[] = [];
    await b.create(`${P}good`, val('1', P));
    await b.create(`${P}garbage`, 'not json{');
    await b.create(`${P}shape`, JSON.stringify({ spec: { cidr: 12 } }));
    startSyncer(b, { kinds: ['IPPool', 'Node'], ...c.opts, onInvalid: (x) => void bad.push(`${x.where}: ${x.reason}`) });
    await c.until(() => c.statuses.includes('in-sync'), 'in-sync');
    expect(c.since(0)).toEqual([{ type: 'update', name: 'good', v: '1' }]);
    expect(bad).toEqual([`${P}garbage: not JSON: "not json{"`, `${P}shape: spec.cidr: expected string, got number`]);
    const n = c.events.length;
    await b.update(`${P}good`, JSON.stringify({ kind: 'Widget', metadata: {}, spec: {} }), (await b.get(`${P}good`))?.modRevision ?? 0);
    await b.create(`${N}n1`, val('2', N));
    await c.until(() => c.events.length >= n + 2, 'the delete and the node');
    expect(c.since(n)).toEqual([
      { type: 'delete', name: 'good', prev: '1' },
      { type: 'update', name: 'n1', v: '2' },
    ]);
    expect(bad[2]).toBe(`${P}good: holds kind "Widget", not IPPool`);
    expect(bad).toHaveLength(3);
  });
});
