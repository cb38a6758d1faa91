// The one conformance suite every Store passes (memory in the unit project; etcd and the Kubernetes
// API against real servers in test/integration). It speaks only the Store interface and uses ordinary
// CRD-backed kinds, so every store can run it; revisions are compared for equality only.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DatastoreError, type DatastoreErrorCode } from './errors.js';
import type { ObjectKey, Store, StoreEvent, StoredValue } from './store.js';

export interface StoreFixture {
  store: Store;
  /** A second, independent client of the same datastore (another process's view). */
  second(): Promise<Store>;
  /**
   * Makes every revision handed out so far too old to watch from (etcd: compact; Kubernetes: compact
   * the apiserver's etcd). Absent when the store cannot be made to; the Compacted test says so.
   */
  expireHistory?(): Promise<void>;
  cleanup(): Promise<void>;
}

/** Collects watch events and errors, and lets a test wait for a condition on them. */
export class StoreWatchRecorder {
  readonly events: StoreEvent[] = [];
  readonly errors: DatastoreError[] = [];

  readonly handlers = {
    onEvents: (events: StoreEvent[]): void => {
      this.events.push(...events);
    },
    onError: (err: DatastoreError): void => {
      this.errors.push(err);
    },
  };

  async until(cond: () => boolean, what: string, timeoutMs = 10_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!cond()) {
      if (Date.now() > deadline) {
        throw new Error(`timed out waiting for ${what}; events: ${JSON.stringify(this.events.map(storeEventText))}, errors: ${this.errors.map((e) => e.message).join('; ')}`);
      }
      await new Promise((r) => setTimeout(r, 20));
    }
  }
}

export function storeEventText(e: StoreEvent): string {
  if (e.type === 'deleted') return `deleted ${keyText(e.key)}`;
  return `${e.type} ${keyText(e.object.key)}`;
}

function keyText(k: ObjectKey): string {
  return `${k.kind}/${k.namespace ? `${k.namespace}/` : ''}${k.name}`;
}

async function expectCode(p: Promise<unknown>, code: DatastoreErrorCode): Promise<DatastoreError> {
  try {
    await p;
  } catch (err) {
    expect(err).toBeInstanceOf(DatastoreError);
    expect((err as DatastoreError).code).toBe(code);
    return err as DatastoreError;
  }
  throw new Error(`expected DatastoreError(${code}), but the call succeeded`);
}

const API = 'projectcalico.org/v3';
let seq = 0;

/** A name no other test (or earlier run against the same datastore) uses. */
function fresh(stem: string): string {
  return `${stem}-${process.pid}-${Date.now().toString(36)}-${++seq}`;
}

function pool(name: string, cidr: string, labels?: Record<string, string>): StoredValue {
  return { apiVersion: API, kind: 'IPPool', metadata: { name, ...(labels ? { labels } : {}) }, spec: { cidr, ipipMode: 'Never', vxlanMode: 'Never', natOutgoing: false, disabled: false, blockSize: 26, nodeSelector: 'all()' } };
}

function gnp(name: string, order: number): StoredValue {
  return { apiVersion: API, kind: 'GlobalNetworkPolicy', metadata: { name }, spec: { order, selector: 'all()', types: ['Ingress'], ingress: [{ action: 'Allow' }] } };
}

function np(namespace: string, name: string, order: number): StoredValue {
  return { apiVersion: API, kind: 'NetworkPolicy', metadata: { name, namespace }, spec: { order, selector: 'all()', types: ['Ingress'], ingress: [{ action: 'Allow' }] } };
}

function block(cidr: string, host: string): StoredValue {
  const name = cidr.replace(/[.:/]/g, '-');
  return {
    apiVersion: API,
    kind: 'IPAMBlock',
    metadata: { name },
    spec: { cidr, affinity: `host:${host}`, strictAffinity: false, allocations: [0, null, null, null], unallocated: [1, 2, 3], attributes: [{ handle_id: 'h', secondary: null }], deleted: false, sequenceNumber: 1, sequenceNumberForAllocation: { '0': 0 } },
  };
}

function affinity(host: string, cidr: string, state: 'pending' | 'confirmed' | 'pendingDeletion'): StoredValue {
  return { apiVersion: API, kind: 'BlockAffinity', metadata: { name: `${host}-${cidr.replace(/[.:/]/g, '-')}` }, spec: { state, node: host, cidr, type: 'host', deleted: 'false' } };
}

function handle(id: string, blocks: Record<string, number>): StoredValue {
  return { apiVersion: API, kind: 'IPAMHandle', metadata: { name: id }, spec: { handleID: id, block: blocks, deleted: false } };
}

/** A unique 10.x.y.0/30 per call, so IPAM objects of different tests and runs never share a name. */
let net = (process.pid * 7919 + Date.now()) % 60000;
function freshCidr(): string {
  net = (net + 1) % 65536;
  return `10.${net >> 8}.${net & 255}.0/30`;
}

export function describeStoreConformance(name: string, factory: () => Promise<StoreFixture>): void {
  describe(`Store conformance: ${name}`, () => {
    let fx: StoreFixture;
    let s: Store;

    beforeAll(async () => {
      fx = await factory();
      s = fx.store;
    });
    afterAll(async () => {
      await fx?.cleanup();
    });

    it('create stores the object, only if absent; get returns it with the same revision', async () => {
      const n = fresh('pool');
      const created = await s.create(pool(n, '10.99.0.0/16', { team: 'a' }));
      expect(created.key).toEqual({ kind: 'IPPool', name: n });
      expect(created.value).toMatchObject({ kind: 'IPPool', metadata: { name: n, labels: { team: 'a' } }, spec: { cidr: '10.99.0.0/16' } });
      expect(typeof created.revision).toBe('string');
      expect(created.revision).not.toBe('');
      const got = await s.get({ kind: 'IPPool', name: n });
      expect(got?.revision).toBe(created.revision);
      expect(got?.value.spec).toEqual(created.value.spec);
      await expectCode(s.create(pool(n, '10.98.0.0/16')), 'AlreadyExists');
      expect((await s.get({ kind: 'IPPool', name: n }))?.value.spec).toMatchObject({ cidr: '10.99.0.0/16' });
      expect(await s.get({ kind: 'IPPool', name: fresh('absent') })).toBeUndefined();
      await s.delete({ kind: 'IPPool', name: n });
    });

    it('update is compare-and-swap on the revision read: Conflict when it moved, NotFound when gone', async () => {
      const n = fresh('gnp');
      const v1 = await s.create(gnp(n, 1));
      const v2 = await s.update(gnp(n, 2), v1.revision);
      expect(v2.revision).not.toBe(v1.revision);
      expect(v2.value.spec).toMatchObject({ order: 2 });
      await expectCode(s.update(gnp(n, 3), v1.revision), 'Conflict');
      expect((await s.get({ kind: 'GlobalNetworkPolicy', name: n }))?.value.spec).toMatchObject({ order: 2 });
      const other = await fx.second();
      const v3 = await other.update(gnp(n, 4), v2.revision);
      await expectCode(s.update(gnp(n, 5), v2.revision), 'Conflict');
      await s.delete({ kind: 'GlobalNetworkPolicy', name: n }, v3.revision);
      await expectCode(s.update(gnp(n, 6), v3.revision), 'NotFound');
      expect(await s.get({ kind: 'GlobalNetworkPolicy', name: n })).toBeUndefined();
    });

    it('delete returns the deleted object and is compare-and-delete when a revision is given', async () => {
      const ns = fresh('ns');
      const a = await s.create(np(ns, 'a', 1));
      const b = await s.create(np(ns, 'b', 1));
      const a2 = await s.update(np(ns, 'a', 2), a.revision);
      await expectCode(s.delete({ kind: 'NetworkPolicy', namespace: ns, name: 'a' }, a.revision), 'Conflict');
      expect((await s.get({ kind: 'NetworkPolicy', namespace: ns, name: 'a' }))?.revision).toBe(a2.revision);
      const gone = await s.delete({ kind: 'NetworkPolicy', namespace: ns, name: 'a' }, a2.revision);
      expect(gone.key).toEqual({ kind: 'NetworkPolicy', namespace: ns, name: 'a' });
      expect(gone.value.spec).toMatchObject({ order: 2 });
      expect(await s.get({ kind: 'NetworkPolicy', namespace: ns, name: 'a' })).toBeUndefined();
      expect((await s.delete({ kind: 'NetworkPolicy', namespace: ns, name: 'b' })).value.metadata.name).toBe(b.value.metadata.name);
      await expectCode(s.delete({ kind: 'NetworkPolicy', namespace: ns, name: 'b' }), 'NotFound');
      await expectCode(s.delete({ kind: 'NetworkPolicy', namespace: ns, name: 'never' }, a2.revision), 'NotFound');
    });

    it('list returns one kind sorted by namespace then name, with a revision; a namespace narrows it', async () => {
      const ns1 = fresh('a-ns');
      const ns2 = fresh('b-ns');
      for (const [ns, n] of [
        [ns2, 'x'],
        [ns1, 'y'],
        [ns1, 'b'],
        [ns2, 'a'],
      ] as const)
        await s.create(np(ns, n, 1));
      const stem = fresh('gnp');
      await s.create(gnp(`${stem}-z`, 1));
      const all = await s.list('NetworkPolicy');
      const mine = all.items.filter((o) => o.key.namespace === ns1 || o.key.namespace === ns2).map((o) => `${o.key.namespace}/${o.key.name}`);
      expect(mine).toEqual([`${ns1}/b`, `${ns1}/y`, `${ns2}/a`, `${ns2}/x`]);
      expect(all.items.every((o) => o.key.kind === 'NetworkPolicy' && o.value.kind === 'NetworkPolicy')).toBe(true);
      const sorted = [...all.items].sort((p, q) => ((p.key.namespace ?? '') + '/' + p.key.name < (q.key.namespace ?? '') + '/' + q.key.name ? -1 : 1));
      expect(all.items.map((o) => o.key)).toEqual(sorted.map((o) => o.key));
      expect(typeof all.revision).toBe('string');
      const one = await s.list('NetworkPolicy', ns1);
      expect(one.items.map((o) => o.key.name)).toEqual(['b', 'y']);
      expect((await s.list('NetworkPolicy', fresh('empty-ns'))).items).toEqual([]);
      for (const o of mine) await s.delete({ kind: 'NetworkPolicy', namespace: o.split('/')[0], name: o.split('/')[1] });
      await s.delete({ kind: 'GlobalNetworkPolicy', name: `${stem}-z` });
    });

    it('a list item carries the same revision get gives; a listed revision can be updated against', async () => {
      const n = fresh('pool');
      await s.create(pool(n, '10.97.0.0/16'));
      const listed = (await s.list('IPPool')).items.find((o) => o.key.name === n);
      expect(listed).toBeDefined();
      expect((await s.get({ kind: 'IPPool', name: n }))?.revision).toBe(listed?.revision);
      const up = await s.update(pool(n, '10.97.0.0/16', { x: 'y' }), listed?.revision ?? '');
      expect(up.value.metadata.labels).toEqual({ x: 'y' });
      await s.delete({ kind: 'IPPool', name: n }, up.revision);
    });

    it('a cached read (ReadOptions.cached) may lag a moment, but catches up with every write: get and list', async () => {
      const n = fresh('pool');
      const created = await s.create(pool(n, '10.96.0.0/16'));
      const seen = async (): Promise<boolean> => {
        const got = await s.get({ kind: 'IPPool', name: n }, { cached: true });
        const listed = (await s.list('IPPool', undefined, { cached: true })).items.find((o) => o.key.name === n);
        return got?.revision === created.revision && listed?.revision === created.revision;
      };
      for (let i = 0; !(await seen()); i++) {
        expect(i, 'the cache never caught up with the create').toBeLessThan(100);
        await new Promise((r) => setTimeout(r, 50));
      }
      await s.delete({ kind: 'IPPool', name: n });
      for (let i = 0; await s.get({ kind: 'IPPool', name: n }, { cached: true }); i++) {
        expect(i, 'the cache never caught up with the delete').toBeLessThan(100);
        await new Promise((r) => setTimeout(r, 50));
      }
    });

    it('IPAM kinds keep their spec: IPAMBlock, BlockAffinity, IPAMHandle', async () => {
      const cidr = freshCidr();
      const host = fresh('host');
      const hid = fresh('k8s-pod-network.c');
      const b = await s.create(block(cidr, host));
      expect(b.value.spec).toMatchObject({ cidr, affinity: `host:${host}`, allocations: [0, null, null, null], unallocated: [1, 2, 3] });
      const a = await s.create(affinity(host, cidr, 'pending'));
      expect(a.value.spec).toMatchObject({ state: 'pending', node: host, cidr });
      const a2 = await s.update(affinity(host, cidr, 'confirmed'), a.revision);
      expect((await s.get(a.key))?.value.spec).toMatchObject({ state: 'confirmed', node: host, cidr });
      const h = await s.create(handle(hid, { [cidr]: 1 }));
      expect((await s.get(h.key))?.value.spec).toMatchObject({ handleID: hid, block: { [cidr]: 1 } });
      expect((await s.list('IPAMBlock')).items.some((o) => o.key.name === b.key.name)).toBe(true);
      expect((await s.list('BlockAffinity')).items.filter((o) => o.key.name === a.key.name).map((o) => o.revision)).toEqual([a2.revision]);
      await expectCode(s.create(block(cidr, 'someone-else')), 'AlreadyExists');
      await s.delete(h.key, h.revision);
      await s.delete(a.key, a2.revision);
      await expectCode(s.delete(b.key, a.revision === b.revision ? 'x' : a.revision), 'Conflict');
      await s.delete(b.key, b.revision);
      expect(await s.get(b.key)).toBeUndefined();
    });

    it('watch from a list revision delivers every later change of that kind once, nothing earlier, nothing else', async () => {
      const ns = fresh('w-ns');
      await s.create(np(ns, 'before', 1));
      const listing = await s.list('NetworkPolicy', ns);
      expect(listing.items.map((o) => o.key.name)).toEqual(['before']);
      // Written after the listing but before the watch starts: must still arrive.
      const a = await s.create(np(ns, 'a', 1));
      const rec = new StoreWatchRecorder();
      const w = s.watch('NetworkPolicy', listing.revision, rec.handlers, ns);
      try {
        const a2 = await s.update(np(ns, 'a', 2), a.revision);
        await s.create(gnp(fresh('other-kind'), 1));
        await s.delete({ kind: 'NetworkPolicy', namespace: ns, name: 'before' });
        await s.delete({ kind: 'NetworkPolicy', namespace: ns, name: 'a' }, a2.revision);
        await rec.until(() => rec.events.length >= 4, 'four events');
        await new Promise((r) => setTimeout(r, 300)); // nothing more may follow
        expect(rec.events.map(storeEventText)).toEqual([
          `added NetworkPolicy/${ns}/a`,
          `modified NetworkPolicy/${ns}/a`,
          `deleted NetworkPolicy/${ns}/before`,
          `deleted NetworkPolicy/${ns}/a`,
        ]);
        const [added, modified, del1, del2] = rec.events;
        expect(added.type === 'added' && added.object.revision).toBe(a.revision);
        expect(modified.type === 'modified' && modified.object.revision).toBe(a2.revision);
        expect(modified.type === 'modified' && modified.object.value.spec).toMatchObject({ order: 2 });
        expect(del1.type === 'deleted' && del1.key).toEqual({ kind: 'NetworkPolicy', namespace: ns, name: 'before' });
        expect(del2.type === 'deleted' && typeof del2.revision).toBe('string');
        expect(rec.errors).toEqual([]);
      } finally {
        await w.close();
      }
    });

    it('a watch of a cluster-scoped kind sees writes from another client, and each write once', async () => {
      const stem = fresh('wp');
      const listing = await s.list('IPPool');
      const rec = new StoreWatchRecorder();
      const w = s.watch('IPPool', listing.revision, rec.handlers);
      const other = await fx.second();
      try {
        const mine = (e: StoreEvent): boolean => (e.type === 'deleted' ? e.key.name : e.object.key.name).startsWith(stem);
        for (let i = 0; i < 5; i++) await other.create(pool(`${stem}-${i}`, `10.${100 + i}.0.0/16`));
        for (let i = 0; i < 5; i++) await other.delete({ kind: 'IPPool', name: `${stem}-${i}` });
        await rec.until(() => rec.events.filter(mine).length >= 10, 'ten events');
        await new Promise((r) => setTimeout(r, 300));
        const seen = rec.events.filter(mine).map(storeEventText);
        expect(seen).toEqual([...[0, 1, 2, 3, 4].map((i) => `added IPPool/${stem}-${i}`), ...[0, 1, 2, 3, 4].map((i) => `deleted IPPool/${stem}-${i}`)]);
      } finally {
        await w.close();
      }
    });

    it('watch from "" starts now: earlier writes are not replayed', async () => {
      const ns = fresh('now-ns');
      await s.create(np(ns, 'old', 1));
      const rec = new StoreWatchRecorder();
      const w = s.watch('NetworkPolicy', '', rec.handlers, ns);
      try {
        // A watch from now may take a moment to be in place; write until it reports.
        let i = 0;
        await rec.until(() => {
          void s.create(np(ns, `new-${i++}`, 1)).catch(() => undefined);
          return rec.events.length > 0;
        }, 'a new event');
        expect(rec.events.map(storeEventText)).not.toContain(`added NetworkPolicy/${ns}/old`);
      } finally {
        await w.close();
      }
    });

    it('watching from a revision whose history is gone ends the watch with Compacted', async (ctx) => {
      if (!fx.expireHistory) {
        ctx.skip();
        return;
      }
      const stem = fresh('cp');
      const listing = await s.list('GlobalNetworkPolicy');
      const made = await s.create(gnp(stem, 1));
      await s.update(gnp(stem, 2), made.revision);
      await fx.expireHistory();
      const rec = new StoreWatchRecorder();
      const w = s.watch('GlobalNetworkPolicy', listing.revision, rec.handlers);
      try {
        await rec.until(() => rec.errors.length > 0, 'Compacted');
        expect(rec.errors.map((e) => e.code)).toEqual(['Compacted']);
      } finally {
        await w.close();
        await s.delete({ kind: 'GlobalNetworkPolicy', name: stem });
      }
    });

    it('revisions are opaque strings: only equality means anything', async () => {
      const n = fresh('gnp');
      const v1 = await s.create(gnp(n, 1));
      const v2 = await s.update(gnp(n, 2), v1.revision);
      expect(v1.revision).not.toBe(v2.revision);
      // A made-up revision is never accepted as a match.
      const err = await s.update(gnp(n, 3), `${v2.revision}0`).then(() => undefined, (e: unknown) => e);
      expect(err).toBeInstanceOf(DatastoreError);
      expect(['Conflict', 'Invalid']).toContain((err as DatastoreError).code);
      await s.delete({ kind: 'GlobalNetworkPolicy', name: n }, v2.revision);
    });
  });
}
