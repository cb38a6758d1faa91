// Differential test at the Store level: random operation sequences run against the in-memory store
// (Calico's etcd layout over the memory KV) and the etcd store over a real etcd must give the same
// objects, the same errors, the same revision pattern and the same watch events. Revisions are opaque,
// so each side's are compared by their pattern: the n-th distinct revision a side hands out is "r<n>".
// This is what lets other components trust the in-memory store in their unit tests.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { startEtcd, type EtcdServer } from '../harness/etcd.js';
import { EtcdBackend } from '../../datastore/backends/etcd.js';
import { EtcdStore } from '../../datastore/backends/etcd-store.js';
import { MemoryBackend } from '../../datastore/backends/memory.js';
import { StoreWatchRecorder } from '../../datastore/store-conformance.js';
import { DatastoreError } from '../../datastore/store.js';
import type { ObjectKey, Store, StoreEvent, StoredObject, StoredValue } from '../../datastore/store.js';

type Rev = 'current' | 'stale';
type Obj = 'poolA' | 'poolB' | 'policy' | 'handle';
type Op =
  | { op: 'create'; o: Obj; v: number }
  | { op: 'update'; o: Obj; v: number; rev: Rev }
  | { op: 'delete'; o: Obj; rev: Rev | 'none' }
  | { op: 'get'; o: Obj }
  | { op: 'list'; o: Obj };

const objArb = fc.constantFrom<Obj>('poolA', 'poolB', 'policy', 'handle');
const opArb: fc.Arbitrary<Op> = fc.oneof(
  fc.record({ op: fc.constant('create' as const), o: objArb, v: fc.integer({ min: 1, max: 3 }) }),
  fc.record({ op: fc.constant('update' as const), o: objArb, v: fc.integer({ min: 1, max: 3 }), rev: fc.constantFrom<Rev>('current', 'current', 'stale') }),
  fc.record({ op: fc.constant('delete' as const), o: objArb, rev: fc.constantFrom<Rev | 'none'>('current', 'stale', 'none') }),
  fc.record({ op: fc.constant('get' as const), o: objArb }),
  fc.record({ op: fc.constant('list' as const), o: objArb }),
);

const API = 'projectcalico.org/v3';

function value(o: Obj, stem: string, v: number): StoredValue {
  switch (o) {
    case 'poolA':
    case 'poolB':
      return { apiVersion: API, kind: 'IPPool', metadata: { name: `${stem}-${o.toLowerCase()}`, labels: { v: String(v) } }, spec: { cidr: `10.${v}.0.0/16` } };
    case 'policy':
      return { apiVersion: API, kind: 'NetworkPolicy', metadata: { name: 'p', namespace: stem }, spec: { order: v, selector: 'all()' } };
    case 'handle':
      return { apiVersion: API, kind: 'IPAMHandle', metadata: { name: `${stem}-h` }, spec: { handleID: `${stem}-h`, block: { '10.0.0.0/26': v }, deleted: false } };
  }
}

const keyOf = (o: Obj, stem: string): ObjectKey => {
  const v = value(o, stem, 1);
  return { kind: v.kind, name: v.metadata.name, ...(v.metadata.namespace ? { namespace: v.metadata.namespace } : {}) };
};

/** One store under test, and the names it has given its revisions so far. */
class Side {
  private readonly names = new Map<string, string>();
  /** A revision this side handed out before the run: never an object's current one. */
  stale = '';
  constructor(
    readonly s: Store,
    readonly stem: string,
  ) {}

  rev(r: string): string {
    if (!this.names.has(r)) this.names.set(r, `r${this.names.size}`);
    return this.names.get(r) ?? '';
  }

  obj(o: StoredObject | undefined): unknown {
    return o && { key: o.key, value: o.value, rev: this.rev(o.revision) };
  }

  event(e: StoreEvent): unknown {
    if (e.type === 'deleted') return { type: e.type, key: e.key, previous: this.obj(e.previous) };
    return { type: e.type, object: this.obj(e.object), previous: this.obj(e.previous) };
  }

  async apply(o: Op): Promise<unknown> {
    const key = keyOf(o.o, this.stem);
    const revFor = async (r: Rev): Promise<string> => (r === 'stale' ? this.stale : ((await this.s.get(key))?.revision ?? this.stale));
    try {
      switch (o.op) {
        case 'create':
          return this.obj(await this.s.create(value(o.o, this.stem, o.v)));
        case 'update':
          return this.obj(await this.s.update(value(o.o, this.stem, o.v), await revFor(o.rev)));
        case 'delete':
          return this.obj(await this.s.delete(key, o.rev === 'none' ? undefined : await revFor(o.rev)));
        case 'get':
          return this.obj(await this.s.get(key)) ?? null;
        case 'list': {
          const l = await this.s.list(key.kind, key.namespace);
          return l.items.filter((x) => x.key.name.startsWith(this.stem) || x.key.namespace === this.stem).map((x) => this.obj(x));
        }
      }
    } catch (err) {
      if (err instanceof DatastoreError) return { error: err.code };
      throw err;
    }
  }
}

const KINDS: Array<[string, ((stem: string) => string | undefined) | undefined]> = [
  ['IPPool', undefined],
  ['NetworkPolicy', (stem) => stem],
  ['IPAMHandle', undefined],
];

describe('in-memory store behaves like the etcd store (differential, Store level)', () => {
  let etcd: EtcdServer;
  let real: EtcdStore;
  let run = 0;
  beforeAll(async () => {
    etcd = await startEtcd();
    real = new EtcdStore(new EtcdBackend({ endpoints: [etcd.endpoint] }));
  });
  afterAll(async () => {
    await real?.close();
    await etcd?.stop();
  });

  it('same objects, errors, revision patterns and watch events for random operation sequences', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(opArb, { minLength: 1, maxLength: 14 }), async (ops) => {
        const stem = `d${++run}`;
        const mem = new EtcdStore(new MemoryBackend());
        // Both stores start with one unrelated write, so a "stale" revision exists on each.
        const sides = [new Side(mem, stem), new Side(real, stem)];
        for (const side of sides) side.stale = (await side.s.create({ apiVersion: API, kind: 'GlobalNetworkPolicy', metadata: { name: `${stem}-seed` }, spec: {} })).revision;
        const recs: StoreWatchRecorder[][] = [];
        const watches = [];
        for (const side of sides) {
          const r: StoreWatchRecorder[] = [];
          for (const [kind, ns] of KINDS) {
            const rec = new StoreWatchRecorder();
            const l = await side.s.list(kind, ns?.(stem));
            watches.push(side.s.watch(kind, l.revision, rec.handlers, ns?.(stem)));
            r.push(rec);
          }
          recs.push(r);
        }
        try {
          for (const o of ops) {
            const [m, e] = await Promise.all(sides.map((s) => s.apply(o)));
            expect(m, `op ${JSON.stringify(o)}`).toEqual(e);
          }
          await new Promise((r) => setTimeout(r, 0));
          const mine = (e: StoreEvent): boolean => {
            const k = e.type === 'deleted' ? e.key : e.object.key;
            return k.name.startsWith(stem) || k.namespace === stem;
          };
          for (let k = 0; k < KINDS.length; k++) {
            const [mr, er] = [recs[0][k], recs[1][k]];
            const want = mr.events.filter(mine).length;
            await er.until(() => er.events.filter(mine).length >= want, `etcd watch of ${KINDS[k][0]} to deliver ${want} events`);
            expect(er.events.filter(mine).map((e) => sides[1].event(e))).toEqual(mr.events.filter(mine).map((e) => sides[0].event(e)));
            expect([mr.errors, er.errors]).toEqual([[], []]);
          }
        } finally {
          await Promise.all(watches.map((w) => w.close()));
          await mem.close();
        }
      }),
      { numRuns: 60 },
    );
  });
});
