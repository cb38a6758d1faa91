import { describe, expect, it } from 'vitest';
import { ipsetHolds } from './nat.js';

const saved = 'create cali40all-ipam-pools hash:net family inet hashsize 1024 maxelem 65536 bucketsize 12 initval 0xa3341822\nadd cali40all-ipam-pools 10.65.0.0/16\n';

describe('nat ipsets: rewritten only when their members change', () => {
  it('a set holding exactly the wanted IPv4 pools needs no rewrite (IPv6 pools are not in it)', () => {
    expect(ipsetHolds(saved, 'cali40all-ipam-pools', ['10.65.0.0/16', 'fd00::/48'])).toBe(true);
  });
  it('a missing set, a missing pool or an extra member means a rewrite', () => {
    expect(ipsetHolds('', 'cali40all-ipam-pools', [])).toBe(false);
    expect(ipsetHolds(saved, 'cali40all-ipam-pools', ['10.65.0.0/16', '10.66.0.0/16'])).toBe(false);
    expect(ipsetHolds(saved, 'cali40all-ipam-pools', [])).toBe(false);
  });
});
