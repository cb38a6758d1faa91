import fc from 'fast-check';
import ipaddr from 'ipaddr.js';
import { describe, expect, it } from 'vitest';
import { formatIpv6, ipv4Bytes } from './address.js';

// Addresses with many zero groups, so every compression case (ties, ends, all-zero) shows up.
const sparse16 = fc.array(fc.oneof(fc.constant(0), fc.constant(0), fc.integer({ min: 0, max: 0xffff })), { minLength: 8, maxLength: 8 }).map((gs) => {
  const b = new Uint8Array(16);
  gs.forEach((v, i) => {
    b[2 * i] = v >> 8;
    b[2 * i + 1] = v & 0xff;
  });
  return b;
});

describe('address printing and parsing', () => {
  it('formatIpv6 prints exactly what ipaddr.js prints (RFC 5952)', () => {
    fc.assert(
      fc.property(fc.oneof(sparse16, fc.uint8Array({ minLength: 16, maxLength: 16 })), (b) => {
        expect(formatIpv6(b, 0)).toBe(ipaddr.fromByteArray(Array.from(b)).toString());
      }),
      { numRuns: 5000 },
    );
  });

  it('ipv4Bytes accepts dotted quads and names the field otherwise', () => {
    expect([...ipv4Bytes('10.255.0.1', 'x')]).toEqual([10, 255, 0, 1]);
    for (const bad of ['10.0.0', '10.0.0.256', '10.0.0.1.2', '1000.0.0.1', 'a.b.c.d', '', '10..0.1', ' 10.0.0.1', '10.0.0.1 ', 'fd00::1']) {
      expect(() => ipv4Bytes(bad, 'nextHop')).toThrow(/nextHop: ".*" is not an IPv4 address/);
    }
  });
});
