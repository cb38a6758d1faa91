// The Kubernetes datastore against a real kube-apiserver (test/harness/kube.ts) with Calico's CRDs
// from manifests/crds/: CRD kinds with CAS and watches, the kinds derived from Nodes, Pods,
// Namespaces, ServiceAccounts and NetworkPolicies, the IPAM kinds' two-step delete, and the
// errors a user meets (410 Gone, an unreachable apiserver, a wrong kubeconfig).
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DatastoreError } from '../../datastore/store.js';
import { KubernetesStore } from '../../datastore/backends/kubernetes/store.js';
import type { StoredValue, StoreEvent } from '../../datastore/store.js';
import type { KubeApiserver } from '../harness/kube.js';
import { startKubeWithCalicoCrds } from '../harness/kube-store.js';
import { freePort } from '../harness/ports.js';
import { makeTestCerts } from '../harness/tls.js';

const v3 = (kind: string, name: string, spec: unknown, extra: Partial<StoredValue['metadata']> = {}): StoredValue => ({
  apiVersion: 'projectcalico.org/v3',
  kind,
  metadata: { name, ...extra },
  spec,
});

async function rejection(p: Promise<unknown>): Promise<DatastoreError> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(DatastoreError);
  return err as DatastoreError;
}

/** Collects a watch's events and its error; until() waits for a condition on them. */
class Recorder {
  events: StoreEvent[] = [];
  error: DatastoreError | undefined;
  handlers = { onEvents: (evs: StoreEvent[]) => this.events.push(...evs), onError: (e: DatastoreError) => (this.error = e) };
  async until(cond: () => boolean, what: string, ms = 15_000): Promise<void> {
    const deadline = Date.now() + ms;
    while (!cond()) {
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}; events: ${JSON.stringify(this.events.map(summary))}, error: ${this.error?.message}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }
}
const summary = (e: StoreEvent): string => `${e.type} ${e.type === 'deleted' ? e.key.name : e.object.key.name}`;

describe('Kubernetes datastore against a real kube-apiserver', () => {
  let kube: KubeApiserver;
  let store: KubernetesStore;
  const warnings: string[] = [];

  beforeAll(async () => {
    kube = await startKubeWithCalicoCrds();
    store = new KubernetesStore({ kubeconfig: kube.kubeconfig, onWarning: (m) => warnings.push(m) });
  });
  afterAll(async () => {
    await store?.close();
    await kube?.stop();
  });

  it('keeps a CRD kind as crd.projectcalico.org/v1 with Calico metadata in the annotation, CAS on resourceVersion', async () => {
    const created = await store.create(v3('IPPool', 'pool-a', { cidr: '10.10.0.0/16', blockSize: 26 }, { labels: { team: 'a' }, creationTimestamp: '2026-01-01T00:00:00Z' }));
    expect(created.key).toEqual({ kind: 'IPPool', name: 'pool-a' });
    expect(created.value.metadata.labels).toEqual({ team: 'a' });
    const raw = JSON.parse((await kube.kubectl(['get', 'ippools.crd.projectcalico.org', 'pool-a', '-o', 'json'])).stdout) as {
      apiVersion: string;
      metadata: { labels: Record<string, string>; annotations: Record<string, string> };
      spec: unknown;
    };
    expect(raw.apiVersion).toBe('crd.projectcalico.org/v1');
    expect(raw.spec).toEqual({ cidr: '10.10.0.0/16', blockSize: 26 });
    expect(raw.metadata.labels).toEqual({ team: 'a' });
    expect(JSON.parse(raw.metadata.annotations['projectcalico.org/metadata'])).toEqual({ creationTimestamp: '2026-01-01T00:00:00Z' });

    const got = await store.get({ kind: 'IPPool', name: 'pool-a' });
    expect(got?.value).toEqual(created.value);
    expect(got?.revision).toBe(created.revision);

    expect((await rejection(store.create(v3('IPPool', 'pool-a', { cidr: '10.11.0.0/16' })))).code).toBe('AlreadyExists');
    const updated = await store.update(v3('IPPool', 'pool-a', { cidr: '10.10.0.0/16', blockSize: 28 }), created.revision);
    expect(updated.revision).not.toBe(created.revision);
    expect((await rejection(store.update(v3('IPPool', 'pool-a', { cidr: '10.10.0.0/16' }), created.revision))).code).toBe('Conflict');
    expect((await rejection(store.delete({ kind: 'IPPool', name: 'pool-a' }, created.revision))).code).toBe('Conflict');
    const deleted = await store.delete({ kind: 'IPPool', name: 'pool-a' }, updated.revision);
    expect(deleted.value.spec).toEqual({ cidr: '10.10.0.0/16', blockSize: 28 });
    expect(await store.get({ kind: 'IPPool', name: 'pool-a' })).toBeUndefined();
    expect((await rejection(store.delete({ kind: 'IPPool', name: 'pool-a' }))).code).toBe('NotFound');
    expect((await rejection(store.update(v3('IPPool', 'pool-a', { cidr: '10.10.0.0/16' }), updated.revision))).code).toBe('NotFound');
  });

  it('an object the CRD schema rejects is Invalid, naming the field, and nothing is written', async () => {
    const err = await rejection(store.create(v3('IPPool', 'bad', { cidr: '10.0.0.0/8', blockSize: 'big' })));
    expect(err.code).toBe('Invalid');
    expect(err.message).toContain('spec.blockSize');
    expect(await store.get({ kind: 'IPPool', name: 'bad' })).toBeUndefined();
  });

  it('lists a kind sorted by namespace and name, per namespace when asked, and watches from the listing', async () => {
    for (const [ns, name] of [['b', 'p2'], ['a', 'p9'], ['b', 'p1']]) {
      await kube.kubectl(['create', 'namespace', ns]).catch(() => undefined);
      await store.create(v3('NetworkPolicy', name, { selector: 'all()' }, { namespace: ns }));
    }
    const all = await store.list('NetworkPolicy');
    expect(all.items.map((o) => `${o.key.namespace}/${o.key.name}`)).toEqual(['a/p9', 'b/p1', 'b/p2']);
    expect(all.revision).toMatch(/^\d+\/\d+$/);
    expect((await store.list('NetworkPolicy', 'b')).items.map((o) => o.key.name)).toEqual(['p1', 'p2']);

    const rec = new Recorder();
    const w = store.watch('NetworkPolicy', all.revision, rec.handlers);
    try {
      const p1 = all.items.find((o) => o.key.name === 'p1');
      await store.update(v3('NetworkPolicy', 'p1', { selector: "app == 'x'" }, { namespace: 'b' }), p1?.revision ?? '');
      await store.delete({ kind: 'NetworkPolicy', name: 'p9', namespace: 'a' });
      await rec.until(() => rec.events.length >= 2, 'modified + deleted');
      expect(rec.events.map(summary)).toEqual(['modified p1', 'deleted p9']);
      const del = rec.events[1];
      expect(del.type === 'deleted' && del.previous?.value.spec).toEqual({ selector: 'all()' });
    } finally {
      await w.close();
    }
  });

  it("watching from now ('') reports what happens next and nothing before", async () => {
    await store.create(v3('BGPPeer', 'before', { peerIP: '192.0.2.1', asNumber: 64512 }));
    const rec = new Recorder();
    const w = store.watch('BGPPeer', '', rec.handlers);
    try {
      await new Promise((r) => setTimeout(r, 500));
      await store.create(v3('BGPPeer', 'after', { peerIP: '192.0.2.2', asNumber: 64512 }));
      await rec.until(() => rec.events.length >= 1, 'added after');
      expect(rec.events.map(summary)).toEqual(['added after']);
    } finally {
      await w.close();
    }
  });

  it('a watch from a revision the apiserver no longer has ends with Compacted (410 Gone)', async () => {
    const rec = new Recorder();
    const w = store.watch('IPPool', '1', rec.handlers);
    try {
      await rec.until(() => rec.error !== undefined, 'the watch to end');
      expect(rec.error?.code).toBe('Compacted');
    } finally {
      await w.close();
    }
  });

  it('IPAM kinds: a delete marks `deleted` by CAS, then deletes with preconditions; a stale delete is a Conflict', async () => {
    const spec = { cidr: '10.20.0.0/26', affinity: 'host:n1', allocations: Array(64).fill(null), unallocated: [...Array(64).keys()], attributes: [], deleted: false };
    const block = await store.create(v3('IPAMBlock', '10-20-0-0-26', spec));
    const claimed = await store.update(v3('IPAMBlock', '10-20-0-0-26', { ...spec, allocations: [0, ...Array(63).fill(null)], unallocated: spec.unallocated.slice(1), attributes: [{ handle_id: 'h1' }] }), block.revision);
    // A deleter holding the revision from before the claim must not lose the claim.
    expect((await rejection(store.delete({ kind: 'IPAMBlock', name: '10-20-0-0-26' }, block.revision))).code).toBe('Conflict');
    expect((await store.get({ kind: 'IPAMBlock', name: '10-20-0-0-26' }))?.revision).toBe(claimed.revision);

    const rec = new Recorder();
    const w = store.watch('IPAMBlock', claimed.revision, rec.handlers);
    try {
      const gone = await store.delete({ kind: 'IPAMBlock', name: '10-20-0-0-26' }, claimed.revision);
      expect(gone.revision).toBe(claimed.revision);
      await rec.until(() => rec.events.length >= 1, 'the delete');
      await new Promise((r) => setTimeout(r, 300));
      // The mark and the real DELETE are one deletion to a watcher.
      expect(rec.events.map(summary)).toEqual(['deleted 10-20-0-0-26']);
    } finally {
      await w.close();
    }
    const left = await kube.kubectl(['get', 'ipamblocks.crd.projectcalico.org', '-o', 'name']);
    expect(left.stdout).not.toContain('10-20-0-0-26');
  });

  it("IPAM kinds' updates leave the apiserver no field ownership to track; other kinds keep theirs", async () => {
    const managed = async (resource: string, name: string): Promise<unknown> =>
      (JSON.parse((await kube.kubectl(['get', resource, name, '-o', 'json', '--show-managed-fields'])).stdout) as { metadata: { managedFields?: unknown } }).metadata.managedFields;
    const spec = { cidr: '10.21.0.0/26', affinity: 'host:n1', allocations: Array(64).fill(null), unallocated: [...Array(64).keys()], attributes: [], deleted: false };
    const block = await store.create(v3('IPAMBlock', '10-21-0-0-26', spec));
    let rev = (await store.update(v3('IPAMBlock', '10-21-0-0-26', { ...spec, allocations: [0, ...Array(63).fill(null)], unallocated: spec.unallocated.slice(1), attributes: [{ handle_id: 'h1' }] }), block.revision)).revision;
    rev = (await store.update(v3('IPAMBlock', '10-21-0-0-26', spec), rev)).revision;
    expect(await managed('ipamblocks.crd.projectcalico.org', '10-21-0-0-26')).toBeUndefined();
    expect((await store.get({ kind: 'IPAMBlock', name: '10-21-0-0-26' }))?.value.spec).toEqual(spec);
    await store.delete({ kind: 'IPAMBlock', name: '10-21-0-0-26' }, rev);

    const pool = await store.create(v3('IPPool', 'pool-tracked', { cidr: '10.12.0.0/16' }));
    await store.update(v3('IPPool', 'pool-tracked', { cidr: '10.12.0.0/16', blockSize: 28 }), pool.revision);
    expect(await managed('ippools.crd.projectcalico.org', 'pool-tracked')).toEqual(expect.arrayContaining([expect.objectContaining({ operation: 'Update' })]));
    await store.delete({ kind: 'IPPool', name: 'pool-tracked' });
  });

  it('of ten writers racing with the same revision exactly one wins; the others get Conflict', async () => {
    const h = await store.create(v3('IPAMHandle', 'race', { handleID: 'race', block: {}, deleted: false }));
    const results = await Promise.allSettled(
      Array.from({ length: 10 }, (_, i) => store.update(v3('IPAMHandle', 'race', { handleID: 'race', block: { [`10.50.${i}.0/26`]: 1 }, deleted: false }), h.revision)),
    );
    expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
    expect(results.flatMap((r) => (r.status === 'rejected' ? [(r.reason as DatastoreError).code] : []))).toEqual(Array(9).fill('Conflict'));
    await store.delete(h.key);
  });

  it('a reader that meets a block marked deleted finishes the delete and reports it absent; the name can be claimed again', async () => {
    const spec = { cidr: '10.30.0.0/26', allocations: [], unallocated: [], attributes: [], deleted: true };
    // Someone marked it and died before the DELETE.
    await kube.kubectl(['create', '-f', '-'], {
      input: JSON.stringify({ apiVersion: 'crd.projectcalico.org/v1', kind: 'IPAMBlock', metadata: { name: '10-30-0-0-26' }, spec }),
    });
    expect((await store.list('IPAMBlock')).items.map((o) => o.key.name)).not.toContain('10-30-0-0-26');
    expect(await store.get({ kind: 'IPAMBlock', name: '10-30-0-0-26' })).toBeUndefined();
    expect((await kube.kubectl(['get', 'ipamblocks.crd.projectcalico.org', '-o', 'name'])).stdout).not.toContain('10-30-0-0-26');
    const again = await store.create(v3('IPAMBlock', '10-30-0-0-26', { ...spec, deleted: false }));
    expect(again.value.spec).toMatchObject({ deleted: false });
  });

  it('BlockAffinity keeps `deleted` as a string and IPAMHandle names are lower-cased on Kubernetes, the handle ID kept', async () => {
    const aff = await store.create(v3('BlockAffinity', 'n1-10-40-0-0-26', { state: 'confirmed', node: 'n1', cidr: '10.40.0.0/26', type: 'host', deleted: 'false' }));
    await store.delete(aff.key, aff.revision);
    expect(await store.get(aff.key)).toBeUndefined();
    const h = await store.create(v3('IPAMHandle', 'k8s-pod-network.ABC123', { handleID: 'k8s-pod-network.ABC123', block: { '10.40.0.0/26': 1 }, deleted: false }));
    expect(h.key.name).toBe('k8s-pod-network.ABC123');
    expect((await kube.kubectl(['get', 'ipamhandles.crd.projectcalico.org', '-o', 'name'])).stdout).toContain('k8s-pod-network.abc123');
    expect((await store.get({ kind: 'IPAMHandle', name: 'k8s-pod-network.ABC123' }))?.value.spec).toMatchObject({ block: { '10.40.0.0/26': 1 } });
    expect((await store.list('IPAMHandle')).items.map((o) => o.key.name)).toEqual(['k8s-pod-network.ABC123']);
  });

  it("watchCache: a long-running client's cached reads of a kind come from its own list and watch; others' writes and deletes reach it, and a restarted apiserver means a fresh list", async () => {
    const agent = new KubernetesStore({ kubeconfig: kube.kubeconfig, watchCache: ['IPReservation'] });
    try {
      await store.create(v3('IPReservation', 'wc-a', { reservedCIDRs: ['10.77.0.0/30'] }));
      const names = async (): Promise<string[]> => (await agent.list('IPReservation', undefined, { cached: true })).items.map((o) => o.key.name).filter((n) => n.startsWith('wc-'));
      // A cached read may be a moment behind (its first list comes from the apiserver's watch cache): what it missed arrives through its watch.
      const until = async (want: string[]): Promise<void> => {
        const deadline = Date.now() + 15_000;
        while (JSON.stringify(await names()) !== JSON.stringify(want) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
        expect(await names()).toEqual(want);
      };
      await until(['wc-a']);
      // The apiserver restarts: the copy's watch ends with it, and the next cached read lists again.
      await kube.kill();
      try {
        expect((await rejection(agent.list('IPReservation', undefined, { cached: true }))).code).toBe('Unavailable');
      } finally {
        await kube.start();
      }
      await store.create(v3('IPReservation', 'wc-b', { reservedCIDRs: ['10.77.0.4/30'] }));
      await until(['wc-a', 'wc-b']);
      // And once watching again, a delete by another client reaches the copy through the watch.
      const b = await store.get({ kind: 'IPReservation', name: 'wc-b' });
      await store.delete({ kind: 'IPReservation', name: 'wc-b' }, b?.revision);
      await until(['wc-a']);
      expect(await agent.get({ kind: 'IPReservation', name: 'wc-a' }, { cached: true })).toBeDefined();
    } finally {
      await agent.close();
    }
  });

  it('a watch whose apiserver goes away ends Unavailable; the store works again once it is back', async () => {
    const rec = new Recorder();
    const w = store.watch('IPPool', '', rec.handlers);
    try {
      await new Promise((r) => setTimeout(r, 300));
      await kube.kill();
      await rec.until(() => rec.error !== undefined, 'the watch to end');
      expect(rec.error?.code).toBe('Unavailable');
      expect(rec.error?.message).toContain(kube.server);
      const down = await rejection(store.list('IPPool'));
      expect(down.code).toBe('Unavailable');
      expect(down.message).toMatch(/refused/);
    } finally {
      await w.close();
      await kube.start();
    }
    expect((await store.list('IPPool')).items).toBeDefined();
  });
});

describe('Kubernetes datastore: unreachable apiserver and wrong kubeconfig', () => {
  const cleanups: (() => void)[] = [];
  afterAll(() => cleanups.forEach((c) => c()));

  async function kubeconfigFor(server: string, caFile: string): Promise<string> {
    const certs = await makeTestCerts('some-other-ca');
    cleanups.push(certs.cleanup);
    const path = join(certs.dir, 'kubeconfig');
    writeFileSync(
      path,
      `apiVersion: v1\nkind: Config\nclusters: [{name: c, cluster: {server: "${server}", certificate-authority: "${caFile || certs.caFile}"}}]\n` +
        `users: [{name: u, user: {client-certificate: "${certs.clientCertFile}", client-key: "${certs.clientKeyFile}"}}]\n` +
        'contexts: [{name: x, context: {cluster: c, user: u}}]\ncurrent-context: x\n',
    );
    return path;
  }

  it('nothing listening: Unavailable within 5 s, naming the server', async () => {
    const server = `https://127.0.0.1:${await freePort()}`;
    const store = new KubernetesStore({ kubeconfig: await kubeconfigFor(server, '') });
    try {
      const t0 = Date.now();
      const err = await rejection(store.list('IPPool'));
      expect(Date.now() - t0).toBeLessThan(5000);
      expect(err.code).toBe('Unavailable');
      expect(err.message).toContain(server);
    } finally {
      await store.close();
    }
  });

  it('a server that never answers: Unavailable within 5 s, never a hang', async () => {
    // A listener that accepts and stays silent (no TLS handshake ever comes back).
    const { createServer } = await import('node:net');
    const sockets: import('node:net').Socket[] = [];
    const silent = createServer((s) => sockets.push(s));
    await new Promise<void>((r) => silent.listen(0, '127.0.0.1', r));
    const port = (silent.address() as { port: number }).port;
    const store = new KubernetesStore({ kubeconfig: await kubeconfigFor(`https://127.0.0.1:${port}`, '') });
    try {
      const t0 = Date.now();
      const err = await rejection(store.get({ kind: 'IPPool', name: 'x' }));
      expect(Date.now() - t0).toBeLessThan(5000);
      expect(err.code).toBe('Unavailable');
      expect(err.message).toMatch(/no answer within/);
    } finally {
      await store.close();
      sockets.forEach((s) => s.destroy());
      silent.close();
    }
  });

  it('a kubeconfig that does not exist is Unavailable naming the file', () => {
    expect(() => new KubernetesStore({ kubeconfig: '/nonexistent/kubeconfig' })).toThrow(/kubeconfig \/nonexistent\/kubeconfig: no such file/);
  });
});
