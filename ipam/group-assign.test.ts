import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { CountingStore } from '../test/harness/counting-store.js';
import { createMemoryStore } from '../datastore/backends/index.js';
import type { Store } from '../datastore/store.js';
import { IpamClient } from './allocator.js';
import { checkIpam } from './check.js';
import type { AssignArgs, AssignedIp } from './assign-args.js';
import type { GroupOutcome } from './group-assign.js';
import { parseHandle } from './model.js';
import { handleKey, readBlock } from './records.js';
import { putPool } from './testing.js';

const fast = { retry: { attempts: 200, backoffMs: 0 } };

/** The addresses of a grouped member; undefined for 'alone' (an Error fails the test). */
function grouped(o: GroupOutcome | undefined): AssignedIp[] | undefined {
  if (o instanceof Error) throw o;
  return o === 'alone' ? undefined : o;
}

/** A host with a claimed, cached /26 and IPv6 /122 (its first pod assigned alone), writes counted from then on. */
async function warmHost(): Promise<{ store: CountingStore; ipam: IpamClient; writes: () => Map<string, number> }> {
  const mem = createMemoryStore();
  await putPool(mem, 'p', { cidr: '10.0.0.0/16' });
  await putPool(mem, 'p6', { cidr: 'fd00::/48', blockSize: 122 });
  const store = new CountingStore(mem);
  const ipam = new IpamClient(store, fast);
  await ipam.autoAssign({ handleId: 'first', hostname: 'n1', num4: 1, num6: 1, newHandle: true });
  store.reset();
  return { store, ipam, writes: () => store.writes() };
}

const pod = (i: number, extra: Partial<AssignArgs> = {}): AssignArgs => ({
  handleId: `k8s-pod-network.c${i}`,
  hostname: 'n1',
  num4: 1,
  attrs: { node: 'n1', pod: `p${i}`, namespace: 'default' },
  newHandle: true,
  ...extra,
});

async function handleCount(store: Store, id: string): Promise<Record<string, number> | undefined> {
  const o = await store.get(handleKey(id));
  return o ? parseHandle(id, o.value.spec).block : undefined;
}

describe('group commit of a burst of ADDs on one host', () => {
  it('k new pods: k handle creates and ONE block write, distinct addresses each recorded under its own handle', async () => {
    const { store, ipam, writes } = await warmHost();
    const out = await ipam.assignGroup(Array.from({ length: 10 }, (_, i) => pod(i)));
    expect(out.every((o) => grouped(o))).toBe(true);
    const ips = out.flatMap((o) => (grouped(o) ?? []).map((a) => a.ip));
    expect(new Set(ips).size).toBe(10);
    expect(Object.fromEntries(writes())).toEqual({ 'create IPAMHandle': 10, 'update IPAMBlock': 1 });
    const b = (await readBlock(store, '10.0.0.0/26'))!.block;
    for (const [i, o] of out.entries()) {
      const ord = grouped(o)?.[0]?.ordinal ?? -1;
      expect(b.attributes[b.allocations[ord]!]).toEqual({ handle_id: `k8s-pod-network.c${i}`, secondary: { node: 'n1', pod: `p${i}`, namespace: 'default' } });
      expect(await handleCount(store, `k8s-pod-network.c${i}`)).toEqual({ '10.0.0.0/26': 1 });
    }
    const check = await checkIpam(store);
    expect(check.summary).toMatchObject({ duplicates: 0, handleMismatches: 0, corrupt: 0 });
  });

  it('a member whose handle exists already (a retried ADD) is left alone and its handle untouched; the others are grouped', async () => {
    const { store, ipam } = await warmHost();
    await ipam.autoAssign({ handleId: 'k8s-pod-network.c1', hostname: 'n1', num4: 1, newHandle: true });
    const before = await store.get(handleKey('k8s-pod-network.c1'));
    const out = await ipam.assignGroup([pod(0), pod(1), pod(2)]);
    expect(out[1]).toBe('alone');
    expect(out[0]).not.toBe('alone');
    expect(out[2]).not.toBe('alone');
    expect((await store.get(handleKey('k8s-pod-network.c1')))?.revision).toBe(before?.revision);
  });

  it('the block moved meanwhile (another writer): nothing is assigned, every handle count is taken back, all go alone', async () => {
    const { store, ipam } = await warmHost();
    // Someone else takes an address of the host's block: the cached revision is stale now.
    const other = new IpamClient(store, fast);
    await other.assignIp('10.0.0.40', 'someone-else', 'n2');
    const blockBefore = await store.get({ kind: 'IPAMBlock', name: '10-0-0-0-26' });
    const out = await ipam.assignGroup([pod(0), pod(1)]);
    expect(out).toEqual(['alone', 'alone']);
    expect(await handleCount(store, 'k8s-pod-network.c0')).toBeUndefined();
    expect(await handleCount(store, 'k8s-pod-network.c1')).toBeUndefined();
    expect((await store.get({ kind: 'IPAMBlock', name: '10-0-0-0-26' }))?.revision).toBe(blockBefore?.revision);
  });

  it('dual stack: one block write per family; chosen pools or another host go alone, with no write for them', async () => {
    const { ipam, writes } = await warmHost();
    const out = await ipam.assignGroup([pod(0, { num6: 1 }), pod(1, { ipv4Pools: ['p'] }), pod(2, { hostname: 'n2' }), pod(3), pod(4, { num4: 0, num6: 1 })]);
    expect(out.slice(1, 3)).toEqual(['alone', 'alone']);
    expect(grouped(out[0])?.map((a) => a.family)).toEqual([4, 6]);
    expect(grouped(out[3])?.map((a) => a.family)).toEqual([4]);
    expect(grouped(out[4])?.map((a) => a.family)).toEqual([6]);
    // Handles: pod 0 created with its IPv4 count and updated with its IPv6 one; pods 3 and 4 created.
    expect(Object.fromEntries(writes())).toEqual({ 'create IPAMHandle': 3, 'update IPAMHandle': 1, 'update IPAMBlock': 2 });
  });

  it('dual stack on a host without a cached IPv6 block (or no IPv6 pool): those members go alone before anything is written', async () => {
    const mem = createMemoryStore();
    await putPool(mem, 'p', { cidr: '10.0.0.0/16' });
    const store = new CountingStore(mem);
    const ipam = new IpamClient(store, fast);
    await ipam.autoAssign({ handleId: 'first', hostname: 'n1', num4: 1, newHandle: true });
    store.reset();
    const out = await ipam.assignGroup([pod(0, { num6: 1 }), pod(1, { num6: 1 }), pod(2)]);
    expect(out.slice(0, 2)).toEqual(['alone', 'alone']);
    expect(grouped(out[2])?.length).toBe(1);
    expect(Object.fromEntries(store.writes())).toEqual({ 'create IPAMHandle': 1, 'update IPAMBlock': 1 });
  });

  it('a dual-stack member that gets its IPv4 but finds no room for its IPv6 gives the IPv4 back and goes alone', async () => {
    const { store, ipam } = await warmHost();
    // The /122 has 63 free: the first 63 dual-stack members fit, the 64th does not.
    const out = await ipam.assignGroup(Array.from({ length: 64 }, (_, i) => pod(i, { num4: 0, num6: 1 })).slice(0, 62).concat([pod(62, { num6: 1 }), pod(63, { num6: 1 })]));
    expect(grouped(out[62])?.length).toBe(2);
    expect(out[63]).toBe('alone');
    expect(await handleCount(store, 'k8s-pod-network.c63')).toBeUndefined();
    const v4 = (await readBlock(store, '10.0.0.0/26'))!.block;
    expect(v4.attributes.some((a) => a.handle_id === 'k8s-pod-network.c63')).toBe(false);
    expect((await checkIpam(store)).summary).toMatchObject({ duplicates: 0, handleMismatches: 0, corrupt: 0 });
  });

  it('no cached block: all alone, nothing written (the first ADD of a host claims its block alone); a fuller block takes as many as it holds', async () => {
    const mem = createMemoryStore();
    await putPool(mem, 'p', { cidr: '10.0.0.0/16' });
    const store = new CountingStore(mem);
    const cold = new IpamClient(store, fast);
    expect(await cold.assignGroup([pod(0), pod(1)])).toEqual(['alone', 'alone']);
    expect(store.writes().size).toBe(0);
    // The host's /26 has 63 free: 63 of 64 are grouped, the last goes alone to claim the next block.
    const { ipam, writes: w2 } = await warmHost();
    const out = await ipam.assignGroup(Array.from({ length: 64 }, (_, i) => pod(i)));
    expect(out.filter((o) => !grouped(o)).length).toBe(1);
    expect(out[63]).toBe('alone');
    expect(w2().get('update IPAMBlock')).toBe(1);
  });

  it('property: any mix of families, groups, retried handles and foreign writes leaves every address held once and every handle counting what its block holds', async () => {
    let groupedMembers = 0;
    const family = fc.constantFrom({ num4: 1, num6: 0 }, { num4: 0, num6: 1 }, { num4: 1, num6: 1 }, { num4: 2, num6: 0 });
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.record({ families: fc.array(family, { minLength: 1, maxLength: 8 }), retryOf: fc.option(fc.nat(30), { nil: undefined }), foreign: fc.boolean() }), { minLength: 1, maxLength: 6 }),
        async (rounds) => {
          const { store, ipam } = await warmHost();
          const other = new IpamClient(store, fast);
          let next = 0;
          const granted = new Map<string, string>();
          for (const r of rounds) {
            if (r.foreign) await other.autoAssign({ handleId: `foreign-${next++}`, hostname: 'n1', num4: 1, num6: 1 });
            const members = r.families.map((f) => pod(next++, f));
            if (r.retryOf !== undefined && r.retryOf < next) members.push(pod(r.retryOf));
            const out = await ipam.assignGroup(members);
            for (const [i, o] of out.entries()) {
              const ips = grouped(o);
              if (!ips) continue;
              groupedMembers++;
              expect([ips.filter((a) => a.family === 4).length, ips.filter((a) => a.family === 6).length]).toEqual([members[i].num4 ?? 0, members[i].num6 ?? 0]);
              for (const a of ips) {
                expect(granted.has(a.ip)).toBe(false);
                granted.set(a.ip, members[i].handleId);
              }
            }
          }
          for (const [ip, handle] of granted) {
            const cidr = ip.includes(':') ? 'fd00::/122' : '10.0.0.0/26';
            const b = (await readBlock(store, cidr))!.block;
            const ord = ip.includes(':') ? parseInt(ip.split(':').pop() ?? '0', 16) : Number(ip.split('.')[3]);
            expect(b.attributes[b.allocations[ord]!]?.handle_id).toBe(handle);
          }
          const check = await checkIpam(store);
          expect(check.summary).toMatchObject({ duplicates: 0, handleMismatches: 0, corrupt: 0 });
        },
      ),
      { numRuns: 60 },
    );
    expect(groupedMembers).toBeGreaterThan(0);
  });
});
