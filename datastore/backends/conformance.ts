// The one conformance suite every Backend must pass (memory in the unit project, etcd against a real
// etcd in the integration project), so the memory backend can stand in for etcd in unit tests.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DatastoreError, type Backend, type KV, type WatchEvent } from './kv.js';

export interface BackendFixture {
  backend: Backend;
  /** A second, independent client of the same store (a different process's view). */
  second(): Promise<Backend>;
  /** Compact the store's history up to `revision`, as etcd's compaction does. */
  compact(revision: number): Promise<void>;
  cleanup(): Promise<void>;
}

/** Collects watch events and errors, and lets a test wait for a condition on them. */
export class WatchRecorder {
  readonly events: WatchEvent[] = [];
  readonly batches: WatchEvent[][] = [];
  readonly errors: DatastoreError[] = [];
  private waiters: Array<() => void> = [];

  readonly handlers = {
    onEvents: (events: WatchEvent[]): void => {
      this.batches.push(events);
      this.events.push(...events);
      this.wake();
    },
    onError: (err: DatastoreError): void => {
      this.errors.push(err);
      this.wake();
    },
  };

  /** Resolves once `cond` holds; rejects after `timeoutMs` with what was seen so far. */
  async until(cond: () => boolean, what: string, timeoutMs = 10_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!cond()) {
      const left = deadline - Date.now();
      if (left <= 0) {
        throw new Error(`timed out waiting for ${what}; events: ${JSON.stringify(this.events.map(evKey))}, errors: ${this.errors.map((e) => e.message).join('; ')}`);
      }
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, Math.min(left, 200));
        this.waiters.push(() => {
          clearTimeout(t);
          resolve();
        });
      });
    }
  }

  private wake(): void {
    const w = this.waiters;
    this.waiters = [];
    for (const f of w) f();
  }
}

export function evKey(e: WatchEvent): string {
  return e.type === 'put' ? `put ${e.kv.key}=${e.kv.value}` : `delete ${e.key}`;
}

export function evRevision(e: WatchEvent): number {
  return e.type === 'put' ? e.kv.modRevision : e.revision;
}

async function expectCode(p: Promise<unknown>, code: DatastoreError['code']): Promise<DatastoreError> {
  try {
    await p;
  } catch (err) {
    expect(err).toBeInstanceOf(DatastoreError);
    expect((err as DatastoreError).code).toBe(code);
    return err as DatastoreError;
  }
  throw new Error(`expected DatastoreError(${code}), but the call succeeded`);
}

let seq = 0;

export function describeBackendConformance(name: string, factory: () => Promise<BackendFixture>): void {
  describe(`Backend conformance: ${name}`, () => {
    let fx: BackendFixture;
    let b: Backend;
    // Each test works under its own prefix so tests never see each other's keys.
    const fresh = (): string => `/conformance/${process.pid}-${Date.now()}-${++seq}/`;

    beforeAll(async () => {
      fx = await factory();
      b = fx.backend;
    });
    afterAll(async () => {
      await fx?.cleanup();
    });

    it('create stores the value as-is, only if absent', async () => {
      const p = fresh();
      const value = '{"kind":"IPPool","spec":{"cidr":"10.0.0.0/16"},"note":"ünïcødé ✓"}';
      const kv = await b.create(`${p}a`, value);
      expect(kv).toMatchObject({ key: `${p}a`, value });
      expect(kv.modRevision).toBe(kv.createRevision);
      expect(await b.get(`${p}a`)).toEqual(kv);
      const err = await expectCode(b.create(`${p}a`, 'other'), 'AlreadyExists');
      expect(err.key).toBe(`${p}a`);
      expect((await b.get(`${p}a`))?.value).toBe(value);
      expect(await b.get(`${p}missing`)).toBeUndefined();
    });

    it('update compares the mod revision', async () => {
      const p = fresh();
      const v1 = await b.create(`${p}k`, '1');
      const v2 = await b.update(`${p}k`, '2', v1.modRevision);
      expect(v2.modRevision).toBeGreaterThan(v1.modRevision);
      expect(v2.createRevision).toBe(v1.createRevision);
      expect(v2.value).toBe('2');
      const err = await expectCode(b.update(`${p}k`, '3', v1.modRevision), 'Conflict');
      expect(err.key).toBe(`${p}k`);
      expect(await b.get(`${p}k`)).toEqual(v2);
      await expectCode(b.update(`${p}absent`, 'x', v1.modRevision), 'NotFound');
      await expectCode(b.update(`${p}absent`, 'x', 0), 'NotFound');
      expect(await b.get(`${p}absent`)).toBeUndefined();
    });

    it('delete returns the deleted value and compares the mod revision when given', async () => {
      const p = fresh();
      const a = await b.create(`${p}a`, 'A');
      const c = await b.create(`${p}c`, 'C');
      await expectCode(b.delete(`${p}a`, a.modRevision + 1000), 'Conflict');
      expect(await b.get(`${p}a`)).toEqual(a);
      expect(await b.delete(`${p}a`, a.modRevision)).toEqual(a);
      expect(await b.get(`${p}a`)).toBeUndefined();
      expect(await b.delete(`${p}c`)).toEqual(c);
      await expectCode(b.delete(`${p}c`), 'NotFound');
      await expectCode(b.delete(`${p}never`, 5), 'NotFound');
    });

    it('list returns exactly the prefix, in key order, with a consistent revision', async () => {
      const p = fresh();
      const keys = ['b', 'a', 'c/d', 'c', 'aa'];
      const made: KV[] = [];
      for (const k of keys) made.push(await b.create(`${p}${k}`, k));
      await b.create(`${p.slice(0, -1)}-sibling`, 'not under the prefix');
      const res = await b.list(p);
      expect(res.items.map((kv) => kv.key)).toEqual(['a', 'aa', 'b', 'c', 'c/d'].map((k) => `${p}${k}`));
      expect(res.revision).toBeGreaterThanOrEqual(Math.max(...made.map((kv) => kv.modRevision)));
      for (const kv of res.items) expect(kv).toEqual(made.find((m) => m.key === kv.key));
      const empty = await b.list(fresh());
      expect(empty.items).toEqual([]);
      expect(empty.revision).toBeGreaterThanOrEqual(res.revision);
    });

    it('revisions are store-wide and increase with every write', async () => {
      const p = fresh();
      const r0 = (await b.list(p)).revision;
      const a = await b.create(`${p}a`, '1');
      const c = await b.create(`${p}b`, '1');
      const a2 = await b.update(`${p}a`, '2', a.modRevision);
      expect(a.modRevision).toBeGreaterThan(r0);
      expect(c.modRevision).toBeGreaterThan(a.modRevision);
      expect(a2.modRevision).toBeGreaterThan(c.modRevision);
      expect((await b.list(p)).revision).toBeGreaterThanOrEqual(a2.modRevision);
    });

    it('concurrent writers through CAS retry lose no update', async () => {
      const p = fresh();
      const key = `${p}counter`;
      await b.create(key, '0');
      const other = await fx.second();
      const writers = 6;
      const each = 8;
      let conflicts = 0;
      const increment = async (client: Backend): Promise<void> => {
        for (let i = 0; i < each; i++) {
          while (true) {
            const cur = await client.get(key);
            if (!cur) throw new Error('counter vanished');
            try {
              await client.update(key, String(Number(cur.value) + 1), cur.modRevision);
              break;
            } catch (err) {
              if (err instanceof DatastoreError && err.code === 'Conflict') conflicts++;
              else throw err;
            }
          }
        }
      };
      try {
        await Promise.all(Array.from({ length: writers }, (_, i) => increment(i % 2 ? other : b)));
      } finally {
        if (other !== b) await other.close();
      }
      expect((await b.get(key))?.value).toBe(String(writers * each));
      // Six writers interleaving on one key must have collided at least once, or CAS was not exercised.
      expect(conflicts).toBeGreaterThan(0);
    });

    it('concurrent creators of one key: exactly one wins', async () => {
      const p = fresh();
      const results = await Promise.allSettled(Array.from({ length: 8 }, (_, i) => b.create(`${p}only`, `w${i}`)));
      const won = results.filter((r) => r.status === 'fulfilled');
      expect(won).toHaveLength(1);
      for (const r of results) {
        if (r.status === 'rejected') expect((r.reason as DatastoreError).code).toBe('AlreadyExists');
      }
      expect((await b.get(`${p}only`))?.value).toBe((won[0] as PromiseFulfilledResult<KV>).value.value);
    });

    it('watch delivers every change in revision order, with previous values', async () => {
      const p = fresh();
      const start = await b.list(p);
      const rec = new WatchRecorder();
      const w = b.watch(p, start.revision + 1, rec.handlers);
      try {
        const a1 = await b.create(`${p}a`, 'a1');
        const c1 = await b.create(`${p}c`, 'c1');
        const a2 = await b.update(`${p}a`, 'a2', a1.modRevision);
        await b.create(`${p.slice(0, -1)}x/outside`, 'not watched');
        await b.delete(`${p}c`);
        await b.create(`${p}t1`, '1');
        await b.create(`${p}t2`, '2');
        await rec.until(() => rec.events.length >= 6, '6 events');
        expect(rec.events.map(evKey)).toEqual([`put ${p}a=a1`, `put ${p}c=c1`, `put ${p}a=a2`, `delete ${p}c`, `put ${p}t1=1`, `put ${p}t2=2`]);
        const revs = rec.events.map(evRevision);
        for (let i = 1; i < revs.length; i++) expect(revs[i]).toBeGreaterThanOrEqual(revs[i - 1] as number);
        expect(revs[5]).toBeGreaterThan(revs[4] as number); // one write, one revision
        const [e0, , e2, e3] = rec.events;
        expect(e0).toEqual({ type: 'put', kv: a1 });
        expect(e2).toEqual({ type: 'put', kv: a2, prev: a1 });
        // A delete carries the value it removed.
        expect(e3).toMatchObject({ type: 'delete', key: `${p}c`, prev: c1 });
        expect(e3?.type === 'delete' && e3.revision).toBeGreaterThan(a2.modRevision);
        expect(rec.errors).toEqual([]);
      } finally {
        await w.close();
      }
    });

    it('watch from a past revision replays history; a second client sees the same', async () => {
      const p = fresh();
      const a = await b.create(`${p}a`, '1');
      await b.update(`${p}a`, '2', a.modRevision);
      await b.delete(`${p}a`);
      const other = await fx.second();
      const rec = new WatchRecorder();
      const w = other.watch(p, a.modRevision, rec.handlers);
      try {
        await rec.until(() => rec.events.length >= 3, 'replayed history');
        expect(rec.events.map(evKey)).toEqual([`put ${p}a=1`, `put ${p}a=2`, `delete ${p}a`]);
        await b.create(`${p}b`, 'live');
        await rec.until(() => rec.events.length >= 4, 'live event after replay');
        expect(evKey(rec.events[3] as WatchEvent)).toBe(`put ${p}b=live`);
      } finally {
        await w.close();
        if (other !== b) await other.close();
      }
    });

    it('a closed watch delivers nothing more', async () => {
      const p = fresh();
      const rec = new WatchRecorder();
      const w = b.watch(p, (await b.list(p)).revision + 1, rec.handlers);
      await b.create(`${p}a`, '1');
      await rec.until(() => rec.events.length === 1, 'first event');
      await w.close();
      await b.create(`${p}b`, '2');
      // Proof of absence: a fresh watch sees "b", the closed one never does.
      const rec2 = new WatchRecorder();
      const w2 = b.watch(p, (await b.list(p)).revision + 1, rec2.handlers);
      await b.create(`${p}c`, '3');
      await rec2.until(() => rec2.events.length >= 1, 'event on the new watch');
      await w2.close();
      expect(rec.events.map(evKey)).toEqual([`put ${p}a=1`]);
      expect(rec.errors).toEqual([]);
    });

    it('watching from a compacted revision fails with Compacted; re-list + watch resumes', async () => {
      const p = fresh();
      const a = await b.create(`${p}a`, '1');
      const a2 = await b.update(`${p}a`, '2', a.modRevision);
      const c = await b.create(`${p}c`, '1');
      await fx.compact(c.modRevision);
      const rec = new WatchRecorder();
      const w = b.watch(p, a.modRevision, rec.handlers);
      try {
        await rec.until(() => rec.errors.length === 1, 'Compacted error');
        expect(rec.errors[0]?.code).toBe('Compacted');
        expect(rec.events).toEqual([]);
      } finally {
        await w.close();
      }
      // The remedy: list (a consistent snapshot) and watch from its revision + 1.
      const snap = await b.list(p);
      expect(snap.items.map((kv) => [kv.key, kv.value])).toEqual([
        [`${p}a`, '2'],
        [`${p}c`, '1'],
      ]);
      expect(snap.items[0]).toEqual(a2);
      const rec2 = new WatchRecorder();
      const w2 = b.watch(p, snap.revision + 1, rec2.handlers);
      try {
        await b.delete(`${p}c`);
        await rec2.until(() => rec2.events.length === 1, 'event after resync');
        expect(rec2.events[0]).toMatchObject({ type: 'delete', key: `${p}c`, prev: c });
        expect(rec2.errors).toEqual([]);
      } finally {
        await w2.close();
      }
    });

    it('bad input is refused with Invalid, not a crash', async () => {
      await expectCode(b.create('', 'x'), 'Invalid');
    });
  });
}
