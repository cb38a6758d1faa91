import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { addressBytes, evaluateFilters, ruleMatches, type BgpFilterRule, type FilterRoute, type NamedBgpFilter } from './filter.js';

const route = (cidr: string, o: Partial<FilterRoute> = {}): FilterRoute => {
  const [a, l] = cidr.split('/');
  const bytes = addressBytes(a) as Uint8Array;
  return { family: bytes.length === 4 ? 4 : 6, bytes, length: Number(l), fromPeer: true, ...o };
};
const rule = (r: Partial<BgpFilterRule>): BgpFilterRule => ({ action: 'Reject', ...r });

describe('BGPFilter rules', () => {
  it('matchOperator: Equal is the same prefix, In is inside it (or equal), NotEqual and NotIn their negations', () => {
    const c = '10.1.0.0/16';
    expect(ruleMatches(rule({ cidr: c, matchOperator: 'Equal' }), route('10.1.0.0/16'))).toBe(true);
    expect(ruleMatches(rule({ cidr: c, matchOperator: 'Equal' }), route('10.1.2.0/24'))).toBe(false);
    expect(ruleMatches(rule({ cidr: c, matchOperator: 'In' }), route('10.1.2.0/24'))).toBe(true);
    expect(ruleMatches(rule({ cidr: c, matchOperator: 'In' }), route('10.1.0.0/16'))).toBe(true);
    expect(ruleMatches(rule({ cidr: c, matchOperator: 'In' }), route('10.0.0.0/8'))).toBe(false);
    expect(ruleMatches(rule({ cidr: c, matchOperator: 'NotIn' }), route('10.2.0.0/24'))).toBe(true);
    expect(ruleMatches(rule({ cidr: c, matchOperator: 'NotEqual' }), route('10.1.2.0/24'))).toBe(true);
  });

  it('prefixLength bounds the route length inside the CIDR, and alone', () => {
    const r = rule({ cidr: '10.1.0.0/16', matchOperator: 'In', prefixLength: { min: 24, max: 26 } });
    expect(ruleMatches(r, route('10.1.2.0/24'))).toBe(true);
    expect(ruleMatches(r, route('10.1.2.0/28'))).toBe(false);
    expect(ruleMatches(r, route('10.1.0.0/16'))).toBe(false);
    expect(ruleMatches(rule({ prefixLength: { max: 24 } }), route('192.0.2.0/24'))).toBe(true);
    expect(ruleMatches(rule({ prefixLength: { max: 24 } }), route('192.0.2.0/25'))).toBe(false);
  });

  it('source RemotePeers matches learned routes only; interface matches a glob of the outgoing interface', () => {
    expect(ruleMatches(rule({ source: 'RemotePeers' }), route('10.0.0.0/24', { fromPeer: false }))).toBe(false);
    expect(ruleMatches(rule({ source: 'RemotePeers' }), route('10.0.0.0/24'))).toBe(true);
    expect(ruleMatches(rule({ interface: 'cali*' }), route('10.0.0.0/24', { interface: 'cali12ab' }))).toBe(true);
    expect(ruleMatches(rule({ interface: 'cali*' }), route('10.0.0.0/24', { interface: 'eth0' }))).toBe(false);
    expect(ruleMatches(rule({ interface: 'cali*' }), route('10.0.0.0/24'))).toBe(false);
  });

  it('a v4 CIDR never matches a v6 route', () => {
    expect(ruleMatches(rule({ cidr: '0.0.0.0/0', matchOperator: 'In' }), route('fd00::/64'))).toBe(false);
    expect(ruleMatches(rule({ cidr: 'fd00::/48', matchOperator: 'In' }), route('fd00::/64'))).toBe(true);
  });

  it('first matching rule wins, filters in the order listed, per direction and family; none: default', () => {
    const f1: NamedBgpFilter = { name: 'f1', spec: { importV4: [rule({ action: 'Accept', cidr: '10.1.1.0/24', matchOperator: 'Equal' }), rule({ cidr: '10.1.0.0/16', matchOperator: 'In' })] } };
    const f2: NamedBgpFilter = { name: 'f2', spec: { importV4: [rule({ action: 'Accept', cidr: '10.0.0.0/8', matchOperator: 'In' })], exportV4: [rule({ cidr: '0.0.0.0/0' })] } };
    expect(evaluateFilters([f1, f2], 'import', route('10.1.1.0/24'))).toEqual({ action: 'Accept', filter: 'f1', rule: 0 });
    expect(evaluateFilters([f1, f2], 'import', route('10.1.2.0/24'))).toEqual({ action: 'Reject', filter: 'f1', rule: 1 });
    expect(evaluateFilters([f1, f2], 'import', route('10.2.0.0/24'))).toEqual({ action: 'Accept', filter: 'f2', rule: 0 });
    expect(evaluateFilters([f2, f1], 'import', route('10.1.2.0/24'))?.filter).toBe('f2');
    expect(evaluateFilters([f1, f2], 'import', route('192.0.2.0/24'))).toBeUndefined();
    expect(evaluateFilters([f1, f2], 'import', route('fd00::/64'))).toBeUndefined();
    expect(evaluateFilters([f1, f2], 'export', route('192.0.2.0/24'))?.action).toBe('Reject');
  });

  it('property: In and NotIn (and Equal and NotEqual) split every route of the family exactly', () => {
    const v4 = fc.tuple(fc.uint8Array({ minLength: 4, maxLength: 4 }), fc.integer({ min: 0, max: 32 }));
    fc.assert(
      fc.property(v4, v4, ([rb, rl], [cb, cl]) => {
        const r: FilterRoute = { family: 4, bytes: rb, length: rl, fromPeer: true };
        const cidr = `${[...cb].join('.')}/${cl}`;
        const m = (op: BgpFilterRule['matchOperator']): boolean => ruleMatches(rule({ cidr, matchOperator: op }), r);
        expect(m('In')).toBe(!m('NotIn'));
        expect(m('Equal')).toBe(!m('NotEqual'));
        if (m('Equal')) expect(m('In')).toBe(true);
      }),
    );
  });
});
