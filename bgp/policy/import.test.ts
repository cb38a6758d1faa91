import { describe, expect, it } from 'vitest';
import type { UpdateMessage } from '../codec/types.js';
import type { Prefix } from '../types.js';
import { importFilter } from './import.js';

const p = (s: string): Prefix => {
  const [address, length] = s.split('/');
  return { family: address.includes(':') ? 6 : 4, address, length: Number(length) };
};

const filter = importFilter([
  {
    name: 'f',
    spec: {
      importV4: [{ action: 'Reject', matchOperator: 'In', cidr: '198.51.100.0/24' }],
      importV6: [{ action: 'Reject', matchOperator: 'Equal', cidr: '2001:db8:19::/64' }],
    },
  },
]);

describe('import filter on an UPDATE', () => {
  it('moves rejected announcements to the withdrawals, per family, and keeps the rest', () => {
    const u: UpdateMessage = {
      type: 'UPDATE',
      withdrawn: [p('192.0.2.0/24')],
      attributes: { origin: 0, asPath: [], nextHop: '10.0.0.1' },
      nlri: [p('198.51.100.0/25'), p('203.0.113.0/24')],
      mpReach: { afi: 2, safi: 1, nextHops: ['fd00::1'], nlri: [p('2001:db8:18::/48'), p('2001:db8:19::/64')] },
    };
    const out = filter?.(u);
    expect(out?.nlri).toEqual([p('203.0.113.0/24')]);
    expect(out?.withdrawn).toEqual([p('192.0.2.0/24'), p('198.51.100.0/25')]);
    expect(out?.mpReach?.nlri).toEqual([p('2001:db8:18::/48')]);
    expect(out?.mpUnreach).toEqual({ afi: 2, safi: 1, withdrawn: [p('2001:db8:19::/64')] });
  });

  it('passes an UPDATE with nothing rejected through as the same object; no import rules: no filter', () => {
    const u: UpdateMessage = { type: 'UPDATE', withdrawn: [], attributes: { origin: 0, asPath: [], nextHop: '10.0.0.1' }, nlri: [p('203.0.113.0/24')] };
    expect(filter?.(u)).toBe(u);
    expect(importFilter([{ name: 'x', spec: { exportV4: [{ action: 'Reject' }] } }])).toBeUndefined();
    expect(importFilter(undefined)).toBeUndefined();
  });
});
