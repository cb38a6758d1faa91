// The etcd-layout Store over the in-memory KV: the Store conformance suite, and the layout itself
// (Calico's keys, IPAM specs stored bare) as an etcdctl user would see it.
import { describe, expect, it } from 'vitest';
import { describeStoreConformance } from '../store-conformance.js';
import { EtcdStore } from './etcd-store.js';
import { MemoryBackend } from './memory.js';

describeStoreConformance('memory', async () => {
  const kv = new MemoryBackend();
  const store = new EtcdStore(kv);
  return {
    store,
    second: async () => store,
    expireHistory: async () => kv.compact(kv.currentRevision),
    cleanup: () => store.close(),
  };
});

const API = 'projectcalico.org/v3';

describe('EtcdStore keeps Calico\'s etcd layout', () => {
  it('resources are their v3 JSON at /calico/resources/v3/projectcalico.org/<plural>/[<ns>/]<name>', async () => {
    const kv = new MemoryBackend();
    const s = new EtcdStore(kv);
    const p = await s.create({ apiVersion: API, kind: 'IPPool', metadata: { name: 'p1' }, spec: { cidr: '10.0.0.0/16' } });
    await s.create({ apiVersion: API, kind: 'NetworkPolicy', metadata: { name: 'np', namespace: 'web' }, spec: { order: 1 } });
    const raw = await kv.get('/calico/resources/v3/projectcalico.org/ippools/p1');
    expect(JSON.parse(raw?.value ?? '')).toEqual({ kind: 'IPPool', apiVersion: API, metadata: { name: 'p1' }, spec: { cidr: '10.0.0.0/16' } });
    expect(p.revision).toBe(String(raw?.modRevision));
    expect(await kv.get('/calico/resources/v3/projectcalico.org/networkpolicies/web/np')).toBeDefined();
  });

  it('IPAM kinds are their bare spec at Calico\'s /calico/ipam/v2/ keys', async () => {
    const kv = new MemoryBackend();
    const s = new EtcdStore(kv);
    await s.create({ apiVersion: API, kind: 'IPAMBlock', metadata: { name: '10-1-2-0-26' }, spec: { cidr: '10.1.2.0/26', affinity: 'host:n1' } });
    await s.create({ apiVersion: API, kind: 'BlockAffinity', metadata: { name: 'node-a-fd00--40-122' }, spec: { state: 'pending', node: 'node-a', cidr: 'fd00::40/122', deleted: 'false' } });
    await s.create({ apiVersion: API, kind: 'IPAMHandle', metadata: { name: 'k8s-pod-network.abc' }, spec: { handleID: 'k8s-pod-network.abc', block: { '10.1.2.0/26': 1 } } });
    await s.create({ apiVersion: API, kind: 'IPAMConfig', metadata: { name: 'default' }, spec: { strictAffinity: true } });
    const raw = Object.fromEntries((await kv.list('/calico/')).items.map((x) => [x.key, JSON.parse(x.value) as unknown]));
    expect(raw).toEqual({
      '/calico/ipam/v2/assignment/ipv4/block/10.1.2.0-26': { cidr: '10.1.2.0/26', affinity: 'host:n1' },
      '/calico/ipam/v2/host/node-a/ipv6/block/fd00::40-122': { state: 'pending', deleted: false },
      '/calico/ipam/v2/handle/k8s-pod-network.abc': { handleID: 'k8s-pod-network.abc', block: { '10.1.2.0/26': 1 } },
      '/calico/ipam/v2/config': { strictAffinity: true },
    });
    // The node/CIDR split of an IPv6 affinity name is settled by which key exists.
    const aff = await s.get({ kind: 'BlockAffinity', name: 'node-a-fd00--40-122' });
    expect(aff?.value.spec).toEqual({ state: 'pending', node: 'node-a', cidr: 'fd00::40/122', type: 'host', deleted: 'false' });
    expect((await s.list('BlockAffinity')).items.map((o) => o.key.name)).toEqual(['node-a-fd00--40-122']);
    expect((await s.delete({ kind: 'BlockAffinity', name: 'node-a-fd00--40-122' })).value.spec).toMatchObject({ node: 'node-a' });
  });

  it('a record that is not JSON is listed with its raw text as spec, not a failed listing', async () => {
    const kv = new MemoryBackend();
    const s = new EtcdStore(kv);
    await kv.create('/calico/ipam/v2/assignment/ipv4/block/10.9.0.0-26', 'not json');
    await kv.create('/calico/ipam/v2/assignment/ipv4/block/10.9.0.64-26', '{"cidr":"10.9.0.64/26"}');
    const { items } = await s.list('IPAMBlock');
    expect(items.map((o) => [o.key.name, o.value.spec])).toEqual([
      ['10-9-0-0-26', 'not json'],
      ['10-9-0-64-26', { cidr: '10.9.0.64/26' }],
    ]);
  });

  it('a BlockAffinity must be named <node>-<cidr name>; an IPAMBlock name must be a CIDR', async () => {
    const s = new EtcdStore(new MemoryBackend());
    await expect(s.create({ apiVersion: API, kind: 'BlockAffinity', metadata: { name: 'x' }, spec: { state: 'pending', node: 'n', cidr: '10.0.0.0/26' } })).rejects.toThrow(/must be named n-10-0-0-0-26/);
    await expect(s.get({ kind: 'IPAMBlock', name: 'nope' })).rejects.toThrow(/does not name a CIDR/);
    await expect(s.get({ kind: 'Gadget', name: 'x' })).rejects.toThrow(/unknown resource kind 'Gadget'/);
  });
});
