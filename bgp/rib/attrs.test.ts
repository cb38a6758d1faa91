import { describe, expect, it } from 'vitest';
import type { PathAttributes } from '../types.js';
import { AttrInterner, attrKey, WeakTable } from './attrs.js';

const withUnknown = (value: Buffer, med = 1): PathAttributes => ({ origin: 0, asPath: [], med, unknown: [{ flags: 0xc0, type: 99, value }] });

describe('attrKey', () => {
  it('equal unknown attribute bytes in different Buffers give equal keys', () => {
    const big = Buffer.alloc(3800, 7);
    expect(attrKey(withUnknown(big), '10.0.0.1')).toBe(attrKey(withUnknown(Buffer.from(big)), '10.0.0.1'));
  });

  it('unknown attribute values differing in one byte, or in length, give different keys', () => {
    const a = Buffer.alloc(3800, 7);
    const b = Buffer.from(a);
    b[3799] = 8;
    const keys = new Set([a, b, a.subarray(0, 3799), Buffer.alloc(0)].map((v) => attrKey(withUnknown(v), '')));
    expect(keys.size).toBe(4);
  });

  it('keys stay exact for every other field', () => {
    const v = Buffer.from([1, 2, 3]);
    expect(attrKey(withUnknown(v, 1), '')).not.toBe(attrKey(withUnknown(v, 2), ''));
    expect(attrKey(withUnknown(v), '10.0.0.1')).not.toBe(attrKey(withUnknown(v), '10.0.0.2'));
    expect(attrKey({ origin: 0, asPath: [] }, '')).not.toBe(attrKey(withUnknown(Buffer.alloc(0)), ''));
  });
});

const attrs = (med: number): PathAttributes => ({ origin: 0, asPath: [{ type: 2, asns: [65001] }], nextHop: '10.0.0.1', med, communities: [1, 2] });

describe('AttrInterner', () => {
  it('returns one shared object for structurally equal attributes from different UPDATEs', () => {
    const t = new AttrInterner();
    const a = t.intern(attrs(5));
    const b = t.intern(attrs(5));
    expect(b).toBe(a);
    expect(t.intern(attrs(6))).not.toBe(a);
    expect(t.size).toBe(2);
  });

  it('any difference (next hop, communities order, unknown attribute bytes) is a different set', () => {
    const t = new AttrInterner();
    const base = t.intern(attrs(1));
    expect(t.intern({ ...attrs(1), nextHop: '10.0.0.2' })).not.toBe(base);
    expect(t.intern({ ...attrs(1), communities: [2, 1] })).not.toBe(base);
    const u1 = t.intern({ ...attrs(1), unknown: [{ flags: 0xc0, type: 99, value: Buffer.from([1]) }] });
    const u2 = t.intern({ ...attrs(1), unknown: [{ flags: 0xc0, type: 99, value: Buffer.from([2]) }] });
    expect(u1).not.toBe(u2);
    expect(t.intern({ ...attrs(1), unknown: [{ flags: 0xc0, type: 99, value: Buffer.from([1]) }] })).toBe(u1);
  });

  it('the same input object again is answered without rehashing, and gives the same result', () => {
    const t = new AttrInterner();
    const first = t.intern(attrs(3));
    const again = attrs(3);
    expect(t.intern(again)).toBe(first);
    expect(t.intern(again)).toBe(first);
  });
});

describe('AttrInterner ids and WeakTable', () => {
  it('gives each shared attribute object one stable id, distinct per set', () => {
    const t = new AttrInterner();
    const a = t.intern(attrs(1));
    expect(t.id(a)).toBeGreaterThan(0);
    expect(t.id(t.intern(attrs(1)))).toBe(t.id(a));
    expect(t.id(t.intern(attrs(2)))).not.toBe(t.id(a));
    expect(t.id(attrs(1))).toBe(0); // never returned by intern
  });

  it('shares one object per key while it is alive and builds it only once', () => {
    const w = new WeakTable<{ n: number }>();
    let built = 0;
    const make = (): { n: number } => ({ n: ++built });
    const x = w.get('k', make);
    expect(w.get('k', make)).toBe(x);
    expect(w.get('other', make)).not.toBe(x);
    expect(built).toBe(2);
    expect(w.size).toBe(2);
  });
});
