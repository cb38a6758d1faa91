import { describe, expect, it } from 'vitest';
import { allPoolsSet, ipsetHolds, ipsetScript, masqPoolsSet, natScript } from './nat.js';

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

describe('nat for IPv6 pools: Calico\'s cali60 sets in ip6tables', () => {
  it('the IPv6 sets are family inet6 and hold only the IPv6 pools', () => {
    const script = ipsetScript(masqPoolsSet(6), ['10.65.0.0/16', 'fd65::/48'], 6);
    expect(script).toContain('create cali60masq-ipam-pools hash:net family inet6 -exist');
    expect(script).toContain('add cali60masq-ipam-pool-tmp fd65::/48');
    expect(script).not.toContain('10.65.0.0/16');
  });
  it('the masquerade rule matches the family\'s sets', () => {
    expect(natScript(6)).toContain('-m set --match-set cali60masq-ipam-pools src -m set ! --match-set cali60all-ipam-pools dst -j MASQUERADE');
    expect(natScript()).toContain('--match-set cali40masq-ipam-pools src');
  });
  it('an IPv6 set holding exactly the IPv6 pools needs no rewrite', () => {
    const saved6 = 'create cali60all-ipam-pools hash:net family inet6 hashsize 1024 maxelem 65536\nadd cali60all-ipam-pools fd65::/48\n';
    expect(ipsetHolds(saved6, allPoolsSet(6), ['10.65.0.0/16', 'fd65::/48'], 6)).toBe(true);
    expect(ipsetHolds(saved6, allPoolsSet(6), ['fd66::/48'], 6)).toBe(false);
  });
});
