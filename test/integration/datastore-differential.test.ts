// Differential test: random operation sequences run against the memory backend and a real etcd must
// give the same results, the same errors, the same revisions (relative to the start) and the same
// watch events. This is what lets other components trust the memory backend in their unit tests.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { startEtcd, type EtcdServer } from '../harness/etcd.js';
import { EtcdBackend } from '../../datastore/backends/etcd.js';
import { MemoryBackend } from '../../datastore/backends/memory.js';
import { WatchRecorder } from '../../datastore/backends/conformance.js';
import { DatastoreError, type Backend, type KV, type WatchEvent } from '../../datastore/backend.js';

type Rev = 'current' | 'stale' | 'zero';
type Op =
  | { op: 'create'; k: string; v: string }
  | { op: 'update'; k: string; v: string; rev: Rev }
  | { op: 'delete'; k: string; rev: Rev | 'none' }
  | { op: 'get'; k: string }
  | { op: 'list' }
  | { op: 'txn'; cmp: Array<{ k: string; rev: Rev }>; ops: Array<{ k: string; v: string | null }> };

const key = fc.constantFrom('a', 'b', 'c', 'd/e');
const val = fc.constantFrom('1', '2', '{"x":"ü"}');
const rev = fc.constantFrom<Rev>('current', 'current', 'stale', 'zero');
const opArb: fc.Arbitrary<Op> = fc.oneof(
  fc.record({ op: fc.constant('create' as const), k: key, v: val }),
  fc.record({ op: fc.constant('update' as const), k: key, v: val, rev }),
  fc.record({ op: fc.constant('delete' as const), k: key, rev: fc.constantFrom<Rev | 'none'>('current', 'stale', 'none') }),
  fc.record({ op: fc.constant('get' as const), k: key }),
  fc.record({ op: fc.constant('list' as const) }),
  fc.record({
    op: fc.constant('txn' as const),
    cmp: fc.array(fc.record({ k: key, rev }), { maxLength: 2 }),
    ops: fc.uniqueArray(fc.record({ k: key, v: fc.option(val, { nil: null }) }), { maxLength: 3, selector: (o) => o.k }),
  }),
);

/** One store under test: a backend, the key prefix of this run and its starting revision. */
interface Side {
  b: Backend;
  p: string;
  base: number;
}

const rel = (s: Side, kv: KV | undefined) =>
  kv && { key: kv.key.slice(s.p.length), value: kv.value, mod: kv.modRevision - s.base, create: kv.createRevision - s.base };

async function revFor(s: Side, k: string, r: Rev): Promise<number> {
  if (r === 'zero') return 0;
  if (r === 'stale') return s.base; // a revision before this run: never a key's current mod revision here
  return (await s.b.get(s.p + k))?.modRevision ?? 0;
}

async function apply(s: Side, o: Op): Promise<unknown> {
  try {
    switch (o.op) {
      case 'create':
        return rel(s, await s.b.create(s.p + o.k, o.v));
      case 'update':
        return rel(s, await s.b.update(s.p + o.k, o.v, await revFor(s, o.k, o.rev)));
      case 'delete':
        return rel(s, await s.b.delete(s.p + o.k, o.rev === 'none' ? undefined : await revFor(s, o.k, o.rev)));
      case 'get':
        return rel(s, await s.b.get(s.p + o.k)) ?? null;
      case 'list': {
        const l = await s.b.list(s.p);
        return { items: l.items.map((kv) => rel(s, kv)), revision: l.revision - s.base };
      }
      case 'txn': {
        const compares = [];
        for (const c of o.cmp) compares.push({ key: s.p + c.k, modRevision: await revFor(s, c.k, c.rev) });
        const r = await s.b.txn(
          compares,
          o.ops.map((x) => (x.v === null ? { type: 'delete' as const, key: s.p + x.k } : { type: 'put' as const, key: s.p + x.k, value: x.v })),
        );
        return { succeeded: r.succeeded, revision: r.revision - s.base };
      }
    }
  } catch (err) {
    if (err instanceof DatastoreError) return { error: err.code };
    throw err;
  }
}

const relEvent = (s: Side, e: WatchEvent) =>
  e.type === 'put'
    ? { type: 'put', kv: rel(s, e.kv), prev: rel(s, e.prev) }
    : { type: 'delete', key: e.key.slice(s.p.length), revision: e.revision - s.base, prev: rel(s, e.prev) };

describe('memory backend behaves like etcd (differential)', () => {
  let etcd: EtcdServer;
  let real: EtcdBackend;
  let run = 0;
  beforeAll(async () => {
    etcd = await startEtcd();
    real = new EtcdBackend({ endpoints: [etcd.endpoint] });
  });
  afterAll(async () => {
    await real?.close();
    await etcd?.stop();
  });

  it('same results, errors, revisions and watch events for random operation sequences', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(opArb, { minLength: 1, maxLength: 14 }), async (ops) => {
        const p = `/differential/${++run}/`;
        const mem = new MemoryBackend();
        const sides: Side[] = [
          { b: mem, p, base: (await mem.list(p)).revision },
          { b: real, p, base: (await real.list(p)).revision },
        ];
        const recs = sides.map(() => new WatchRecorder());
        const watches = sides.map((s, i) => s.b.watch(p, s.base + 1, (recs[i] as WatchRecorder).handlers));
        try {
          for (const o of ops) {
            const [m, e] = await Promise.all(sides.map((s) => apply(s, o)));
            expect(m, `op ${JSON.stringify(o)}`).toEqual(e);
          }
          const [mr, er] = recs as [WatchRecorder, WatchRecorder];
          // Memory delivers asynchronously too: wait until both have caught up with the same count.
          await new Promise((r) => setTimeout(r, 0));
          const want = mr.events.length;
          await er.until(() => er.events.length >= want, `etcd watch to deliver ${want} events`);
          expect(er.events.map((e) => relEvent(sides[1] as Side, e))).toEqual(mr.events.map((e) => relEvent(sides[0] as Side, e)));
          expect([mr.errors, er.errors]).toEqual([[], []]);
        } finally {
          await Promise.all(watches.map((w) => w.close()));
          await mem.close();
        }
      }),
      { numRuns: 60 },
    );
  });
});
