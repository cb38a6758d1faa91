import { describe, expect, it } from 'vitest';
import type { ObjectKey } from '../datastore/store.js';
import { createMemoryStore, type EtcdStore } from '../datastore/backends/index.js';
import { IpamClient } from '../ipam/allocator.js';
import { putPool } from '../ipam/testing.js';
import { DirectStore } from './direct-store.js';

describe('DirectStore.assign (the agent\'s and the plugin\'s IPAM path)', () => {
  async function setup(): Promise<{ store: EtcdStore; reads: string[]; ds: DirectStore }> {
    const store = createMemoryStore();
    await putPool(store, 'p', { cidr: '10.9.0.0/24', blockSize: 26 });
    const reads: string[] = [];
    const get = store.get.bind(store);
    store.get = (key: ObjectKey) => {
      reads.push(key.kind);
      return get(key);
    };
    return { store, reads, ds: new DirectStore(store, new IpamClient(store), Date.now() + 10_000) };
  }
  const req = { handle: 'k8s-pod-network.c1', node: 'n1', attrs: { node: 'n1', pod: 'c1', namespace: 'default' }, num4: 1, num6: 0 };

  it('a first ADD creates the handle without reading it first', async () => {
    const { reads, ds } = await setup();
    const [ip] = await ds.assign(req);
    expect(ip).toMatch(/^10\.9\.0\.\d+$/);
    expect(reads).not.toContain('IPAMHandle');
  });

  it('a retried ADD gets what the handle already holds, and nothing more is allocated', async () => {
    const { store, ds } = await setup();
    const first = await ds.assign(req);
    const again = await ds.assign(req);
    expect(again).toEqual(first);
    // A second agent (a restarted one) with no memory of the handle answers the same.
    const fresh = new DirectStore(store, new IpamClient(store), Date.now() + 10_000);
    expect(await fresh.assign(req)).toEqual(first);
    const blocks = (await store.list('IPAMBlock')).items;
    const used = blocks.reduce((n, b) => n + ((b.value.spec as { allocations: (number | null)[] }).allocations.filter((a) => a !== null).length), 0);
    expect(used).toBe(1);
  });

  it('a handle holding only part of a dual-stack ADD (a failure between its two block writes) is started over: both families, the part given back', async () => {
    const { store, ds } = await setup();
    await putPool(store, 'p6', { cidr: 'fd00:9::/120', blockSize: 122 });
    const ipam = new IpamClient(store);
    await ipam.autoAssign({ handleId: req.handle, hostname: 'n1', num4: 1 });
    const ips = await ds.assign({ ...req, num6: 1 });
    expect(ips.map((ip) => (ip.includes(':') ? 6 : 4))).toEqual([4, 6]);
    expect(await ipam.ipsByHandle(req.handle)).toEqual(ips);
    const blocks = (await store.list('IPAMBlock')).items;
    const used = blocks.reduce((n, b) => n + ((b.value.spec as { allocations: (number | null)[] }).allocations.filter((a) => a !== null).length), 0);
    expect(used).toBe(2);
  });
});
