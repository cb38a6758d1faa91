import { describe, expect, it } from 'vitest';
import { MemoryBackend } from './backends/memory.js';
import { EtcdStore } from './backends/etcd-store.js';
import { PartialWriteError, ResourceClient, ValidationError, encode } from './client.js';
import type { Store, StoredValue } from './store.js';
import { DatastoreError } from './errors.js';
import type { Resource } from './model/resource.js';

const V3 = 'projectcalico.org/v3';
const pool = (name: string, cidr: string, extra: Record<string, unknown> = {}) => ({
  apiVersion: V3,
  kind: 'IPPool',
  metadata: { name },
  spec: { cidr, ...extra },
});
const peer = (name: string, ip: string) => ({ apiVersion: V3, kind: 'BGPPeer', metadata: { name }, spec: { peerIP: ip, asNumber: 64567 } });

function setup() {
  const backend = new MemoryBackend();
  let n = 0;
  const client = new ResourceClient(new EtcdStore(backend), { uuid: () => `uid-${++n}`, now: () => new Date('2026-01-02T03:04:05.678Z') });
  return { backend, client };
}

async function dump(b: MemoryBackend): Promise<string> {
  const l = await b.list('/');
  return JSON.stringify(l.items);
}

describe('ResourceClient', () => {
  it('create stores Calico JSON without resourceVersion at the Calico key, with uid and creationTimestamp', async () => {
    const { backend, client } = setup();
    const r = await client.create(pool('p1', '10.1.0.0/16'));
    const kv = await backend.get('/calico/resources/v3/projectcalico.org/ippools/p1');
    expect(kv).toBeDefined();
    const stored = JSON.parse(kv!.value);
    expect(stored.metadata).toEqual({ name: 'p1', uid: 'uid-1', creationTimestamp: '2026-01-02T03:04:05Z' });
    expect(stored.kind).toBe('IPPool');
    expect(stored.apiVersion).toBe(V3);
    expect(stored.spec.blockSize).toBe(26);
    expect(r.metadata.resourceVersion).toBe(String(kv!.modRevision));
  });

  it('create fails if the resource exists, and writes nothing', async () => {
    const { backend, client } = setup();
    await client.create(pool('p1', '10.1.0.0/16'));
    const before = await dump(backend);
    await expect(client.create(pool('p1', '10.1.0.0/16'))).rejects.toThrow(/already exists/);
    expect(await dump(backend)).toBe(before);
  });

  it('get fills resourceVersion from the mod revision; missing → NotFound', async () => {
    const { client } = setup();
    await client.create(pool('p1', '10.1.0.0/16'));
    const got = await client.get('ippools', 'p1');
    expect(got.metadata.resourceVersion).toMatch(/^\d+$/);
    await expect(client.get('ippool', 'nope')).rejects.toMatchObject({ code: 'NotFound' });
  });

  it('update compares resourceVersion: a stale revision conflicts', async () => {
    const { client } = setup();
    const r = await client.create(pool('p1', '10.1.0.0/16'));
    const updated = await client.update({ ...pool('p1', '10.1.0.0/16', { natOutgoing: true }), metadata: { name: 'p1', resourceVersion: r.metadata.resourceVersion } });
    expect((updated.spec as { natOutgoing: boolean }).natOutgoing).toBe(true);
    expect(updated.metadata.uid).toBe(r.metadata.uid);
    await expect(client.update({ ...pool('p1', '10.1.0.0/16'), metadata: { name: 'p1', resourceVersion: r.metadata.resourceVersion } })).rejects.toThrow(/changed since you read it/);
  });

  it('replace of a missing resource fails', async () => {
    const { client } = setup();
    await expect(client.replace(pool('p1', '10.1.0.0/16'))).rejects.toThrow(/does not exist/);
  });

  it('apply creates then updates, keeping uid and creationTimestamp', async () => {
    const { client } = setup();
    const a = await client.apply(pool('p1', '10.1.0.0/16'));
    expect(a.changed).toBe(true);
    const b = await client.apply(pool('p1', '10.1.0.0/16', { natOutgoing: true }));
    expect(b.changed).toBe(true);
    expect(b.resource.metadata.uid).toBe(a.resource.metadata.uid);
    expect(b.resource.metadata.creationTimestamp).toBe(a.resource.metadata.creationTimestamp);
  });

  it('apply of an identical resource (e.g. get -o yaml output) writes nothing', async () => {
    const { backend, client } = setup();
    await client.apply(pool('p1', '10.1.0.0/16'));
    const got = await client.get('ippool', 'p1');
    const before = await dump(backend);
    const again = await client.apply(got);
    expect(again.changed).toBe(false);
    expect(await dump(backend)).toBe(before);
  });

  it('applyAll: one invalid document → nothing written, every error reported with document number', async () => {
    const { backend, client } = setup();
    await client.apply(pool('p0', '192.168.0.0/16'));
    const before = await dump(backend);
    const err = await client.applyAll([pool('p1', '10.1.0.0/16'), pool('p2', '10.2.0.1/16'), peer('peer1', '10.0.0.1')]).catch((e) => e);
    expect(err).toBeInstanceOf(ValidationError);
    const docs = (err as ValidationError).documents;
    expect(docs.map((d) => d.index)).toEqual([2]);
    expect(docs[0].errors[0].path).toBe('spec.cidr');
    expect(err.message).toMatch(/document 2 \(IPPool 'p2'\): spec\.cidr/);
    expect(await dump(backend)).toBe(before);
  });

  it('applyAll rejects a pool overlapping a stored pool and a pool overlapping another in the batch', async () => {
    const { backend, client } = setup();
    await client.apply(pool('p0', '192.168.0.0/16'));
    const before = await dump(backend);
    await expect(client.applyAll([pool('p1', '192.168.1.0/24')])).rejects.toThrow(/overlaps IPPool 'p0'/);
    await expect(client.applyAll([pool('a', '10.0.0.0/8'), pool('b', '10.1.0.0/16')])).rejects.toThrow(/document 1 .*overlaps IPPool 'b'/);
    expect(await dump(backend)).toBe(before);
  });

  it('applyAll lets a pool be replaced in place (same name, overlapping its old self)', async () => {
    const { client } = setup();
    await client.apply(pool('p0', '192.168.0.0/16'));
    await client.applyAll([pool('p0', '192.168.0.0/16', { natOutgoing: true })]);
    expect(((await client.get('ippool', 'p0')).spec as { natOutgoing: boolean }).natOutgoing).toBe(true);
  });

  it("refuses to change a stored pool's CIDR (its blocks would be orphaned)", async () => {
    const { client } = setup();
    await client.apply(pool('p0', '192.168.0.0/16'));
    await expect(client.applyAll([pool('p0', '192.169.0.0/16')])).rejects.toThrow(/spec\.cidr: IPPool CIDR cannot be modified/);
  });

  it('applyAll rejects the same resource twice in one batch', async () => {
    const { client } = setup();
    await expect(client.applyAll([peer('x', '10.0.0.1'), peer('x', '10.0.0.2')])).rejects.toThrow(/same resource as document 1/);
  });

  it('applyAll writes every document, in order, each with its own revision', async () => {
    const { client } = setup();
    const res = await client.applyAll([pool('p1', '10.1.0.0/16'), peer('peer1', '10.0.0.1')]);
    expect(res.map((r) => [r.resource.kind, r.changed])).toEqual([
      ['IPPool', true],
      ['BGPPeer', true],
    ]);
    expect((await client.get('ippool', 'p1')).metadata.resourceVersion).toBe(res[0].resource.metadata.resourceVersion);
    expect((await client.get('bgppeer', 'peer1')).metadata.resourceVersion).toBe(res[1].resource.metadata.resourceVersion);
  });

  it('list returns one kind sorted; namespaced kinds by namespace or all', async () => {
    const { client } = setup();
    await client.applyAll([pool('b', '10.2.0.0/16'), pool('a', '10.1.0.0/16'), peer('peer1', '10.0.0.1')]);
    const l = await client.list('ippools');
    expect(l.items.map((r) => r.metadata.name)).toEqual(['a', 'b']);
    const np = (ns: string, name: string) => ({ apiVersion: V3, kind: 'NetworkPolicy', metadata: { name, namespace: ns }, spec: { selector: 'all()' } });
    await client.applyAll([np('x', 'p'), np('y', 'p'), np('y', 'q')]);
    expect((await client.list('networkpolicy', { namespace: 'y' })).items.map((r) => r.metadata.name)).toEqual(['p', 'q']);
    expect((await client.list('networkpolicy')).items).toHaveLength(3);
  });

  it('delete by name, with an optional revision', async () => {
    const { client } = setup();
    const r = await client.create(pool('p1', '10.1.0.0/16'));
    await expect(client.delete('ippool', 'p1', { resourceVersion: '999999' })).rejects.toMatchObject({ code: 'Conflict' });
    const d = await client.delete('ippool', 'p1', { resourceVersion: r.metadata.resourceVersion });
    expect(d.metadata.name).toBe('p1');
    await expect(client.delete('ippool', 'p1')).rejects.toThrow(/resource does not exist: IPPool\(p1\)/);
  });

  it('deleteAll checks every document exists before deleting any', async () => {
    const { backend, client } = setup();
    await client.applyAll([pool('p1', '10.1.0.0/16'), peer('peer1', '10.0.0.1')]);
    const before = await dump(backend);
    await expect(client.deleteAll([pool('p1', '10.1.0.0/16'), peer('ghost', '10.0.0.9')])).rejects.toMatchObject({ code: 'NotFound' });
    expect(await dump(backend)).toBe(before);
    const gone = await client.deleteAll([pool('p1', '10.1.0.0/16'), peer('peer1', '10.0.0.1')]);
    expect(gone).toHaveLength(2);
    expect((await backend.list('/calico/')).items).toHaveLength(0);
  });

  it('patch applies a JSON merge patch and validates the result', async () => {
    const { backend, client } = setup();
    await client.create(pool('p1', '10.1.0.0/16'));
    const p = await client.patch('ippool', 'p1', { spec: { natOutgoing: true } });
    expect((p.spec as { natOutgoing: boolean }).natOutgoing).toBe(true);
    const before = await dump(backend);
    await expect(client.patch('ippool', 'p1', { spec: { ipipMode: 'Always', vxlanMode: 'Always' } })).rejects.toBeInstanceOf(ValidationError);
    expect(await dump(backend)).toBe(before);
  });

  it('unknown kinds are reported by name', async () => {
    const { client } = setup();
    expect(() => client.kind('frobs')).toThrow(DatastoreError);
    await expect(client.list('frobs')).rejects.toThrow(/unknown resource kind 'frobs'/);
  });

  it('watch delivers added/modified/deleted resource events', async () => {
    const { client } = setup();
    const start = await client.list('ippool');
    const events: string[] = [];
    const w = client.watch('ippool', start.revision, { onEvents: (es) => es.forEach((e) => events.push(`${e.type}:${e.type === 'deleted' ? e.name : e.resource.metadata.name}`)), onError: () => {} });
    await client.create(pool('p1', '10.1.0.0/16'));
    await client.patch('ippool', 'p1', { spec: { natOutgoing: true } });
    await client.delete('ippool', 'p1');
    await new Promise((r) => setTimeout(r, 20));
    await w.close();
    expect(events).toEqual(['added:p1', 'modified:p1', 'deleted:p1']);
  });

  it('encode omits resourceVersion and empty label maps', () => {
    const r: Resource = { apiVersion: V3, kind: 'IPPool', metadata: { name: 'x', resourceVersion: '5', labels: {} }, spec: {} };
    expect(encode(r)).toBe('{"kind":"IPPool","apiVersion":"projectcalico.org/v3","metadata":{"name":"x"},"spec":{}}');
  });

  it('a concurrent write after validation fails that document with Conflict and reports what was written before it', async () => {
    const backend = new MemoryBackend();
    const store = new EtcdStore(backend);
    const client = new ResourceClient(store);
    await client.apply(pool('p1', '10.1.0.0/16'));
    // Another writer changes p1 between our read and our write of it.
    const racing: Store = Object.create(store) as Store;
    racing.update = async (value: StoredValue, rev: string) => {
      if (value.kind === 'IPPool') {
        const cur = await store.get({ kind: 'IPPool', name: 'p1' });
        await store.update({ ...cur!.value, spec: { ...(cur!.value.spec as object), natOutgoing: true } }, cur!.revision);
      }
      return store.update(value, rev);
    };
    const racer = new ResourceClient(racing);
    const err = await racer.applyAll([peer('peer1', '10.0.0.1'), pool('p1', '10.1.0.0/16', { ipipMode: 'Always' }), peer('peer2', '10.0.0.2')]).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(PartialWriteError);
    const pw = err as PartialWriteError;
    expect(pw.code).toBe('Conflict');
    expect(pw.outcomes.map((o) => `${o.index} ${o.kind} ${o.name}: ${o.outcome}`)).toEqual(['1 BGPPeer peer1: written', '2 IPPool p1: failed', '3 BGPPeer peer2: not attempted']);
    expect(pw.message).toMatch(/IPPool\(p1\) changed since it was read[\s\S]*document 1 \(BGPPeer 'peer1'\): written[\s\S]*document 3 \(BGPPeer 'peer2'\): not attempted/);
    expect((await client.list('bgppeer')).items.map((r) => r.metadata.name)).toEqual(['peer1']);
    expect((await client.get('ippool', 'p1')).spec as { natOutgoing: boolean; ipipMode: string }).toMatchObject({ natOutgoing: true, ipipMode: 'Never' });
  });
});
