import { describe, expect, it } from 'vitest';
import { decodeMessage, endOfRib, encodeMessage, isEndOfRib, packUpdates, type CodecContext, type NlriPrefix, type UpdateMessage } from './index.js';
import type { PathAttributes } from '../types.js';

const ctx: CodecContext = { fourOctetAs: true };
const attrs: PathAttributes = { origin: 0, asPath: [{ type: 2, asns: [64512] }], nextHop: '10.0.0.1', localPref: 100, communities: [1, 2, 3] };
const v4 = (n: number): NlriPrefix[] => Array.from({ length: n }, (_, i) => ({ family: 4, address: `10.${(i >> 8) & 255}.${i & 255}.${(i >> 16) * 64}`, length: 26 }));
const v6 = (n: number): NlriPrefix[] => Array.from({ length: n }, (_, i) => ({ family: 6, address: `fd00:${(i + 1).toString(16)}::`, length: 64 }));

function decodeAll(frames: Buffer[], c = ctx): UpdateMessage[] {
  return frames.map((f) => {
    const r = decodeMessage(f, c);
    if (!r.ok || r.message.type !== 'UPDATE') throw new Error('bad frame');
    return r.message;
  });
}

describe('packUpdates', () => {
  it('fills each UPDATE up to 4096 octets and loses no prefix', () => {
    const ps = v4(5000);
    const frames = packUpdates([{ attributes: attrs, prefixes: ps }], [], ctx);
    for (const f of frames) expect(f.length).toBeLessThanOrEqual(4096);
    // Every frame but the last is full to within one prefix.
    for (const f of frames.slice(0, -1)) expect(f.length).toBeGreaterThan(4096 - 5);
    const msgs = decodeAll(frames);
    expect(msgs.flatMap((m) => m.nlri)).toEqual(ps);
    for (const m of msgs) expect(m.attributes).toEqual(attrs);
  });

  it('IPv6 goes in MP_REACH_NLRI (first attribute) with global + link-local next hops', () => {
    const ps = v6(1000);
    const frames = packUpdates([{ attributes: { ...attrs, nextHop: undefined }, prefixes: ps, nextHops: ['fd00::1', 'fe80::1'] }], [], ctx);
    for (const f of frames) {
      expect(f.length).toBeLessThanOrEqual(4096);
      expect(f[23] & 0x80).toBe(0x80);
      expect(f[24]).toBe(14);
    }
    const msgs = decodeAll(frames);
    expect(msgs.flatMap((m) => m.mpReach!.nlri)).toEqual(ps);
    expect(msgs[0].mpReach!.nextHops).toEqual(['fd00::1', 'fe80::1']);
  });

  it('withdrawals: IPv4 in the withdrawn field, IPv6 in MP_UNREACH_NLRI', () => {
    const w = [...v4(1500), ...v6(800)];
    const frames = packUpdates([], w, ctx);
    const msgs = decodeAll(frames);
    expect([...msgs.flatMap((m) => m.withdrawn), ...msgs.flatMap((m) => m.mpUnreach?.withdrawn ?? [])]).toEqual(w);
    for (const f of frames) expect(f.length).toBeLessThanOrEqual(4096);
  });

  it('ADD-PATH path ids count towards the size and survive', () => {
    const c: CodecContext = { fourOctetAs: true, addPath: [{ afi: 1, safi: 1, send: true, receive: true }] };
    const ps = v4(3000).map((p, i) => ({ ...p, pathId: i }));
    const frames = packUpdates([{ attributes: attrs, prefixes: ps }], [], c);
    for (const f of frames) expect(f.length).toBeLessThanOrEqual(4096);
    expect(decodeAll(frames, c).flatMap((m) => m.nlri)).toEqual(ps);
  });

  it('IPv4 routes with an IPv6 next hop (RFC 8950) go in MP_REACH_NLRI AFI 1', () => {
    const c: CodecContext = { fourOctetAs: true, extendedNextHop: true };
    const ps = v4(50);
    const frames = packUpdates([{ attributes: { ...attrs, nextHop: undefined }, prefixes: ps, nextHops: ['fd00::1', 'fe80::1'] }], [], c);
    const [m] = decodeAll(frames, c);
    expect(m.mpReach).toEqual({ afi: 1, safi: 1, nextHops: ['fd00::1', 'fe80::1'], nlri: ps });
    expect(m.nlri).toEqual([]);
    // Without the capability the same bytes are an MP_REACH error: session reset.
    const r = decodeMessage(frames[0], ctx);
    expect(!r.ok && [r.notification.code, r.notification.subcode]).toEqual([3, 9]);
  });

  it('respects a smaller maxSize and rejects attributes that leave no room', () => {
    const frames = packUpdates([{ attributes: attrs, prefixes: v4(100) }], [], ctx, 200);
    for (const f of frames) expect(f.length).toBeLessThanOrEqual(200);
    expect(() => packUpdates([{ attributes: { ...attrs, communities: Array.from({ length: 1100 }, (_, i) => i) }, prefixes: v4(1) }], [], ctx)).toThrow(/no room/);
  });
});

describe('End-of-RIB', () => {
  it('IPv4: the empty UPDATE; IPv6: an empty MP_UNREACH_NLRI', () => {
    const e4 = encodeMessage(endOfRib(1, 1), ctx);
    expect(e4.toString('hex')).toBe('ffffffffffffffffffffffffffffffff001702' + '00000000');
    const e6 = encodeMessage(endOfRib(2, 1), ctx);
    expect(e6.subarray(19).toString('hex')).toBe('0000' + '0006' + '800f03000201');
    for (const [b, fam] of [[e4, { afi: 1, safi: 1 }], [e6, { afi: 2, safi: 1 }]] as const) {
      const r = decodeMessage(b, ctx);
      expect(r.ok && r.message.type === 'UPDATE' && isEndOfRib(r.message)).toEqual(fam);
    }
    expect(isEndOfRib({ type: 'UPDATE', withdrawn: [], nlri: [{ family: 4, address: '10.0.0.0', length: 8 }] })).toBeUndefined();
  });
});
