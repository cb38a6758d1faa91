import { describe, expect, it } from 'vitest';
import type { PathAttributes } from '../types.js';
import { AttrInterner, WeakTable } from './intern.js';

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
