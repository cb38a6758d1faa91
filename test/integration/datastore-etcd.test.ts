// The backend conformance suite against a real etcd, plus what only a real etcd can show:
// an unreachable endpoint is reported quickly, and a watch ends when etcd dies.
import { createServer, type Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startEtcd, type EtcdServer } from '../harness/etcd.js';
import { freePort } from '../harness/ports.js';
import { EtcdBackend } from '../../datastore/backends/etcd.js';
import { describeBackendConformance, WatchRecorder } from '../../datastore/backends/conformance.js';
import { DatastoreError } from '../../datastore/store.js';

describeBackendConformance('etcd', async () => {
  const etcd = await startEtcd();
  const backend = new EtcdBackend({ endpoints: [etcd.endpoint] });
  const others: EtcdBackend[] = [];
  return {
    backend,
    second: async () => {
      const b = new EtcdBackend({ endpoints: [etcd.endpoint] });
      others.push(b);
      return b;
    },
    compact: (rev) => backend.compact(rev),
    cleanup: async () => {
      await Promise.all([backend, ...others].map((b) => b.close()));
      await etcd.stop();
    },
  };
});

describe('etcd backend against a live or dead etcd', () => {
  let etcd: EtcdServer;
  beforeAll(async () => {
    etcd = await startEtcd();
  });
  afterAll(async () => {
    await etcd?.stop();
  });

  it('an unreachable endpoint is Unavailable within 5 s, naming the endpoint and a hint', async () => {
    const port = await freePort();
    const endpoint = `http://127.0.0.1:${port}`;
    const b = new EtcdBackend({ endpoints: [endpoint] });
    try {
      const t0 = Date.now();
      const err = await b.list('/calico/').then(
        () => undefined,
        (e: unknown) => e,
      );
      const elapsed = Date.now() - t0;
      expect(err).toBeInstanceOf(DatastoreError);
      expect((err as DatastoreError).code).toBe('Unavailable');
      expect((err as DatastoreError).message).toContain(endpoint);
      expect((err as DatastoreError).message).toMatch(/ETCD_ENDPOINTS/);
      expect(elapsed).toBeLessThan(5000); // the promise made to users: never a hang
      await expect(b.create('/x', 'y')).rejects.toMatchObject({ code: 'Unavailable' });
    } finally {
      await b.close();
    }
  });

  it('an endpoint that accepts but never answers is Unavailable, not a hang', async () => {
    const sockets = new Set<Socket>();
    const silent = createServer((sock) => {
      sockets.add(sock);
      sock.on('error', () => {});
    });
    await new Promise<void>((r) => silent.listen(0, '127.0.0.1', r));
    const addr = silent.address();
    const endpoint = `http://127.0.0.1:${typeof addr === 'object' && addr ? addr.port : 0}`;
    const b = new EtcdBackend({ endpoints: [endpoint] });
    try {
      const err = await b.get('/calico/x').then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(err).toBeInstanceOf(DatastoreError);
      expect((err as DatastoreError).code).toBe('Unavailable');
      expect((err as DatastoreError).message).toMatch(new RegExp(`${endpoint}.*no answer within 4000 ms`));
    } finally {
      await b.close();
      for (const s of sockets) s.destroy();
      await new Promise((r) => silent.close(r));
    }
  });

  it('lists in pages at one revision: all keys, in order, a consistent snapshot', async () => {
    const b = new EtcdBackend({ endpoints: [etcd.endpoint], listPageSize: 2 });
    try {
      const keys = ['g', 'a', 'e', 'c', 'b', 'f', 'd'];
      for (const k of keys) await b.create(`/paged/${k}`, k);
      await b.create('/paged0', 'after the prefix');
      const res = await b.list('/paged/');
      expect(res.items.map((kv) => kv.value)).toEqual([...keys].sort());
      expect(res.revision).toBe(Math.max(...res.items.map((kv) => kv.modRevision)) + 1);
    } finally {
      await b.close();
    }
  });

  it('fails over to a live endpoint when another is dead', async () => {
    const dead = `http://127.0.0.1:${await freePort()}`;
    const b = new EtcdBackend({ endpoints: [dead, etcd.endpoint] });
    try {
      for (let i = 0; i < 5; i++) await b.create(`/failover/${i}`, 'v');
      expect((await b.list('/failover/')).items).toHaveLength(5);
    } finally {
      await b.close();
    }
  });

  it('a watch ends with Unavailable when etcd dies, and the store is back after a restart', async () => {
    const b = new EtcdBackend({ endpoints: [etcd.endpoint] });
    try {
      const kv = await b.create('/restart/a', '1');
      const rec = new WatchRecorder();
      b.watch('/restart/', kv.modRevision + 1, rec.handlers);
      await b.create('/restart/b', '2');
      await rec.until(() => rec.events.length === 1, 'event before the kill');
      await etcd.kill();
      await rec.until(() => rec.errors.length === 1, 'Unavailable after kill');
      expect(rec.errors[0]?.code).toBe('Unavailable');
      await etcd.start();
      // Give gRPC a moment to reconnect; the call budget covers it.
      let got;
      for (let i = 0; i < 20 && !got; i++) {
        got = await b.get('/restart/b').catch(() => undefined);
        if (!got) await new Promise((r) => setTimeout(r, 250));
      }
      expect(got?.value).toBe('2');
    } finally {
      await b.close();
    }
  });
});
