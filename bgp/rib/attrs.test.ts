import { describe, expect, it } from 'vitest';
import type { PathAttributes } from '../types.js';
import { attrKey } from './attrs.js';

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
