import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { createMemoryStore, type EtcdStore } from '../datastore/backends/index.js';
import { ResourceClient } from '../datastore/client.js';
import { IpamClient } from './allocator.js';
import { parseCidr } from './cidr.js';
import { handleKey } from './records.js';
import { IpamError } from './errors.js';
import { parseBlock, parseHandle } from './model.js';
import { putNode, putPool } from './testing.js';
import { inUseCount } from './block.js';

const fast = { retry: { attempts: 200, backoffMs: 0 } };

async function setup(pools: Record<string, Parameters<typeof putPool>[2]>): Promise<{ be: EtcdStore; ipam: IpamClient }> {
  const be = createMemoryStore();
  for (const [name, spec] of Object.entries(pools)) await putPool(be, name, spec);
  return { be, ipam: new IpamClient(be, fast) };
}

async function code(p: Promise<unknown>): Promise<string> {
  try {
    await p;
    return 'ok';
  } catch (e) {
    return e instanceof IpamError ? e.code : String(e);
  }
}

describe('IPAM allocator', () => {
  it('reads pools, reservations and node labels from the cache; a pool the cache has not seen yet is found by a current re-read', async () => {
    const { be } = await setup({ old: { cidr: '10.0.0.0/30', blockSize: 30 } });
    await putPool(be, 'new', { cidr: '10.1.0.0/16' });
    const cachedReads: string[] = [];
    // A cache a moment behind: it has not seen the pool "new" yet.
    const lagging = new Proxy(be, {
      get: (t, p, r) =>
        p === 'list'
          ? async (kind: string, ns?: string, opts?: { cached?: boolean }) => {
              if (opts?.cached) cachedReads.push(kind);
              const l = await t.list(kind, ns);
              return opts?.cached && kind === 'IPPool' ? { ...l, items: l.items.filter((o) => o.key.name !== 'new') } : l;
            }
          : (Reflect.get(t, p, r) as unknown),
    });
    const ipam = new IpamClient(lagging, fast);
    expect((await ipam.autoAssign({ handleId: 'a', hostname: 'n1', num4: 4 })).ipv4.map((a) => a.ip)).toEqual(['10.0.0.0', '10.0.0.1', '10.0.0.2', '10.0.0.3']);
    // The block list of the claim too: a create-if-absent guards it.
    expect(cachedReads.sort()).toEqual(['IPAMBlock', 'IPPool', 'IPReservation']);
    // "old" is full as far as the cache knows: the current re-read finds "new".
    expect((await ipam.autoAssign({ handleId: 'b', hostname: 'n1', num4: 1 })).ipv4[0]?.ip).toMatch(/^10\.1\./);
  });

  it('claims from a cached block list that lags: a block it has not seen costs one lost create; "full" only after a current list', async () => {
    const { be } = await setup({ p: { cidr: '10.0.0.0/25' } });
    const cachedBlocks: string[][] = [];
    /** A block cache that has not seen `unseen` and still holds `ghost`. */
    const lagging = (unseen?: string, ghost?: string) =>
      new Proxy(be, {
        get: (t, p, r) =>
          p === 'list'
            ? async (kind: string, ns?: string, opts?: { cached?: boolean }) => {
                const l = await t.list(kind, ns);
                if (!opts?.cached || kind !== 'IPAMBlock') return l;
                const ghosts = ghost ? [{ ...l.items[0], key: { kind, name: ghost }, value: { ...l.items[0].value, spec: { cidr: ghost } } }] : [];
                const items = [...ghosts, ...l.items.filter((o) => (o.value.spec as { cidr: string }).cidr !== unseen)];
                cachedBlocks.push(items.map((o) => (o.value.spec as { cidr: string }).cidr));
                return { ...l, items };
              }
            : (Reflect.get(t, p, r) as unknown),
      });
    // n2 holds 10.0.0.0/26, which n1's cache has not seen: n1 loses that create, then reads current and takes 10.0.0.64/26.
    const n2 = new IpamClient(be, fast);
    await n2.claimBlock('n2', parseCidr('10.0.0.0/26'));
    const n1 = new IpamClient(lagging('10.0.0.0/26'), fast);
    expect((await n1.autoAssign({ handleId: 'a', hostname: 'n1', num4: 1 })).ipv4[0]?.ip).toBe('10.0.0.64');
    expect(cachedBlocks).toHaveLength(1);
    expect((await n2.hostAffinities('n2', 4)).map((a) => [a.cidr, a.state])).toEqual([['10.0.0.0/26', 'confirmed']]);
    expect((await n1.hostAffinities('n1', 4)).map((a) => [a.cidr, a.state])).toEqual([['10.0.0.64/26', 'confirmed']]);
    // 10.0.0.64/26 released and gone, yet still cached: the cache says the pool is full, a current list finds it free.
    await n1.releaseByHandle('a');
    await n1.releaseHostAffinities('n1');
    expect(await be.get({ kind: 'IPAMBlock', name: '10-0-0-64-26' })).toBeUndefined();
    const n3 = new IpamClient(lagging(undefined, '10.0.0.64/26'), fast);
    expect((await n3.autoAssign({ handleId: 'b', hostname: 'n3', num4: 1 })).ipv4[0]?.ip).toBe('10.0.0.64');
    expect(cachedBlocks.at(-1)).toContain('10.0.0.64/26');
  });

  it('assigns from a fresh /26 block claimed for the host, with a confirmed affinity and a handle count', async () => {
    const { be, ipam } = await setup({ p: { cidr: '10.0.0.0/16' } });
    const r = await ipam.autoAssign({ handleId: 'h1', hostname: 'n1', num4: 3 });
    expect(r.ipv4.map((a) => a.ip)).toEqual(['10.0.0.0', '10.0.0.1', '10.0.0.2']);
    expect(r.ipv4[0].block).toBe('10.0.0.0/26');
    const affs = await ipam.hostAffinities('n1', 4);
    expect(affs.map((a) => [a.cidr, a.state])).toEqual([['10.0.0.0/26', 'confirmed']]);
    const h = await be.get(handleKey('h1'));
    expect(parseHandle('h', h!.value.spec).block).toEqual({ '10.0.0.0/26': 3 });
    // A second host gets the next block.
    const r2 = await ipam.autoAssign({ handleId: 'h2', hostname: 'n2', num4: 1 });
    expect(r2.ipv4[0].block).toBe('10.0.0.64/26');
  });

  it('exhausts a pool all-or-nothing and leaks nothing on failure', async () => {
    const { be, ipam } = await setup({ p: { cidr: '10.1.0.0/28', blockSize: 30 } });
    const r = await ipam.autoAssign({ handleId: 'a', hostname: 'n1', num4: 14 });
    expect(new Set(r.ipv4.map((a) => a.ip)).size).toBe(14);
    expect(await code(ipam.autoAssign({ handleId: 'b', hostname: 'n1', num4: 3 }))).toBe('Exhausted');
    expect(await be.get(handleKey('b'))).toBeUndefined();
    const r2 = await ipam.autoAssign({ handleId: 'c', hostname: 'n1', num4: 2 });
    expect(r2.ipv4).toHaveLength(2);
    expect(await code(ipam.autoAssign({ handleId: 'd', hostname: 'n1', num4: 1 }))).toBe('Exhausted');
  });

  it('borrows from another host’s block, unless strictAffinity', async () => {
    const { ipam } = await setup({ p: { cidr: '10.2.0.0/29', blockSize: 30 } });
    await ipam.autoAssign({ handleId: 'a', hostname: 'n1', num4: 5 }); // claims both blocks
    const b = await ipam.autoAssign({ handleId: 'b', hostname: 'n2', num4: 1 });
    expect(b.ipv4[0].block).toBe('10.2.0.4/30'); // borrowed
    expect(await ipam.hostAffinities('n2', 4)).toHaveLength(0);
    await ipam.setConfig({ strictAffinity: true, autoAllocateBlocks: true, maxBlocksPerHost: 0 });
    expect(await code(ipam.autoAssign({ handleId: 'c', hostname: 'n2', num4: 1 }))).toBe('Exhausted');
    // The owner can still use its own block.
    expect((await ipam.autoAssign({ handleId: 'd', hostname: 'n1', num4: 1 })).ipv4).toHaveLength(1);
  });

  it('honours maxBlocksPerHost and autoAllocateBlocks', async () => {
    const { ipam } = await setup({ p: { cidr: '10.3.0.0/28', blockSize: 30 } });
    await ipam.setConfig({ strictAffinity: true, autoAllocateBlocks: true, maxBlocksPerHost: 1 });
    await ipam.autoAssign({ handleId: 'a', hostname: 'n1', num4: 4 });
    expect(await code(ipam.autoAssign({ handleId: 'b', hostname: 'n1', num4: 1 }))).toBe('Exhausted');
    expect(await ipam.hostAffinities('n1', 4)).toHaveLength(1);
    expect((await ipam.autoAssign({ handleId: 'c', hostname: 'n2', num4: 1 })).ipv4[0].block).toBe('10.3.0.4/30');
    await ipam.setConfig({ strictAffinity: false, autoAllocateBlocks: false, maxBlocksPerHost: 0 });
    expect(await code(ipam.autoAssign({ handleId: 'd', hostname: 'n3', num4: 1 }))).toBe('ok'); // borrows
    expect(await ipam.hostAffinities('n3', 4)).toHaveLength(0);
  });

  it('reads the IPAMConfig tortiectl applies (one object: Calico\'s /calico/ipam/v2/config on etcd)', async () => {
    const { be, ipam } = await setup({ p: { cidr: '10.4.0.0/28', blockSize: 30 } });
    await ipam.setConfig({ strictAffinity: false, autoAllocateBlocks: true, maxBlocksPerHost: 0 });
    await new ResourceClient(be).apply({ apiVersion: 'projectcalico.org/v3', kind: 'IPAMConfig', metadata: { name: 'default' }, spec: { strictAffinity: true, maxBlocksPerHost: 1 } });
    expect(await ipam.getConfig()).toEqual({ strictAffinity: true, autoAllocateBlocks: true, maxBlocksPerHost: 1 });
    await ipam.autoAssign({ handleId: 'a', hostname: 'n1', num4: 4 });
    expect(await code(ipam.autoAssign({ handleId: 'b', hostname: 'n1', num4: 1 }))).toBe('Exhausted');
  });

  it('assigns IPv6 from /122 blocks by default', async () => {
    const { ipam } = await setup({ v4: { cidr: '10.4.0.0/24' }, v6: { cidr: 'fd00:1::/64' } });
    const r = await ipam.autoAssign({ handleId: 'a', hostname: 'n1', num4: 1, num6: 2 });
    expect(r.ipv4[0].ip).toBe('10.4.0.0');
    expect(r.ipv6.map((a) => a.ip)).toEqual(['fd00:1::', 'fd00:1::1']);
    expect(r.ipv6[0].block).toBe('fd00:1::/122');
    expect((await ipam.hostAffinities('n1', 6)).map((a) => a.cidr)).toEqual(['fd00:1::/122']);
    expect(await ipam.releaseByHandle('a')).toHaveLength(3);
  });

  it('assigns requested IPs and refuses one in use or outside every pool', async () => {
    const { ipam } = await setup({ p: { cidr: '10.5.0.0/24' } });
    const a = await ipam.assignIp('10.5.0.77', 'h1', 'n1');
    expect(a.block).toBe('10.5.0.64/26');
    expect((await ipam.hostAffinities('n1', 4)).map((x) => x.cidr)).toEqual(['10.5.0.64/26']);
    expect(await code(ipam.assignIp('10.5.0.77', 'h2', 'n1'))).toBe('InUse');
    expect(await code(ipam.assignIp('10.9.0.1', 'h2', 'n1'))).toBe('NoPool');
    expect(await code(ipam.assignIp('bogus', 'h2', 'n1'))).toBe('Invalid');
    // The auto path skips the taken address.
    const r = await ipam.autoAssign({ handleId: 'h3', hostname: 'n1', num4: 80 });
    expect(r.ipv4.map((x) => x.ip)).not.toContain('10.5.0.77');
  });

  it("reads the node's labels only when some pool selects nodes", async () => {
    const { be, ipam } = await setup({ a: { cidr: '10.6.4.0/24' }, b: { cidr: '10.6.5.0/24', nodeSelector: ' all() ' } });
    const nodeReads: string[] = [];
    const get = be.get.bind(be);
    be.get = (key) => {
      if (key.kind === 'Node') nodeReads.push(key.name);
      return get(key);
    };
    await ipam.autoAssign({ handleId: 'x', hostname: 'n1', num4: 1 });
    expect(nodeReads).toEqual([]);
    await putPool(be, 'c', { cidr: '10.6.6.0/24', nodeSelector: "zone == 'east'" });
    await ipam.autoAssign({ handleId: 'y', hostname: 'n1', num4: 1 });
    expect(nodeReads).toEqual(['n1']);
  });

  it('selects pools by nodeSelector, allowedUses, disabled and by name', async () => {
    const { be, ipam } = await setup({
      a: { cidr: '10.6.0.0/24', nodeSelector: "zone == 'east'" },
      b: { cidr: '10.7.0.0/24', allowedUses: ['Tunnel'] },
      c: { cidr: '10.8.0.0/24', disabled: true },
      d: { cidr: '10.9.0.0/24' },
    });
    await putNode(be, 'east1', { zone: 'east' });
    const e = await ipam.autoAssign({ handleId: 'x', hostname: 'east1', num4: 1 });
    expect(e.ipv4[0].ip).toBe('10.6.0.0');
    const w = await ipam.autoAssign({ handleId: 'y', hostname: 'west1', num4: 1 });
    expect(w.ipv4[0].ip).toBe('10.9.0.0');
    const t = await ipam.autoAssign({ handleId: 'z', hostname: 'west2', num4: 1, use: 'Tunnel' });
    expect(t.ipv4[0].ip).toBe('10.7.0.0'); // first of the sorted candidates a(no), b, d
    const named = await ipam.autoAssign({ handleId: 'q', hostname: 'west1', num4: 1, ipv4Pools: ['10.6.0.0/24'] });
    expect(named.ipv4[0].ip).toMatch(/^10\.6\.0\./);
    expect(await code(ipam.autoAssign({ handleId: 'r', hostname: 'west1', num4: 1, ipv4Pools: ['c'] }))).toBe('NoPool');
    expect(await code(ipam.autoAssign({ handleId: 'r', hostname: 'west1', num4: 1, ipv4Pools: ['nope'] }))).toBe('NoPool');
  });

  it('rejects a release with a stale sequence number after the address was re-allocated', async () => {
    const { ipam } = await setup({ p: { cidr: '10.10.0.0/31', blockSize: 32 } });
    const first = (await ipam.autoAssign({ handleId: 'a', hostname: 'n1', num4: 1 })).ipv4[0];
    expect((await ipam.releaseIps([{ ip: first.ip, sequenceNumber: first.sequenceNumber }])).released).toEqual([first.ip]);
    const second = (await ipam.autoAssign({ handleId: 'b', hostname: 'n1', num4: 1 })).ipv4[0];
    expect(second.ip).toBe(first.ip);
    expect(second.sequenceNumber).not.toBe(first.sequenceNumber);
    const stale = await ipam.releaseIps([{ ip: first.ip, sequenceNumber: first.sequenceNumber }]);
    expect(stale).toEqual({ released: [], notAllocated: [], stale: [first.ip] });
    expect(await ipam.ipsByHandle('b')).toEqual([first.ip]);
  });

  it('keeps handle counts across blocks and releases by handle idempotently', async () => {
    const { be, ipam } = await setup({ p: { cidr: '10.11.0.0/28', blockSize: 30 } });
    await ipam.autoAssign({ handleId: 'big', hostname: 'n1', num4: 6 });
    const h = parseHandle('h', (await be.get(handleKey('big')))!.value.spec);
    expect(h.block).toEqual({ '10.11.0.0/30': 4, '10.11.0.4/30': 2 });
    const r = await ipam.releaseIps([{ ip: '10.11.0.5' }]);
    expect(r.released).toEqual(['10.11.0.5']);
    expect(parseHandle('h', (await be.get(handleKey('big')))!.value.spec).block['10.11.0.4/30']).toBe(1);
    expect((await ipam.releaseByHandle('big')).sort()).toHaveLength(5);
    expect(await be.get(handleKey('big'))).toBeUndefined();
    expect(await ipam.releaseByHandle('big')).toEqual([]);
  });

  it('newHandle: creates the handle unread; one that exists already stops the call with HandleExists and nothing written', async () => {
    const { be, ipam } = await setup({ p: { cidr: '10.11.8.0/28', blockSize: 30 } });
    const first = await ipam.autoAssign({ handleId: 'pod', hostname: 'n1', num4: 1, newHandle: true });
    const blocksBefore = JSON.stringify((await be.list('IPAMBlock')).items.map((o) => o.value.spec));
    expect(await code(new IpamClient(be, fast).autoAssign({ handleId: 'pod', hostname: 'n1', num4: 1, newHandle: true }))).toBe('HandleExists');
    expect(JSON.stringify((await be.list('IPAMBlock')).items.map((o) => o.value.spec))).toBe(blocksBefore);
    expect(await ipam.ipsByHandle('pod')).toEqual([first.ipv4[0].ip]);
  });

  it('newHandle: an unused guess is dropped, so a later call on the handle reads it', async () => {
    const { be, ipam } = await setup({ p: { cidr: '10.11.9.0/30', blockSize: 30, allowedUses: ['Tunnel'] } });
    expect(await code(ipam.autoAssign({ handleId: 'x', hostname: 'n1', num4: 1, newHandle: true }))).toBe('NoPool');
    await new IpamClient(be, fast).autoAssign({ handleId: 'x', hostname: 'n1', num4: 1, use: 'Tunnel' });
    // Had the guess stayed, this would try to create the handle another client made meanwhile.
    await ipam.autoAssign({ handleId: 'x', hostname: 'n1', num4: 1, use: 'Tunnel' });
    expect(await ipam.ipsByHandle('x')).toHaveLength(2);
  });

  it('releases an empty block with its affinity, so it can be claimed again', async () => {
    const { be, ipam } = await setup({ p: { cidr: '10.12.0.0/29', blockSize: 30 } });
    const a = await ipam.autoAssign({ handleId: 'a', hostname: 'n1', num4: 1 });
    expect(await ipam.releaseAffinity('n1', a.ipv4[0].block)).toBe(false); // not empty
    expect((await ipam.hostAffinities('n1', 4))[0].state).toBe('confirmed');
    await ipam.releaseByHandle('a');
    expect(await ipam.releaseAffinity('n1', a.ipv4[0].block)).toBe(true);
    expect((await be.list('IPAMBlock')).items).toHaveLength(0);
    const b = await ipam.autoAssign({ handleId: 'b', hostname: 'n2', num4: 1 });
    expect(b.ipv4[0].block).toBe('10.12.0.0/30');
  });

  it('gives distinct addresses to concurrent allocators on shared hosts', async () => {
    const { be, ipam } = await setup({ p: { cidr: '10.13.0.0/22', blockSize: 28 } });
    const jobs = Array.from({ length: 60 }, (_, i) => new IpamClient(be, { retry: { attempts: 500, backoffMs: 1 } }).autoAssign({ handleId: `h${i}`, hostname: `n${i % 4}`, num4: 2 }));
    const res = await Promise.all(jobs);
    const ips = res.flatMap((r) => r.ipv4.map((a) => a.ip));
    expect(new Set(ips).size).toBe(120);
    void ipam;
  });

  it('property: random assign/release sequences never duplicate and never leak', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(
          fc.oneof(
            fc.record({ op: fc.constant('alloc' as const), host: fc.integer({ min: 0, max: 2 }), n: fc.integer({ min: 1, max: 5 }) }),
            fc.record({ op: fc.constant('freeHandle' as const), pick: fc.nat() }),
            fc.record({ op: fc.constant('freeIp' as const), pick: fc.nat() }),
            fc.record({ op: fc.constant('dropAffinity' as const), host: fc.integer({ min: 0, max: 2 }) }),
          ),
          { maxLength: 40 },
        ),
        async (ops) => {
          const { be, ipam } = await setup({ p: { cidr: '10.20.0.0/27', blockSize: 29 } });
          const model = new Map<string, Set<string>>(); // handle → ips
          let next = 0;
          for (const o of ops) {
            if (o.op === 'alloc') {
              const id = `h${next++}`;
              try {
                const r = await ipam.autoAssign({ handleId: id, hostname: `n${o.host}`, num4: o.n });
                model.set(id, new Set(r.ipv4.map((a) => a.ip)));
              } catch (e) {
                if (!(e instanceof IpamError && e.code === 'Exhausted')) throw e;
              }
            } else if (o.op === 'freeHandle' && model.size > 0) {
              const id = [...model.keys()][o.pick % model.size];
              expect(new Set(await ipam.releaseByHandle(id))).toEqual(model.get(id));
              model.delete(id);
            } else if (o.op === 'freeIp' && model.size > 0) {
              const id = [...model.keys()][o.pick % model.size];
              const ip = [...model.get(id)!][0];
              expect((await ipam.releaseIps([{ ip }])).released).toEqual([ip]);
              model.get(id)!.delete(ip);
              if (model.get(id)!.size === 0) model.delete(id);
            } else if (o.op === 'dropAffinity') {
              for (const a of await ipam.hostAffinities(`n${o.host}`, 4)) await ipam.releaseAffinity(`n${o.host}`, a.cidr);
            }
          }
          // Stored state equals the model: every allocation belongs to a live handle, counts match.
          const stored = new Map<string, number>();
          let total = 0;
          for (const o of (await be.list('IPAMBlock')).items) {
            const b = parseBlock('b', o.value.spec);
            total += inUseCount(b);
            expect(new Set(b.unallocated).size + inUseCount(b)).toBe(b.allocations.length);
            b.allocations.forEach((idx) => {
              if (idx !== null) {
                const h = b.attributes[idx].handle_id!;
                stored.set(h, (stored.get(h) ?? 0) + 1);
              }
            });
          }
          const expected = [...model.values()].reduce((n, s) => n + s.size, 0);
          expect(total).toBe(expected);
          const all = [...model.values()].flatMap((s) => [...s]);
          expect(new Set(all).size).toBe(all.length);
          for (const [h, ips] of model) {
            expect(stored.get(h)).toBe(ips.size);
            const hv = parseHandle('h', (await be.get(handleKey(h)))!.value.spec);
            expect(Object.values(hv.block).reduce((a, b) => a + b, 0)).toBe(ips.size);
          }
        },
      ),
      { numRuns: 60 },
    );
  });
});
