import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { PathAttributes, Prefix } from '../types.js';
import { AttrTable } from './attrs.js';
import { LOCAL, type RibPeer } from './peer.js';
import { keyToPrefix, prefixKey, Rib } from './rib.js';
import { attrs, LOCAL_AS, peer, seq } from './testutil.js';

const P = (s: string): Prefix => keyToPrefix(s);
const newRib = () => new Rib({ localAs: LOCAL_AS, routerId: '10.0.0.100', clusterId: '224.0.0.1' });

describe('AttrTable', () => {
  it('interns structurally equal attributes to one frozen, refcounted entry', () => {
    const t = new AttrTable();
    const a = t.intern(attrs({ asPath: [seq(1, 2)], communities: [5] }), '10.0.0.1');
    const b = t.intern(attrs({ asPath: [seq(1, 2)], communities: [5] }), '10.0.0.1');
    const c = t.intern(attrs({ asPath: [seq(1, 2)], communities: [5] }), '10.0.0.2');
    expect(a).toBe(b);
    expect(c).not.toBe(a);
    expect(Object.isFrozen(a.attrs) && Object.isFrozen(a.attrs.asPath[0].asns)).toBe(true);
    expect(t.size).toBe(2);
    t.release(a);
    expect(t.size).toBe(2);
    t.release(b);
    t.release(c);
    expect(t.size).toBe(0);
  });
  it('copies the input so later caller mutation cannot leak into shared entries', () => {
    const t = new AttrTable();
    const input: PathAttributes = attrs({ asPath: [seq(1)], unknown: [{ flags: 0xc0, type: 99, value: Buffer.from([1, 2]) }] });
    const e = t.intern(input, '1.1.1.1');
    input.asPath[0].asns.push(7);
    input.unknown?.[0].value.fill(9);
    expect(e.attrs.asPath[0].asns).toEqual([1]);
    expect([...(e.attrs.unknown?.[0].value ?? [])]).toEqual([1, 2]);
  });
});

describe('Rib', () => {
  it('implicit withdraw: a new path from the same peer replaces the old one', () => {
    const r = newRib();
    const A = peer('10.0.0.1');
    r.update(A, P('192.168.0.0/26'), attrs({ med: 1 }), '10.0.0.1');
    const res = r.update(A, P('192.168.0.0/26'), attrs({ med: 2 }), '10.0.0.1');
    expect(res.accepted && res.changes.length).toBe(1);
    expect(r.explain(P('192.168.0.0/26'))?.paths.length).toBe(1);
    expect(r.best(P('192.168.0.0/26'))?.a.attrs.med).toBe(2);
    expect(r.attrs.size).toBe(1); // the old set was released
  });
  it('drops routes with our AS in AS_PATH, our router id as ORIGINATOR_ID, our cluster id in CLUSTER_LIST', () => {
    const r = newRib();
    const E = peer('10.0.0.1', { asn: 65001 });
    const I = peer('10.0.0.2');
    const pfx = P('10.10.0.0/24');
    expect(r.update(E, pfx, attrs({ asPath: [seq(65001, LOCAL_AS)] }), '10.0.0.1')).toMatchObject({ accepted: false, reason: expect.stringContaining('AS_PATH') });
    expect(r.update(I, pfx, attrs({ originatorId: '10.0.0.100' }), '10.0.0.9')).toMatchObject({ accepted: false, reason: expect.stringContaining('ORIGINATOR_ID') });
    expect(r.update(I, pfx, attrs({ clusterList: ['1.1.1.1', '224.0.0.1'] }), '10.0.0.9')).toMatchObject({ accepted: false, reason: expect.stringContaining('CLUSTER_LIST') });
    expect(r.size).toBe(0);
  });
  it('a looped update withdraws the peer’s earlier path for the prefix (treat-as-withdraw)', () => {
    const r = newRib();
    const E = peer('10.0.0.1', { asn: 65001 });
    r.update(E, P('10.10.0.0/24'), attrs({ asPath: [seq(65001)] }), '10.0.0.1');
    const res = r.update(E, P('10.10.0.0/24'), attrs({ asPath: [seq(65001, LOCAL_AS)] }), '10.0.0.1');
    expect(res.accepted).toBe(false);
    expect(res.changes[0].best).toBeUndefined();
    expect(r.size).toBe(0);
  });
  it('ignores LOCAL_PREF received over eBGP', () => {
    const r = newRib();
    r.update(peer('10.0.0.1', { asn: 65001 }), P('10.1.0.0/16'), attrs({ asPath: [seq(65001)], localPref: 900 }), '10.0.0.1');
    expect(r.best(P('10.1.0.0/16'))?.a.attrs.localPref).toBe(100);
  });
  it('graceful restart: stale routes survive, refreshed ones clear, the rest are purged', () => {
    const r = newRib();
    const A = peer('10.0.0.1');
    for (const p of ['10.1.0.0/24', '10.2.0.0/24', 'fd00:1::/64']) r.update(A, P(p), attrs(), '10.0.0.1');
    expect(r.markStale('10.0.0.1')).toBe(3);
    r.update(A, P('10.1.0.0/24'), attrs(), '10.0.0.1');
    expect(r.purgeStale('10.0.0.1', 4).map((c) => c.key)).toEqual(['10.2.0.0/24']);
    expect(r.best(P('fd00:1::/64'))?.stale).toBe(true);
    expect(r.purgeStale('10.0.0.1').map((c) => c.key)).toEqual(['fd00:1::/64']);
    expect([...r.entries()].map(([k]) => k)).toEqual(['10.1.0.0/24']);
  });
  it('dropPeer removes everything the peer sent, and the next best takes over', () => {
    const r = newRib();
    const A = peer('10.0.0.1');
    const B = peer('10.0.0.2');
    r.update(A, P('10.1.0.0/24'), attrs({ localPref: 200 }), '10.0.0.1');
    r.update(B, P('10.1.0.0/24'), attrs(), '10.0.0.2');
    const ch = r.dropPeer(A);
    expect(ch).toHaveLength(1);
    expect(ch[0].best?.src).toBe(B);
    expect(r.adjRibIn('10.0.0.1')).toBeUndefined();
  });
  it('reselectAll applies a changed next-hop reachability', () => {
    let up = true;
    const r = new Rib({ localAs: LOCAL_AS, routerId: '10.0.0.100', nextHopReachable: (nh) => up || nh !== '192.0.2.1' });
    r.update(peer('10.0.0.1'), P('10.1.0.0/24'), attrs({ localPref: 200 }), '192.0.2.1');
    r.update(peer('10.0.0.2'), P('10.1.0.0/24'), attrs(), '10.0.0.2');
    expect(r.best(P('10.1.0.0/24'))?.src.address).toBe('10.0.0.1');
    up = false;
    expect(r.reselectAll()).toHaveLength(1);
    expect(r.best(P('10.1.0.0/24'))?.src.address).toBe('10.0.0.2');
    expect(r.explain(P('10.1.0.0/24'))?.reason).toBe('next-hop-reachable');
  });
});

// ---- properties
const peers: RibPeer[] = [
  peer('10.0.0.1'),
  peer('10.0.0.2', { rrClient: true }),
  peer('10.0.0.3', { asn: 65001 }),
  peer('10.0.0.4', { asn: 65002, routerId: '1.1.1.1' }),
  peer('fd00::5', { asn: 65001 }),
];
const prefixes = ['10.1.0.0/24', '10.1.0.0/25', '192.168.0.0/26', 'fd10::/64'].map(P);
const arbAttrs = fc.record({
  origin: fc.constantFrom(0 as const, 1 as const, 2 as const),
  asPath: fc.array(fc.constantFrom(65001, 65002, 65003), { maxLength: 3 }).map((a) => (a.length ? [seq(...a)] : [])),
  med: fc.option(fc.integer({ min: 0, max: 3 }), { nil: undefined }),
  localPref: fc.option(fc.constantFrom(50, 100, 200), { nil: undefined }),
  originatorId: fc.option(fc.constantFrom('1.1.1.1', '2.2.2.2'), { nil: undefined }),
  clusterList: fc.option(fc.constantFrom(['3.3.3.3'], ['3.3.3.3', '4.4.4.4']), { nil: undefined }),
}).map((r) => Object.fromEntries(Object.entries(r).filter(([, v]) => v !== undefined)) as unknown as PathAttributes);
const arbAnnouncements = fc.array(
  fc.record({ peer: fc.integer({ min: 0, max: peers.length }), prefix: fc.integer({ min: 0, max: prefixes.length - 1 }), attrs: arbAttrs }),
  { maxLength: 25 },
);

function load(r: Rib, list: Array<{ peer: number; prefix: number; attrs: PathAttributes }>): void {
  for (const x of list) {
    const src = x.peer === peers.length ? LOCAL : peers[x.peer];
    r.update(src, prefixes[x.prefix], x.attrs, src === LOCAL ? '0.0.0.0' : src.address);
  }
}

function snapshot(r: Rib): Record<string, string> {
  return Object.fromEntries([...r.entries()].map(([k, p]) => [k, `${p.src.address} ${p.a.key}`]));
}

describe('Rib properties', () => {
  it('best path does not depend on arrival order (last announcement per peer and prefix kept)', () => {
    fc.assert(
      fc.property(arbAnnouncements, fc.nat(), (list, seed) => {
        // One announcement per (peer, prefix) so every order yields the same final set.
        const uniq = [...new Map(list.map((x) => [`${x.peer}|${x.prefix}`, x])).values()];
        const a = newRib();
        load(a, uniq);
        const shuffled = [...uniq].sort((x, y) => ((x.peer * 31 + x.prefix * 7 + seed) % 13) - ((y.peer * 31 + y.prefix * 7 + seed) % 13));
        const b = newRib();
        load(b, shuffled);
        expect(snapshot(b)).toEqual(snapshot(a));
      }),
      { numRuns: 300 },
    );
  });
  it('withdrawing everything leaves an empty Loc-RIB and no interned attributes', () => {
    fc.assert(
      fc.property(arbAnnouncements, (list) => {
        const r = newRib();
        load(r, list);
        for (const x of list) r.withdraw(x.peer === peers.length ? LOCAL : peers[x.peer], prefixes[x.prefix]);
        expect(r.size).toBe(0);
        expect(r.attrs.size).toBe(0);
      }),
      { numRuns: 300 },
    );
  });
  it('prefix keys round-trip', () => {
    for (const p of prefixes) expect(keyToPrefix(prefixKey(p))).toEqual(p);
  });
});
