// The syncer against a real etcd that is killed and restarted mid-watch: after the restart, keys are
// changed from a second etcd client, and the syncer must emit exactly those differences.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startEtcd, type EtcdServer } from '../harness/etcd.js';
import { EtcdBackend } from '../../datastore/backends/etcd.js';
import { EtcdStore } from '../../datastore/backends/etcd-store.js';
import { Syncer, type SyncEvent, type SyncStatus } from '../../datastore/syncer.js';
import { DatastoreError, type StoredObject } from '../../datastore/store.js';
import { resourceKey } from '../../datastore/keys.js';

const pool = (name: string) => resourceKey('ippools', name);
const value = (cidr: string) => JSON.stringify({ kind: 'IPPool', apiVersion: 'projectcalico.org/v3', metadata: { name: cidr }, spec: { cidr } });

/** Retries a write while etcd is coming back (the second client's channel reconnects too). */
async function retrying<T>(fn: () => Promise<T>): Promise<T> {
  const deadline = Date.now() + 20_000;
  while (true) {
    try {
      return await fn();
    } catch (err) {
      if (!(err instanceof DatastoreError) || err.code !== 'Unavailable' || Date.now() > deadline) throw err;
      await new Promise((r) => setTimeout(r, 100));
    }
  }
}

/** What a consumer sees, by pool name and CIDR (revisions are opaque). */
type Seen = { type: 'update' | 'delete'; name: string; cidr?: string; prev?: string };
const cidrOf = (o: StoredObject | undefined): string | undefined => (o?.value.spec as { cidr?: string } | undefined)?.cidr;
const strip = (events: SyncEvent[]): Seen[] =>
  events.map((e) =>
    e.type === 'delete'
      ? { type: 'delete', name: e.key.name, prev: cidrOf(e.previous) }
      : { type: 'update', name: e.object.key.name, cidr: cidrOf(e.object), ...(e.previous ? { prev: cidrOf(e.previous) } : {}) },
  );
const byKey = (a: Seen, b: Seen) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0);

describe('syncer across an etcd restart', () => {
  let etcd: EtcdServer;
  let mine: EtcdStore;
  let other: EtcdBackend;
  let syncer: Syncer | undefined;
  const events: SyncEvent[] = [];
  const statuses: SyncStatus[] = [];
  const errors: string[] = [];
  let gateOpen: (() => void) | undefined;
  let gateReached = false;

  async function until(cond: () => boolean, what: string): Promise<void> {
    const deadline = Date.now() + 30_000;
    while (!cond()) {
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}; statuses ${statuses.join(',')}; errors ${errors.join(',')}; events ${JSON.stringify(strip(events))}`);
      await new Promise((r) => setTimeout(r, 20));
    }
  }

  beforeAll(async () => {
    etcd = await startEtcd();
    mine = new EtcdStore(new EtcdBackend({ endpoints: [etcd.endpoint] }));
    other = new EtcdBackend({ endpoints: [etcd.endpoint] });
  });
  afterAll(async () => {
    await syncer?.stop();
    await mine?.close();
    await other?.close();
    await etcd?.stop();
  });

  it('syncs, follows, and after a restart emits exactly the changes another client made', async () => {
    await other.create(pool('a'), value('10.0.0.0/24'));
    await other.create(pool('b'), value('10.0.1.0/24'));
    await other.create(pool('c'), value('10.0.2.0/24'));
    await other.create(pool('hidden'), '{"hidden":true}');
    await other.create(resourceKey('bgppeers', 'p1'), '{}');

    syncer = new Syncer({
      store: mine,
      kinds: ['IPPool'],
      filter: (o) => !JSON.stringify(o.value).includes('hidden'),
      backoff: { initialMs: 50, maxMs: 500 },
      onEvents: (batch) => void events.push(...batch),
      onStatus: (s) => void statuses.push(s),
      onError: (e) => void errors.push(e.code),
      // Held once, on the first re-list after the restart, so the changes happen before it for certain.
      beforeRelist: () => {
        if (gateOpen || gateReached) return Promise.resolve();
        gateReached = true;
        return new Promise<void>((r) => (gateOpen = r));
      },
    });
    syncer.start();
    await until(() => statuses.at(-1) === 'in-sync', 'in-sync');
    expect(statuses).toEqual(['wait-for-datastore', 'resync', 'in-sync']);
    expect(strip(events).sort(byKey)).toEqual([
      { type: 'update', name: 'a', cidr: '10.0.0.0/24' },
      { type: 'update', name: 'b', cidr: '10.0.1.0/24' },
      { type: 'update', name: 'c', cidr: '10.0.2.0/24' },
    ]);

    // Live: a change arrives through the watch.
    const b = await other.get(pool('b'));
    await other.update(pool('b'), value('10.0.11.0/24'), b?.modRevision ?? 0);
    await until(() => events.length === 4, 'live update');
    expect(strip(events.slice(3))).toEqual([{ type: 'update', name: 'b', cidr: '10.0.11.0/24', prev: '10.0.1.0/24' }]);

    // Kill etcd under the open watch.
    await etcd.kill();
    await until(() => gateReached, 'syncer noticed the outage and wants to re-list');
    expect(statuses.at(-1)).toBe('resync');
    expect(errors[0]).toBe('Unavailable');
    await etcd.start();

    // A second client changes keys once etcd is back.
    const n = events.length;
    const a = await retrying(() => other.get(pool('a')));
    await retrying(() => other.update(pool('a'), value('10.0.0.0/24'), a?.modRevision ?? 0)); // same value: no difference
    const c = await other.get(pool('c'));
    await other.update(pool('c'), value('10.0.22.0/24'), c?.modRevision ?? 0);
    await other.delete(pool('b'));
    await other.create(pool('d'), value('10.0.3.0/24'));
    await other.create(pool('hidden2'), '{"hidden":true}');
    await other.create(resourceKey('bgppeers', 'p2'), '{}');
    gateOpen?.();
    await until(() => statuses.at(-1) === 'in-sync', 'in-sync after the restart');
    expect(strip(events.slice(n)).sort(byKey)).toEqual([
      { type: 'delete', name: 'b', prev: '10.0.11.0/24' },
      { type: 'update', name: 'c', cidr: '10.0.22.0/24', prev: '10.0.2.0/24' },
      { type: 'update', name: 'd', cidr: '10.0.3.0/24' },
    ]);

    // Watching again: a second restart without holding the re-list; whatever path the syncer takes
    // (watch events or a re-list), it reports exactly the changes. A sentinel write marks the end.
    const m = events.length;
    await etcd.kill();
    await until(() => statuses.at(-1) !== 'in-sync', 'outage noticed');
    await etcd.start();
    const d = await retrying(() => other.get(pool('d')));
    await retrying(() => other.update(pool('d'), value('10.0.33.0/24'), d?.modRevision ?? 0));
    await other.delete(pool('c'));
    await other.create(pool('zz-sentinel'), value('10.9.9.0/24'));
    await until(() => events.some((e) => e.type === 'update' && e.object.key.name === 'zz-sentinel'), 'sentinel');
    await until(() => statuses.at(-1) === 'in-sync', 'in-sync after the second restart');
    expect(strip(events.slice(m)).sort(byKey)).toEqual([
      { type: 'delete', name: 'c', prev: '10.0.22.0/24' },
      { type: 'update', name: 'd', cidr: '10.0.33.0/24', prev: '10.0.3.0/24' },
      { type: 'update', name: 'zz-sentinel', cidr: '10.9.9.0/24' },
    ]);
    // The cache is the store's view, filtered.
    expect([...syncer.entries()].map((o) => o.key.name).sort()).toEqual(['a', 'd', 'zz-sentinel']);
  });
});
