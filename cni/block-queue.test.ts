import { describe, expect, it } from 'vitest';
import { CountingStore } from '../test/harness/counting-store.js';
import { createMemoryStore } from '../datastore/backends/index.js';
import type { Store } from '../datastore/store.js';
import { IpamClient } from '../ipam/allocator.js';
import { checkIpam } from '../ipam/check.js';
import { putPool } from '../ipam/testing.js';
import { BlockWriteQueue } from './block-queue.js';
import { DirectStore } from './direct-store.js';
import type { AssignRequest } from './store.js';

async function line(): Promise<{ store: Store; queue: BlockWriteQueue; blockWrites: () => number; served: { grouped: number; alone: number } }> {
  const mem = createMemoryStore();
  await putPool(mem, 'p', { cidr: '10.7.0.0/16' });
  const store = new CountingStore(mem);
  const blockWrites = (): number => (store.byOp.get('create IPAMBlock') ?? 0) + (store.byOp.get('update IPAMBlock') ?? 0);
  const ipam = new IpamClient(store, { retry: { attempts: 200, backoffMs: 0 } });
  const served = { grouped: 0, alone: 0 };
  const queue = new BlockWriteQueue(
    (deadline) => new DirectStore(store, ipam, deadline),
    (op) => new Error(`${op} waited in line past its deadline`),
    (how) => served[how]++,
  );
  return { store, queue, blockWrites, served };
}

const add = (i: number, extra: Partial<AssignRequest> = {}): AssignRequest => ({
  handle: `k8s-pod-network.c${i}`,
  node: 'n1',
  attrs: { node: 'n1', pod: `p${i}`, namespace: 'default' },
  num4: 1,
  num6: 0,
  ...extra,
});

describe("the node's line for block writes", () => {
  it('a burst of 30 ADDs: 30 distinct addresses in a handful of block writes, not 30; ipam check clean', async () => {
    const { store, queue, blockWrites, served } = await line();
    const deadline = Date.now() + 30_000;
    const ips = await Promise.all(Array.from({ length: 30 }, (_, i) => queue.assign(add(i), deadline)));
    expect(new Set(ips.flat()).size).toBe(30);
    // The first ADD claims the block alone (block create + its write); the 29 behind it share one write.
    expect(blockWrites()).toBeLessThanOrEqual(3);
    expect(served).toEqual({ grouped: 29, alone: 1 });
    expect((await checkIpam(store)).summary).toMatchObject({ duplicates: 0, handleMismatches: 0, corrupt: 0 });
  });

  it('a dual-stack burst of 40: each pod one address of each family, all distinct, one block write per family for those queued together', async () => {
    const { store, queue, blockWrites, served } = await line();
    await putPool(store, 'p6', { cidr: 'fd00:7::/112', blockSize: 122 });
    const deadline = Date.now() + 30_000;
    const ips = await Promise.all(Array.from({ length: 40 }, (_, i) => queue.assign(add(i, { num6: 1 }), deadline)));
    expect(ips.every((p) => p.length === 2 && !p[0].includes(':') && p[1].includes(':'))).toBe(true);
    expect(new Set(ips.flat()).size).toBe(80);
    // The first claims a block of each family alone; the 39 behind it share one write per family.
    expect(served).toEqual({ grouped: 39, alone: 1 });
    expect(blockWrites()).toBeLessThanOrEqual(6);
    expect((await checkIpam(store)).summary).toMatchObject({ duplicates: 0, handleMismatches: 0, corrupt: 0 });
  });

  it('the same ADD twice in one burst (a runtime retry) gets the same address both times', async () => {
    const { queue } = await line();
    const deadline = Date.now() + 30_000;
    await queue.assign(add(100), deadline); // warm: the block is claimed and cached
    const [a, b, c] = await Promise.all([queue.assign(add(1), deadline), queue.assign(add(2), deadline), queue.assign(add(1), deadline)]);
    expect(c).toEqual(a);
    expect(b).not.toEqual(a);
  });

  it('requests the group cannot take are served one by one in the same turn, errors reported to their own caller', async () => {
    const { queue } = await line();
    const deadline = Date.now() + 30_000;
    const first = await queue.assign(add(100), deadline);
    const [named, taken, plain] = await Promise.allSettled([
      queue.assign(add(1, { requested: ['10.7.0.50'] }), deadline),
      queue.assign(add(2, { requested: first }), deadline),
      queue.assign(add(3), deadline),
    ]);
    expect(named).toEqual({ status: 'fulfilled', value: ['10.7.0.50'] });
    expect(taken.status).toBe('rejected');
    expect(String((taken as PromiseRejectedResult).reason)).toMatch(/in use/);
    expect(plain.status).toBe('fulfilled');
  });

  it('an ADD whose deadline passed while it waited is failed without touching the datastore', async () => {
    const { queue, blockWrites } = await line();
    let release: () => void = () => undefined;
    const blocker = queue.run('gc', Date.now() + 30_000, () => new Promise<void>((r) => (release = r)));
    const late = queue.assign(add(1), Date.now() + 20);
    await new Promise((r) => setTimeout(r, 40));
    release();
    await blocker;
    await expect(late).rejects.toThrow(/waited in line past its deadline/);
    expect(blockWrites()).toBe(0);
  });
});
