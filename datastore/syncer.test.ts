import { afterEach, describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { MemoryBackend } from './backends/memory.js';
import { applyWatchEvents, diffListing, normalisePrefixes, Syncer, type SyncEvent, type SyncStatus, type SyncerOptions } from './syncer.js';
import type { KV } from './backend.js';

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
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}; statuses ${this.statuses.join(',')}; events ${JSON.stringify(this.events)}`);
      await new Promise((r) => setTimeout(r, 5));
    }
  }
  /** Events since `from`, without revisions, for exact comparison. */
  since(from: number): Array<Omit<SyncEvent, 'revision'>> {
    return this.events.slice(from).map(({ revision: _r, ...rest }) => rest);
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
function startSyncer(opts: SyncerOptions): Syncer {
  const s = new Syncer(opts);
  syncers.push(s);
  s.start();
  return s;
}
afterEach(async () => {
  await Promise.all(syncers.splice(0).map((s) => s.stop()));
});

describe('pure helpers', () => {
  it('normalisePrefixes drops covered and duplicate prefixes', () => {
    expect(normalisePrefixes(['/a/b/', '/a/', '/c/', '/a/', '/cd'])).toEqual(['/a/', '/c/', '/cd']);
  });

  const kv = (key: string, value: string, rev: number): KV => ({ key, value, modRevision: rev, createRevision: rev });

  it('diffListing: updates for new/changed, deletes for vanished, nothing for unchanged', () => {
    const cache = new Map([
      ['/a', kv('/a', '1', 2)],
      ['/b', kv('/b', '1', 3)],
      ['/c', kv('/c', '1', 4)],
    ]);
    const { events, next } = diffListing(cache, { items: [kv('/a', '1', 9), kv('/b', '2', 10), kv('/d', '1', 11)], revision: 12 });
    expect(events).toEqual([
      { type: 'update', key: '/b', value: '2', prevValue: '1', revision: 10 },
      { type: 'update', key: '/d', value: '1', revision: 11 },
      { type: 'delete', key: '/c', prevValue: '1', revision: 12 },
    ]);
    expect([...next.keys()]).toEqual(['/a', '/b', '/d']);
    expect(next.get('/a')?.modRevision).toBe(9); // same value rewritten: no event, but the revision is current
  });

  it('diffListing property: applying the events to the old view gives the new view', () => {
    const view = fc.dictionary(fc.constantFrom('/a', '/b', '/c', '/d', '/e'), fc.constantFrom('x', 'y', 'z'));
    fc.assert(
      fc.property(view, view, (before, after) => {
        const cache = new Map(Object.entries(before).map(([k, v]) => [k, kv(k, v, 2)]));
        const { events } = diffListing(cache, { items: Object.entries(after).map(([k, v]) => kv(k, v, 3)), revision: 3 });
        const applied: Record<string, string> = { ...before };
        for (const e of events) {
          if (e.type === 'update') {
            expect(e.prevValue).toBe(before[e.key]);
            expect(before[e.key]).not.toBe(e.value);
            applied[e.key] = e.value;
          } else {
            expect(e.prevValue).toBe(before[e.key]);
            delete applied[e.key];
          }
        }
        expect(applied).toEqual(after);
        // Exactly the differences: one event per changed key, none for the rest.
        const changed = new Set([...Object.keys(before), ...Object.keys(after)].filter((k) => before[k] !== after[k]));
        expect(events.map((e) => e.key).sort()).toEqual([...changed].sort());
      }),
    );
  });

  it('applyWatchEvents: a key that stops passing the filter is delivered as a delete', () => {
    const cache = new Map([['/a', kv('/a', 'keep', 2)]]);
    const out = applyWatchEvents(
      cache,
      [
        { type: 'put', kv: kv('/a', 'drop', 5), prev: kv('/a', 'keep', 2) },
        { type: 'put', kv: kv('/b', 'drop', 6) },
        { type: 'delete', key: '/zz', revision: 7 },
      ],
      (_k, v) => v !== 'drop',
    );
    expect(out).toEqual([{ type: 'delete', key: '/a', prevValue: 'keep', revision: 5 }]);
    expect(cache.size).toBe(0);
  });
});

describe('Syncer over the memory backend', () => {
  it('initial sync: status wait → resync → in-sync, a batch per prefix with what the consumer asked for', async () => {
    const b = new MemoryBackend();
    await b.create('/calico/resources/v3/projectcalico.org/ippools/p1', '{"a":1}');
    await b.create('/calico/resources/v3/projectcalico.org/ippools/p2', '{"skip":true}');
    await b.create('/calico/resources/v3/projectcalico.org/nodes/n1', '{}');
    await b.create('/calico/ipam/v2/host/n1/ipv4/block/10.0.0.0-26', '{}');
    const c = new Consumer();
    startSyncer({
      backend: b,
      prefixes: ['/calico/resources/v3/projectcalico.org/ippools/', '/calico/ipam/v2/host/n1/'],
      filter: (_k, v) => !v.includes('skip'),
      ...c.opts,
    });
    await c.until(() => c.statuses.at(-1) === 'in-sync', 'in-sync');
    expect(c.statuses).toEqual(['wait-for-datastore', 'resync', 'in-sync']);
    expect(c.since(0)).toEqual([
      { type: 'update', key: '/calico/resources/v3/projectcalico.org/ippools/p1', value: '{"a":1}' },
      { type: 'update', key: '/calico/ipam/v2/host/n1/ipv4/block/10.0.0.0-26', value: '{}' },
    ]);
  });

  it('follows live changes with previous values, in order', async () => {
    const b = new MemoryBackend();
    const a = await b.create('/p/a', '1');
    const c = new Consumer();
    const s = startSyncer({ backend: b, prefixes: ['/p/'], ...c.opts });
    await c.until(() => c.statuses.at(-1) === 'in-sync', 'in-sync');
    const n = c.events.length;
    await b.update('/p/a', '2', a.modRevision);
    await b.create('/p/b', 'x');
    await b.delete('/p/a');
    await b.create('/q/outside', 'x');
    await c.until(() => c.events.length >= n + 3, 'three live events');
    expect(c.since(n)).toEqual([
      { type: 'update', key: '/p/a', value: '2', prevValue: '1' },
      { type: 'update', key: '/p/b', value: 'x' },
      { type: 'delete', key: '/p/a', prevValue: '2' },
    ]);
    expect(s.get('/p/b')?.value).toBe('x');
    expect(s.get('/p/a')).toBeUndefined();
    expect([...s.entries()].map((kv) => kv.key)).toEqual(['/p/b']);
  });

  it('after a compacted watch it re-lists and emits exactly the differences', async () => {
    const b = new MemoryBackend();
    await b.create('/p/same', 's');
    const ch = await b.create('/p/changed', 'old');
    await b.create('/p/gone', 'g');
    await b.create('/p/rewritten', 'r');
    const c = new Consumer();
    const g = gate();
    const errors: string[] = [];
    startSyncer({ backend: b, prefixes: ['/p/'], beforeRelist: g.wait, onError: (e) => void errors.push(e.code), ...c.opts });
    await c.until(() => c.statuses.at(-1) === 'in-sync', 'in-sync');
    const n = c.events.length;
    b.dropWatches('Compacted');
    await c.until(() => g.reached(), 'syncer waiting to re-list');
    expect(c.statuses.at(-1)).toBe('resync');
    await b.update('/p/changed', 'new', ch.modRevision);
    await b.delete('/p/gone');
    await b.create('/p/new', 'n');
    const r = await b.get('/p/rewritten');
    await b.update('/p/rewritten', 'r', r?.modRevision ?? 0); // same value: not a difference
    b.compact(b.currentRevision);
    g.open();
    await c.until(() => c.statuses.at(-1) === 'in-sync', 'in-sync again');
    expect(errors).toEqual(['Compacted']);
    expect(c.batches.slice(-1)[0]?.length).toBe(3); // the differences arrive as one batch
    expect(c.since(n)).toEqual([
      { type: 'update', key: '/p/changed', value: 'new', prevValue: 'old' },
      { type: 'update', key: '/p/new', value: 'n' },
      { type: 'delete', key: '/p/gone', prevValue: 'g' },
    ]);
    // And it watches again.
    await b.create('/p/after', 'a');
    await c.until(() => c.events.length === n + 4, 'event after resync');
    expect(c.since(n + 3)).toEqual([{ type: 'update', key: '/p/after', value: 'a' }]);
  });

  it('through an outage: wait-for-datastore with back-off, then exactly the differences', async () => {
    const b = new MemoryBackend();
    await b.create('/p/a', '1');
    await b.create('/p/b', '1');
    const c = new Consumer();
    const errors: string[] = [];
    startSyncer({ backend: b, prefixes: ['/p/'], backoff: { initialMs: 5, maxMs: 20 }, onError: (e) => void errors.push(e.code), ...c.opts });
    await c.until(() => c.statuses.at(-1) === 'in-sync', 'in-sync');
    const n = c.events.length;
    b.simulateOutage();
    await c.until(() => c.statuses.at(-1) === 'wait-for-datastore', 'wait-for-datastore');
    await c.until(() => errors.length >= 3, 'a few failed re-list attempts');
    // Another client changes the store while this one cannot reach it.
    b.forcePut('/p/a', '2');
    b.forceDelete('/p/b');
    b.forcePut('/p/c', '1');
    b.endOutage();
    await c.until(() => c.statuses.at(-1) === 'in-sync', 'in-sync after outage');
    expect(c.statuses.slice(-4)).toEqual(['resync', 'wait-for-datastore', 'resync', 'in-sync']);
    expect(errors.every((e) => e === 'Unavailable')).toBe(true);
    expect(c.since(n)).toEqual([
      { type: 'update', key: '/p/a', value: '2', prevValue: '1' },
      { type: 'update', key: '/p/c', value: '1' },
      { type: 'delete', key: '/p/b', prevValue: '1' },
    ]);
  });

  it('waits for a datastore that is down at start', async () => {
    const b = new MemoryBackend();
    b.forcePut('/p/a', '1');
    b.simulateOutage();
    const c = new Consumer();
    startSyncer({ backend: b, prefixes: ['/p/'], backoff: { initialMs: 5, maxMs: 10 }, ...c.opts });
    await new Promise((r) => setTimeout(r, 30));
    expect(c.statuses).toEqual(['wait-for-datastore']);
    expect(c.events).toEqual([]);
    b.endOutage();
    await c.until(() => c.statuses.at(-1) === 'in-sync', 'in-sync');
    expect(c.since(0)).toEqual([{ type: 'update', key: '/p/a', value: '1' }]);
  });

  it('stop() ends delivery', async () => {
    const b = new MemoryBackend();
    const c = new Consumer();
    const s = startSyncer({ backend: b, prefixes: ['/p/'], ...c.opts });
    await c.until(() => c.statuses.at(-1) === 'in-sync', 'in-sync');
    await s.stop();
    await b.create('/p/a', '1');
    await new Promise((r) => setTimeout(r, 20));
    expect(c.events).toEqual([]);
  });

  it('refuses an empty prefix list', () => {
    expect(() => new Syncer({ backend: new MemoryBackend(), prefixes: [], onEvents: () => {} })).toThrow(/at least one key prefix/);
  });
});

describe('Syncer robustness', () => {
  it('a consumer that throws is reported and the syncer keeps going', async () => {
    const b = new MemoryBackend();
    const seen: string[] = [];
    const errors: string[] = [];
    startSyncer({
      backend: b,
      prefixes: ['/p/'],
      onEvents: (evs) => {
        seen.push(...evs.map((e) => e.key));
        if (evs.some((e) => e.key === '/p/boom')) throw new Error('consumer bug');
      },
      onError: (e) => void errors.push(e.message),
    });
    await b.create('/p/boom', '1');
    await b.create('/p/after', '1');
    const deadline = Date.now() + 5000;
    while (!seen.includes('/p/after') && Date.now() < deadline) await new Promise((r) => setTimeout(r, 5));
    expect(seen).toContain('/p/after');
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
  const k = fc.constantFrom('/p/a', '/p/b', '/p/c', '/p/skip', '/q/x');
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
        const view = new Map<string, string>();
        const problems: string[] = [];
        const statuses: SyncStatus[] = [];
        const s = new Syncer({
          backend: b,
          prefixes: ['/p/'],
          filter: (key) => !key.endsWith('skip'),
          backoff: { initialMs: 1, maxMs: 4 },
          onStatus: (st) => void statuses.push(st),
          onEvents: (evs) => {
            for (const e of evs) {
              const cur = view.get(e.key);
              if (e.type === 'update') {
                if (e.prevValue !== cur) problems.push(`update ${e.key}: prevValue ${e.prevValue} but view has ${cur}`);
                view.set(e.key, e.value);
              } else {
                if (cur === undefined) problems.push(`delete of ${e.key} the view does not have`);
                else if (e.prevValue !== cur) problems.push(`delete ${e.key}: prevValue ${e.prevValue} but view has ${cur}`);
                view.delete(e.key);
              }
            }
          },
        });
        s.start();
        try {
          for (const st of steps) {
            if (st.t === 'put') b.forcePut(st.k, st.v);
            else if (st.t === 'del') b.forceDelete(st.k);
            else if (st.t === 'drop') b.dropWatches('Compacted');
            else if (st.t === 'compact') b.compact(b.currentRevision);
            else {
              b.simulateOutage();
              await new Promise((r) => setTimeout(r, 2));
              for (const c of st.changes) {
                if (c.v === null) b.forceDelete(c.k);
                else b.forcePut(c.k, c.v);
              }
              b.endOutage();
            }
            if (steps.indexOf(st) % 3 === 0) await new Promise((r) => setTimeout(r, 1));
          }
          // Quiesce: a sentinel written last is seen last.
          b.forcePut('/p/zz-sentinel', 'end');
          const deadline = Date.now() + 5000;
          while (!(view.get('/p/zz-sentinel') === 'end' && s.status === 'in-sync') && Date.now() < deadline) await new Promise((r) => setTimeout(r, 1));
          const store = new Map((await b.list('/p/')).items.filter((kv) => !kv.key.endsWith('skip')).map((kv) => [kv.key, kv.value]));
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
