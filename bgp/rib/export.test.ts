import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { PathAttributes, Prefix } from '../types.js';
import { AdjRibOut, fullTable, propagate, type OutDiff } from './adj-out.js';
import { exportPath, outboundPolicyKey, type ExportContext, type ExportTarget } from './export.js';
import { LOCAL, type RibPeer } from './peer.js';
import { keyToPrefix, prefixKey, Rib } from './rib.js';
import { attrs, LOCAL_AS, path, peer, seq } from './testutil.js';

const ctx: ExportContext = { localAs: LOCAL_AS, clusterId: '224.0.0.1', reflector: true };
const v4 = keyToPrefix('10.1.0.0/24');
const v6 = keyToPrefix('fd10::/64');
const target = (p: RibPeer, o: Partial<ExportTarget> = {}): ExportTarget => ({ ...p, selfAddress: { 4: '10.0.0.100', 6: 'fd00::100' }, ...o });

const ibgp = peer('10.0.0.1');
const client = peer('10.0.0.2', { rrClient: true });
const client2 = peer('10.0.0.3', { rrClient: true });
const ebgp = peer('10.0.0.9', { asn: 65001 });

describe('export rules', () => {
  it('eBGP: prepend our AS, next-hop-self, strip LOCAL_PREF / ORIGINATOR_ID / CLUSTER_LIST and a learned MED', () => {
    const p = path(ibgp, { asPath: [seq(65005)], localPref: 300, med: 7, originatorId: '1.1.1.1', clusterList: ['2.2.2.2'], communities: [1] }, '10.0.0.1');
    const out = exportPath(p, v4, target(ebgp), ctx);
    expect(out).toEqual({ attrs: { origin: 0, asPath: [seq(LOCAL_AS, 65005)], communities: [1], nextHop: '10.0.0.100' }, nextHop: '10.0.0.100' });
  });
  it('eBGP: keepOriginalNextHop keeps a learned next hop; our own MED goes out', () => {
    const p = path(ibgp, {}, '10.0.0.1');
    expect(exportPath(p, v4, target(ebgp, { keepOriginalNextHop: true }), ctx)?.nextHop).toBe('10.0.0.1');
    const l = path(LOCAL, { med: 5 });
    expect(exportPath(l, v6, target(ebgp), ctx)).toEqual({ attrs: { origin: 0, asPath: [seq(LOCAL_AS)], med: 5 }, nextHop: 'fd00::100' });
  });
  it('eBGP: a full AS_SEQUENCE segment gets a new segment in front', () => {
    const p = path(ibgp, { asPath: [seq(...Array.from({ length: 255 }, (_, i) => i + 1))] });
    expect(exportPath(p, v4, target(ebgp), ctx)?.attrs.asPath[0]).toEqual(seq(LOCAL_AS));
  });
  it('iBGP: local routes get LOCAL_PREF 100 and next-hop-self; eBGP-learned keep their next hop', () => {
    expect(exportPath(path(LOCAL), v4, target(ibgp), ctx)).toEqual({ attrs: { origin: 0, asPath: [], localPref: 100, nextHop: '10.0.0.100' }, nextHop: '10.0.0.100' });
    expect(exportPath(path(ebgp, { asPath: [seq(65001)], localPref: 100 }, '10.0.0.9'), v4, target(ibgp), ctx)?.nextHop).toBe('10.0.0.9');
  });
  it('iBGP split horizon: no iBGP → iBGP between non-clients, nor anything when we do not reflect', () => {
    expect(exportPath(path(ibgp), v4, target(peer('10.0.0.5')), ctx)).toBeUndefined();
    expect(exportPath(path(client), v4, target(peer('10.0.0.5')), { ...ctx, reflector: false })).toBeUndefined();
  });
  it('RFC 4456: client → clients and non-clients, non-client → clients; ORIGINATOR_ID, CLUSTER_LIST, next hop kept', () => {
    const fromClient = path(client, { clusterList: ['9.9.9.9'] }, '10.0.0.2');
    for (const to of [client2, ibgp]) {
      expect(exportPath(fromClient, v4, target(to), ctx)).toEqual({
        attrs: { origin: 0, asPath: [], localPref: 100, originatorId: '10.0.0.2', clusterList: ['224.0.0.1', '9.9.9.9'] },
        nextHop: '10.0.0.2',
      });
    }
    const fromNonClient = path(ibgp, { originatorId: '5.5.5.5' }, '10.0.0.1');
    expect(exportPath(fromNonClient, v4, target(client), ctx)?.attrs).toMatchObject({ originatorId: '5.5.5.5', clusterList: ['224.0.0.1'] });
    expect(exportPath(fromNonClient, v4, target(client), ctx)?.nextHop).toBe('10.0.0.1');
  });
  it('a reflected route carrying our cluster id comes back and is dropped (loop prevention end to end)', () => {
    const out = exportPath(path(client), v4, target(client2), ctx);
    const rr2 = new Rib({ localAs: LOCAL_AS, routerId: '10.0.0.200', clusterId: '224.0.0.1' });
    expect(rr2.update(peer('10.0.0.100'), v4, out?.attrs as PathAttributes, '10.0.0.2').accepted).toBe(false);
    // Back at the originator: its own router id as ORIGINATOR_ID.
    const origin = new Rib({ localAs: LOCAL_AS, routerId: '10.0.0.2', clusterId: '7.7.7.7' });
    expect(origin.update(peer('10.0.0.100'), v4, out?.attrs as PathAttributes, '10.0.0.2').accepted).toBe(false);
  });
  it('update-group keys: same policy same key; session/role differences split groups', () => {
    expect(outboundPolicyKey(target(client))).toBe(outboundPolicyKey(target(client2)));
    expect(outboundPolicyKey(target(client))).not.toBe(outboundPolicyKey(target(ibgp)));
    expect(outboundPolicyKey(target(ebgp))).not.toBe(outboundPolicyKey(target(peer('10.0.0.8', { asn: 65002 }))));
    expect(outboundPolicyKey(target(ebgp))).not.toBe(outboundPolicyKey(target(ebgp, { keepOriginalNextHop: true })));
  });
});

// ---- Adj-RIB-Out
function view(d: OutDiff, into: Map<string, string>): void {
  for (const p of d.withdraw) into.delete(prefixKey(p));
  for (const [e, list] of d.announce) for (const p of list) into.set(prefixKey(p), e.key);
}

const members = [target(ibgp), target(client), target(client2), target(ebgp), target(peer('10.0.0.10', { asn: 65001 }))];
const prefixes: Prefix[] = ['10.1.0.0/24', '10.2.0.0/24', '192.168.0.0/26', 'fd10::/64'].map(keyToPrefix);
const sources: RibPeer[] = [LOCAL, ibgp, client, client2, ebgp];
const op = fc.record({
  kind: fc.constantFrom('update' as const, 'update' as const, 'withdraw' as const),
  src: fc.integer({ min: 0, max: sources.length - 1 }),
  prefix: fc.integer({ min: 0, max: prefixes.length - 1 }),
  lp: fc.constantFrom(undefined, 50, 200),
  as: fc.constantFrom(65001, 65003),
});

describe('Adj-RIB-Out', () => {
  it('groups members, sends nothing back to the source, and announces by shared attribute set', () => {
    const rib = new Rib({ localAs: LOCAL_AS, routerId: '10.0.0.100', clusterId: '224.0.0.1' });
    const outs = members.map((m) => new AdjRibOut(m, rib.attrs));
    const changes = [...rib.update(client, prefixes[0], attrs(), '10.0.0.2').changes, ...rib.update(client, prefixes[1], attrs(), '10.0.0.2').changes];
    const diffs = propagate(changes, outs, rib.attrs, ctx);
    expect(diffs.get('10.0.0.2')).toEqual({ announce: new Map(), withdraw: [] });
    const toClient2 = diffs.get('10.0.0.3');
    expect([...(toClient2?.announce.values() ?? [])]).toEqual([[prefixes[0], prefixes[1]]]); // one attribute set, two prefixes
    // Unchanged best → nothing; withdraw → withdraw.
    expect(propagate(rib.update(client, prefixes[0], attrs(), '10.0.0.2').changes, outs, rib.attrs, ctx).get('10.0.0.3')?.announce.size ?? 0).toBe(0);
    expect(propagate(rib.withdraw(client, prefixes[0]), outs, rib.attrs, ctx).get('10.0.0.3')?.withdraw).toEqual([prefixes[0]]);
  });

  it('property: the diffs applied to each peer’s view equal the export of the Loc-RIB', () => {
    fc.assert(
      fc.property(fc.array(op, { maxLength: 30 }), fc.integer({ min: 1, max: 5 }), (ops, batch) => {
        const rib = new Rib({ localAs: LOCAL_AS, routerId: '10.0.0.100', clusterId: '224.0.0.1' });
        const outs = members.map((m) => new AdjRibOut(m, rib.attrs));
        const views = new Map(members.map((m) => [m.address, new Map<string, string>()]));
        let pending = [] as ReturnType<Rib['withdraw']>;
        const flush = (): void => {
          for (const [addr, d] of propagate(pending, outs, rib.attrs, ctx)) view(d, views.get(addr) as Map<string, string>);
          pending = [];
        };
        ops.forEach((o, i) => {
          const src = sources[o.src];
          const a = attrs({ asPath: src.ebgp ? [seq(o.as)] : [], ...(o.lp !== undefined ? { localPref: o.lp } : {}) });
          pending.push(...(o.kind === 'update' ? rib.update(src, prefixes[o.prefix], a, src === LOCAL ? '0.0.0.0' : src.address).changes : rib.withdraw(src, prefixes[o.prefix])));
          if (i % batch === 0) flush();
        });
        flush();
        for (const m of members) {
          const expected = new Map<string, string>();
          for (const [k, best] of rib.entries()) {
            if (best.src.address === m.address) continue;
            const e = exportPath(best, keyToPrefix(k), m, ctx);
            if (e) {
              const i = rib.attrs.intern(e.attrs, e.nextHop);
              expected.set(k, i.key);
              rib.attrs.release(i);
            }
          }
          expect(Object.fromEntries(views.get(m.address) ?? [])).toEqual(Object.fromEntries(expected));
        }
        // A fresh peer gets the same view from fullTable.
        const late = new AdjRibOut(members[1], rib.attrs);
        const v = new Map<string, string>();
        view(propagate(fullTable(rib.entries()), [late], rib.attrs, ctx).get(members[1].address) as OutDiff, v);
        expect(Object.fromEntries(v)).toEqual(Object.fromEntries(views.get(members[1].address) ?? []));
        // Clearing every Adj-RIB-Out and withdrawing all leaves no interned attributes behind.
        for (const o of [...outs, late]) o.clear();
        for (const s of sources) for (const p of prefixes) rib.withdraw(s, p);
        expect(rib.attrs.size).toBe(0);
      }),
      { numRuns: 300 },
    );
  });
});
