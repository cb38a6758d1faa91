import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { RouteSinkEvent } from '../types.js';
import { announcement, attrs, newRib, seq, upPeer, withdrawal } from './testing.js';

const DEFAULT = '0.0.0.0/0';
const torA = { address: '10.0.0.250', asNumber: 65010, routerId: '10.0.0.250' };
const torB = { address: '10.0.0.251', asNumber: 65010, routerId: '10.0.0.251' };
const sorted = (a: readonly string[] | undefined): string[] => [...(a ?? [])].sort();

describe('multipath (ECMP): equal paths share the kernel route, as BIRD with `merge paths on`', () => {
  it('two ToRs announcing the same default route: one install with both next hops', () => {
    const { rib, events } = newRib();
    const a = upPeer(rib, torA);
    const b = upPeer(rib, torB);
    rib.update(a, announcement(DEFAULT, attrs({ asPath: [seq(65010)] }), torA.address));
    expect(events.hops.get(DEFAULT)).toEqual([torA.address]);
    rib.update(b, announcement(DEFAULT, attrs({ asPath: [seq(65010)] }), torB.address));
    expect(sorted(events.hops.get(DEFAULT))).toEqual([torA.address, torB.address]);
    expect(sorted(rib.nextHops(DEFAULT))).toEqual([torA.address, torB.address]);
  });

  it('losing one ToR leaves the other next hop installed, never a withdraw in between', () => {
    const { rib, events } = newRib();
    const a = upPeer(rib, torA);
    const b = upPeer(rib, torB);
    rib.update(a, announcement(DEFAULT, attrs({ asPath: [seq(65010)] }), torA.address));
    rib.update(b, announcement(DEFAULT, attrs({ asPath: [seq(65010)] }), torB.address));
    const sink: RouteSinkEvent[] = [];
    const record = events.onRoute.bind(events);
    events.onRoute = (e) => {
      sink.push(e);
      record(e);
    };
    rib.sessionDown(a, false); // torA holds the best path (lower router id)
    expect(sink.map((e) => (e.type === 'install' ? e.nextHops : 'withdraw'))).toEqual([[torB.address]]);
  });

  it('a worse path (longer AS_PATH, lower LOCAL_PREF, higher MED from the same AS) is not merged', () => {
    for (const worse of [attrs({ asPath: [seq(65010, 65020)] }), attrs({ asPath: [seq(65010)], med: 10 })]) {
      const { rib, events } = newRib();
      rib.update(upPeer(rib, torA), announcement(DEFAULT, attrs({ asPath: [seq(65010)] }), torA.address));
      rib.update(upPeer(rib, torB), announcement(DEFAULT, worse, torB.address));
      expect(events.hops.get(DEFAULT)).toEqual([torA.address]);
    }
    const { rib, events } = newRib();
    rib.update(upPeer(rib, { address: '10.0.0.1' }), announcement('10.9.0.0/16', attrs({ localPref: 200 }), '10.0.0.1'));
    rib.update(upPeer(rib, { address: '10.0.0.2' }), announcement('10.9.0.0/16', attrs(), '10.0.0.2'));
    expect(events.hops.get('10.9.0.0/16')).toEqual(['10.0.0.1']);
  });

  it('eBGP and iBGP paths are not merged (eBGP wins alone)', () => {
    const { rib, events } = newRib();
    rib.update(upPeer(rib, { address: '10.0.0.2' }), announcement(DEFAULT, attrs({ asPath: [seq(65010)] }), '10.0.0.2'));
    rib.update(upPeer(rib, torA), announcement(DEFAULT, attrs({ asPath: [seq(65010)] }), torA.address));
    expect(events.hops.get(DEFAULT)).toEqual([torA.address]);
  });

  it('an equal path coming or going changes the route sink only, not what peers are sent', () => {
    const { rib, events } = newRib();
    const a = upPeer(rib, torA);
    const b = upPeer(rib, torB);
    rib.update(a, announcement(DEFAULT, attrs({ asPath: [seq(65010)] }), torA.address));
    const best = rib.selected(DEFAULT);
    rib.update(b, announcement(DEFAULT, attrs({ asPath: [seq(65010)] }), torB.address));
    expect(rib.selected(DEFAULT)).toBe(best);
    rib.update(b, withdrawal(DEFAULT));
    expect(rib.selected(DEFAULT)).toBe(best);
    expect(events.hops.get(DEFAULT)).toEqual([torA.address]);
  });

  it('property: the installed next hops are those of every path tied with the best before the router id, whatever the arrival order', () => {
    const peers = [1, 2, 3, 4].map((i) => ({ address: `10.0.0.${i}`, asNumber: 65010, routerId: `10.0.0.${i}` }));
    const route = fc.record({ peer: fc.integer({ min: 0, max: 3 }), pathLen: fc.integer({ min: 1, max: 2 }), med: fc.integer({ min: 0, max: 1 }), withdraw: fc.boolean() });
    fc.assert(
      fc.property(fc.array(route, { maxLength: 12 }), (ops) => {
        const { rib, events } = newRib();
        const ribs = peers.map((p) => upPeer(rib, p));
        const final = new Map<number, { pathLen: number; med: number }>();
        for (const op of ops) {
          const p = ribs[op.peer];
          if (!p) continue;
          if (op.withdraw) {
            rib.update(p, withdrawal(DEFAULT));
            final.delete(op.peer);
          } else {
            rib.update(p, announcement(DEFAULT, attrs({ asPath: [seq(...Array<number>(op.pathLen).fill(65010))], med: op.med }), peers[op.peer]?.address ?? ''));
            final.set(op.peer, { pathLen: op.pathLen, med: op.med });
          }
        }
        const all = [...final.entries()];
        const bestLen = Math.min(...all.map(([, r]) => r.pathLen));
        const bestMed = Math.min(...all.filter(([, r]) => r.pathLen === bestLen).map(([, r]) => r.med));
        const want = all.filter(([, r]) => r.pathLen === bestLen && r.med === bestMed).map(([i]) => peers[i]?.address ?? '');
        expect(sorted(events.hops.get(DEFAULT))).toEqual(want.sort());
      }),
    );
  });

  it('a ToR restarting with a GR capability that lists no families (BIRD\'s default `aware`) loses its routes at once', () => {
    const { rib, events } = newRib();
    const a = upPeer(rib, torA, { restartTime: 120, families: [] });
    const b = upPeer(rib, torB);
    rib.update(a, announcement(DEFAULT, attrs({ asPath: [seq(65010)] }), torA.address));
    rib.update(b, announcement(DEFAULT, attrs({ asPath: [seq(65010)] }), torB.address));
    expect(rib.sessionDown(a, true)).toEqual({ dropped: 1 });
    expect(events.hops.get(DEFAULT)).toEqual([torB.address]);
  });
});
