// IPReservation and IPPool assignmentMode as the allocator honours them: the pure parts (which
// ordinals and blocks are reserved) and the allocator over the in-memory store.
import { describe, expect, it } from 'vitest';
import { createMemoryStore } from '../datastore/backends/index.js';
import { IpamClient } from './allocator.js';
import { firstFreeBlock } from './claim.js';
import { assignFromBlock, newBlock } from './block.js';
import { parseCidr, parseIp } from './cidr.js';
import { IpamError } from './errors.js';
import { reservationsFrom } from './reservations.js';
import { putPool, putReservation } from './testing.js';
import type { Pool } from './pools.js';

const fast = { retry: { attempts: 200, backoffMs: 0 } };
const attr = { handle_id: 'h', secondary: null };

function pool(cidr: string, blockSize: number): Pool {
  return { name: 'p', cidr: parseCidr(cidr), blockSize, disabled: false, nodeSelector: 'all()', allowedUses: ['Workload'], assignmentMode: 'Automatic' };
}

describe('reservations (pure)', () => {
  const r = reservationsFrom([{ reservedCIDRs: ['10.0.0.3', '10.0.0.8/30', 'fd00::/126'] }, { reservedCIDRs: ['10.0.1.0/24'] }, {}]);

  it('a bare IP reserves one address, a CIDR its whole range, clipped to the block', () => {
    expect([...r.reservedOrdinals(newBlock(parseCidr('10.0.0.0/26'), null))].sort((a, b) => a - b)).toEqual([3, 8, 9, 10, 11]);
    expect(r.reservedOrdinals(newBlock(parseCidr('10.0.0.64/26'), null)).size).toBe(0);
    expect(r.reservedOrdinals(newBlock(parseCidr('10.0.1.64/26'), null)).size).toBe(64);
  });

  it('IPv4 ranges never reserve IPv6 ordinals, and the other way round', () => {
    expect([...r.reservedOrdinals(newBlock(parseCidr('fd00::/122'), null))]).toEqual([0, 1, 2, 3]);
    expect(reservationsFrom([{ reservedCIDRs: ['::/0'] }]).reservedOrdinals(newBlock(parseCidr('10.0.0.0/26'), null)).size).toBe(0);
  });

  it('a block is wholly reserved only when one range covers all of it', () => {
    expect(r.coversBlock(parseCidr('10.0.1.128/26'))).toBe(true);
    expect(r.coversBlock(parseCidr('10.0.0.0/26'))).toBe(false);
    expect(r.coversBlock(parseCidr('10.0.0.8/30'))).toBe(true);
    expect(r.coversBlock(parseCidr('10.0.0.0/23'))).toBe(false); // larger than the reserved /24
  });

  it('malformed entries are skipped rather than crashing the allocator', () => {
    expect(reservationsFrom([{ reservedCIDRs: ['bogus', '10.0.0.1'] }]).reservedOrdinals(newBlock(parseCidr('10.0.0.0/30'), null))).toEqual(new Set([1]));
  });

  it('assignFromBlock takes free ordinals in order, passing over the skipped ones', () => {
    const b = newBlock(parseCidr('10.0.0.0/29'), null);
    const out = assignFromBlock(b, 4, attr, new Set([0, 2, 3]));
    expect(out.assigned.map((a) => a.ordinal)).toEqual([1, 4, 5, 6]);
    expect(out.block.unallocated).toEqual([0, 2, 3, 7]);
    expect(assignFromBlock(out.block, 3, attr, new Set([0, 2, 3, 7])).assigned).toEqual([]);
  });

  it('firstFreeBlock passes over wholly reserved blocks, however many there are', () => {
    const res = reservationsFrom([{ reservedCIDRs: ['10.0.0.0/25'] }]);
    const c = firstFreeBlock(pool('10.0.0.0/24', 28), new Set(['10.0.0.128/28']), 0n, (b) => res.coversBlock(b));
    expect(c && `${c.base}/${c.prefix}`).toBe(`${parseIp('10.0.0.144').value}/28`);
    const all = reservationsFrom([{ reservedCIDRs: ['10.0.0.0/24'] }]);
    expect(firstFreeBlock(pool('10.0.0.0/24', 28), new Set(), 0n, (b) => all.coversBlock(b))).toBeUndefined();
  });
});

describe('IPAM allocator with IPReservations', () => {
  it('1,000 allocations across four hosts never hand out a reserved address; the rest of the pool is used', async () => {
    const be = createMemoryStore();
    await putPool(be, 'p', { cidr: '10.20.0.0/20', blockSize: 26 });
    const singles = ['10.20.0.0', '10.20.0.1', '10.20.0.63', '10.20.0.64', '10.20.2.200', '10.20.3.17'];
    await putReservation(be, 'gateways', singles);
    await putReservation(be, 'legacy', ['10.20.1.0/26', '10.20.0.128/28', '10.20.2.0/25']);
    const ipam = new IpamClient(be, fast);
    const reserved = (ip: string): boolean => {
      const v = parseIp(ip).value;
      const inRange = (cidr: string): boolean => {
        const c = parseCidr(cidr);
        return v >= c.base && v < c.base + (1n << BigInt(32 - c.prefix));
      };
      return singles.includes(ip) || ['10.20.1.0/26', '10.20.0.128/28', '10.20.2.0/25'].some(inRange);
    };
    const held = new Map<string, string>(); // handle → address
    for (let i = 0; i < 1000; i++) {
      const ip = (await ipam.autoAssign({ handleId: `h${i}`, hostname: `n${i % 4}`, num4: 1 })).ipv4[0].ip;
      expect(reserved(ip), ip).toBe(false);
      expect([...held.values()], ip).not.toContain(ip);
      held.set(`h${i}`, ip);
      // Every tenth pod goes away again, so freed addresses are handed out again too.
      if (i % 10 === 9) {
        expect(await ipam.releaseByHandle(`h${i - 5}`)).toEqual([held.get(`h${i - 5}`)]);
        held.delete(`h${i - 5}`);
      }
    }
    expect(held.size).toBe(900);
    // The wholly reserved block 10.20.1.0/26 was never claimed.
    expect(await ipam.getBlock('10.20.1.0/26')).toBeUndefined();
  });

  it('the pool runs out when only reserved addresses are left (all-or-nothing), and ipAddrs may still name a reserved one', async () => {
    const be = createMemoryStore();
    await putPool(be, 'p', { cidr: '10.21.0.0/28', blockSize: 29 });
    await putReservation(be, 'r', ['10.21.0.0/29', '10.21.0.8', '10.21.0.9']);
    const ipam = new IpamClient(be, fast);
    const r = await ipam.autoAssign({ handleId: 'a', hostname: 'n1', num4: 6 });
    expect(r.ipv4.map((a) => a.ip)).toEqual(['10.21.0.10', '10.21.0.11', '10.21.0.12', '10.21.0.13', '10.21.0.14', '10.21.0.15']);
    await expect(ipam.autoAssign({ handleId: 'b', hostname: 'n2', num4: 1 })).rejects.toThrow(IpamError);
    // Calico: a reservation binds automatic assignment only.
    expect((await ipam.assignIp('10.21.0.8', 'c', 'n1')).ip).toBe('10.21.0.8');
  });

  it('IPv6 reservations are honoured the same way', async () => {
    const be = createMemoryStore();
    await putPool(be, 'v6', { cidr: 'fd00:20::/120' });
    await putReservation(be, 'r', ['fd00:20::/126', 'fd00:20::5']);
    const ipam = new IpamClient(be, fast);
    const r = await ipam.autoAssign({ handleId: 'a', hostname: 'n1', num6: 3 });
    expect(r.ipv6.map((a) => a.ip)).toEqual(['fd00:20::4', 'fd00:20::6', 'fd00:20::7']);
  });
});

describe('IPPool assignmentMode', () => {
  it('a Manual pool is never chosen automatically, only when asked for by name or CIDR', async () => {
    const be = createMemoryStore();
    await putPool(be, 'a-manual', { cidr: '10.30.0.0/24', assignmentMode: 'Manual' });
    await putPool(be, 'b-auto', { cidr: '10.31.0.0/24' });
    const ipam = new IpamClient(be, fast);
    expect((await ipam.autoAssign({ handleId: 'x', hostname: 'n1', num4: 1 })).ipv4[0].ip).toBe('10.31.0.0');
    expect((await ipam.autoAssign({ handleId: 'y', hostname: 'n1', num4: 1, ipv4Pools: ['a-manual'] })).ipv4[0].ip).toBe('10.30.0.0');
    expect((await ipam.autoAssign({ handleId: 'z', hostname: 'n1', num4: 1, ipv4Pools: ['10.30.0.0/24'] })).ipv4[0].ip).toBe('10.30.0.1');
  });

  it('with only Manual pools, an unannotated pod gets no address and the error says why', async () => {
    const be = createMemoryStore();
    await putPool(be, 'm', { cidr: '10.32.0.0/24', assignmentMode: 'Manual' });
    const ipam = new IpamClient(be, fast);
    await expect(ipam.autoAssign({ handleId: 'x', hostname: 'n1', num4: 1 })).rejects.toThrow(/no enabled IPv4 pool with assignmentMode Automatic/);
  });
});
