import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { PathAttributes } from '../types.js';
import type { PeerRib } from './peer.js';
import type { Rib } from './rib.js';
import { announcement, attrs, LOCAL_AS, newRib, seq, upPeer, withdrawal, type TestPeer } from './testing.js';

const bestOf = (rib: Rib, k: string) => rib.bestPaths().find((b) => `${b.prefix.address}/${b.prefix.length}` === k);
const gr = (restartTime: number, forwarding: Array<1 | 2>) => ({ restartTime, families: forwarding.map((afi) => ({ afi, safi: 1, forwardingState: true })) });

describe('Adj-RIB-In and Loc-RIB', () => {
  it('implicit withdraw: a new path from the same peer replaces the old one', () => {
    const { rib, events } = newRib();
    const a = upPeer(rib, { address: '10.0.0.1' });
    rib.update(a, announcement('192.168.0.0/26', attrs({ med: 1 }), '10.0.0.1'));
    rib.update(a, announcement('192.168.0.0/26', attrs({ med: 2 }), '10.0.0.9'));
    expect(a.adjIn.size).toBe(1);
    expect(bestOf(rib, '192.168.0.0/26')?.attrs.med).toBe(2);
    expect(events.installed.get('192.168.0.0/26')).toBe('10.0.0.9');
  });

  it('drops routes with our AS in an eBGP AS_PATH, our router id as ORIGINATOR_ID, our cluster id in CLUSTER_LIST', () => {
    const { rib } = newRib();
    const e = upPeer(rib, { address: '10.0.0.1', asNumber: 65001 });
    const i = upPeer(rib, { address: '10.0.0.2' });
    rib.update(e, announcement('10.10.0.0/24', attrs({ asPath: [seq(65001, LOCAL_AS)] }), '10.0.0.1'));
    rib.update(i, announcement('10.10.0.0/24', attrs({ originatorId: '10.0.0.100' }), '10.0.0.9'));
    rib.update(i, announcement('10.10.0.0/24', attrs({ clusterList: ['1.1.1.1', '224.0.0.1'] }), '10.0.0.9'));
    expect(rib.size).toBe(0);
    expect(e.rejected + i.rejected).toBe(3);
  });

  it('numAllowedLocalASNumbers N: our AS up to N times in an eBGP AS_PATH is accepted, more is a loop', () => {
    const { rib } = newRib();
    const e = rib.addPeer('10.0.0.1', { asNumber: 65001, allowLocalAs: 2 });
    rib.sessionUp(e, { routerId: '10.0.0.1', selfAddress: '10.0.0.100', afis: [1, 2] });
    rib.update(e, announcement('10.10.1.0/24', attrs({ asPath: [seq(65001, LOCAL_AS)] }), '10.0.0.1'));
    rib.update(e, announcement('10.10.2.0/24', attrs({ asPath: [seq(65001, LOCAL_AS, 65002, LOCAL_AS)] }), '10.0.0.1'));
    rib.update(e, announcement('10.10.3.0/24', attrs({ asPath: [seq(65001, LOCAL_AS, LOCAL_AS, LOCAL_AS)] }), '10.0.0.1'));
    expect([...e.adjIn.keys()].sort()).toEqual(['10.10.1.0/24', '10.10.2.0/24']);
    expect(e.rejected).toBe(1);
  });

  it('a looped update withdraws the peer’s earlier path for the prefix (treat-as-withdraw)', () => {
    const { rib, events } = newRib();
    const e = upPeer(rib, { address: '10.0.0.1', asNumber: 65001 });
    rib.update(e, announcement('10.10.0.0/24', attrs({ asPath: [seq(65001)] }), '10.0.0.1'));
    expect(events.installed.size).toBe(1);
    rib.update(e, announcement('10.10.0.0/24', attrs({ asPath: [seq(65001, LOCAL_AS)] }), '10.0.0.1'));
    expect(rib.size).toBe(0);
    expect(events.installed.size).toBe(0);
  });

  it('originated routes win, and only learned best paths reach the route sink', () => {
    const { rib, events } = newRib();
    const a = upPeer(rib, { address: '10.0.0.1' });
    rib.update(a, announcement('10.1.0.0/24', attrs({ localPref: 500 }), '10.0.0.1'));
    expect(events.installed.get('10.1.0.0/24')).toBe('10.0.0.1');
    const k = rib.setLocal({ family: 4, address: '10.1.0.0', length: 24 }, rib.intern(attrs()));
    rib.select(k ?? '');
    expect(bestOf(rib, '10.1.0.0/24')?.source).toBe('local');
    expect(events.installed.size).toBe(0);
  });

  it('a peer that goes down without graceful restart takes its routes along; the next best takes over', () => {
    const { rib, events } = newRib();
    const a = upPeer(rib, { address: '10.0.0.1' });
    const b = upPeer(rib, { address: '10.0.0.2' });
    rib.update(a, announcement('10.1.0.0/24', attrs({ localPref: 200 }), '10.0.0.1'));
    rib.update(b, announcement('10.1.0.0/24', attrs(), '10.0.0.2'));
    expect(events.installed.get('10.1.0.0/24')).toBe('10.0.0.1');
    expect(rib.sessionDown(a, true)).toEqual({ dropped: 1 }); // no GR capability from it
    expect(events.installed.get('10.1.0.0/24')).toBe('10.0.0.2');
    rib.removePeer(b);
    expect(events.installed.size).toBe(0);
    expect(rib.size).toBe(0);
  });
});

describe('graceful restart', () => {
  const routes = ['10.1.0.0/24', '10.2.0.0/24', 'fd00:1::/64'];
  const helped = (): { rib: Rib; p: PeerRib; installed: Map<string, string> } => {
    const { rib, events } = newRib();
    const p = upPeer(rib, { address: '10.0.0.1' }, gr(120, [1, 2]));
    for (const r of routes) rib.update(p, announcement(r, attrs(), r.includes(':') ? 'fd00::1' : '10.0.0.1'));
    return { rib, p, installed: events.installed };
  };

  it('helper: a restarting peer’s routes stay as stale for its restart time', () => {
    const { rib, p, installed } = helped();
    expect(rib.sessionDown(p, true)).toEqual({ staleTimerMs: 120_000, routes: 3 });
    expect(p.helping && p.hasStale).toBe(true);
    expect(installed.size).toBe(3);
    // The restart time ran out: everything stale goes.
    expect(rib.purgeStale(p)).toEqual({ routes: 3 });
    expect(p.helping).toBe(false);
    expect(installed.size).toBe(0);
  });

  it('helper: refreshed routes clear, the rest go at End-of-RIB of their family; a family without F goes at once', () => {
    const { rib, p, installed } = helped();
    rib.sessionDown(p, true);
    // Back with F for IPv4 only: IPv6 lost its forwarding state.
    const up = rib.sessionUp(p, { routerId: '10.0.0.1', selfAddress: '10.0.0.100', afis: [1, 2], peerGr: gr(100, [1]) });
    expect(up).toEqual({ staleTimerMs: 300_000, purged: [{ routes: 1, family: 6 }] });
    expect(installed.has('fd00:1::/64')).toBe(false);
    rib.update(p, announcement('10.1.0.0/24', attrs(), '10.0.0.1'));
    expect(rib.endOfRib(p, { afi: 1, safi: 1 })).toEqual({ routes: 1, family: 4 });
    expect([...installed.keys()]).toEqual(['10.1.0.0/24']);
    expect(p.helping).toBe(false);
  });

  it('helper: a peer back without graceful restart loses its stale routes at once', () => {
    const { rib, p, installed } = helped();
    rib.sessionDown(p, true);
    expect(rib.sessionUp(p, { routerId: '10.0.0.1', selfAddress: '10.0.0.100', afis: [1, 2] }).purged).toEqual([{ routes: 3 }]);
    expect(installed.size).toBe(0);
  });

  it('helper: a NOTIFICATION that rules graceful restart out drops the routes', () => {
    const { rib, p, installed } = helped();
    expect(rib.sessionDown(p, false)).toEqual({ dropped: 3 });
    expect(installed.size).toBe(0);
  });

  it('restarting: nothing is selected until every peer’s End-of-RIB (a peer restarting too is not waited for)', () => {
    const { rib, events } = newRib({ deferred: true });
    const a = upPeer(rib, { address: '10.0.0.1' });
    const b = upPeer(rib, { address: '10.0.0.2' });
    rib.update(a, announcement('10.1.0.0/24', attrs(), '10.0.0.1'));
    expect(rib.size).toBe(0);
    const session = (restarting: boolean) => ({ families: [{ afi: 1, safi: 1 }], peerGracefulRestart: { restartTime: 120, restarting, notification: true, families: [] } });
    const sessions = new Map<PeerRib, ReturnType<typeof session>>([[a, session(false)], [b, session(false)]]);
    const done = (): boolean => rib.deferralDone((p) => sessions.get(p) as never);
    expect(done()).toBe(false);
    rib.endOfRib(a, { afi: 1, safi: 1 });
    expect(done()).toBe(false);
    sessions.set(b, session(true));
    expect(done()).toBe(true);
    rib.endDeferral();
    expect(rib.deferred).toBe(false);
    expect(events.installed.get('10.1.0.0/24')).toBe('10.0.0.1');
  });
});

// ---- properties
const peers: TestPeer[] = [
  { address: '10.0.0.1' },
  { address: '10.0.0.2', rrClient: true },
  { address: '10.0.0.3', asNumber: 65001 },
  { address: '10.0.0.4', asNumber: 65002, routerId: '1.1.1.1' },
  { address: 'fd00::5', asNumber: 65001, routerId: '5.5.5.5' },
];
const prefixes = ['10.1.0.0/24', '10.1.0.0/25', '192.168.0.0/26', 'fd10::/64'];
const arbAttrs: fc.Arbitrary<PathAttributes> = fc
  .record({
    origin: fc.constantFrom(0 as const, 1 as const, 2 as const),
    asPath: fc.array(fc.constantFrom(65001, 65002, 65003), { maxLength: 3 }).map((a) => (a.length ? [seq(...a)] : [])),
    med: fc.option(fc.integer({ min: 0, max: 3 }), { nil: undefined }),
    localPref: fc.option(fc.constantFrom(50, 100, 200), { nil: undefined }),
    originatorId: fc.option(fc.constantFrom('1.1.1.1', '2.2.2.2'), { nil: undefined }),
    clusterList: fc.option(fc.constantFrom(['3.3.3.3'], ['3.3.3.3', '4.4.4.4']), { nil: undefined }),
  })
  .map((r) => Object.fromEntries(Object.entries(r).filter(([, v]) => v !== undefined)) as unknown as PathAttributes);
const arbAnnouncements = fc.array(fc.record({ peer: fc.integer({ min: 0, max: peers.length - 1 }), prefix: fc.integer({ min: 0, max: prefixes.length - 1 }), attrs: arbAttrs }), { maxLength: 25 });

function load(rib: Rib, list: Array<{ peer: number; prefix: number; attrs: PathAttributes }>): void {
  const ps = peers.map((t) => upPeer(rib, t));
  for (const x of list) {
    const nh = prefixes[x.prefix].includes(':') ? 'fd00::99' : peers[x.peer].address.includes(':') ? '10.0.0.5' : peers[x.peer].address;
    rib.update(ps[x.peer], announcement(prefixes[x.prefix], x.attrs, nh));
  }
}

const snapshot = (rib: Rib): Record<string, string> => Object.fromEntries(rib.bestPaths().map((b) => [`${b.prefix.address}/${b.prefix.length}`, `${b.source} ${JSON.stringify(b.attrs)}`]));

describe('RIB properties', () => {
  it('the best path does not depend on arrival order (the last announcement per peer and prefix kept)', () => {
    fc.assert(
      fc.property(arbAnnouncements, fc.nat(), (list, seed) => {
        // One announcement per (peer, prefix) so every order yields the same final set.
        const uniq = [...new Map(list.map((x) => [`${x.peer}|${x.prefix}`, x])).values()];
        const a = newRib().rib;
        load(a, uniq);
        const shuffled = [...uniq].sort((x, y) => ((x.peer * 31 + x.prefix * 7 + seed) % 13) - ((y.peer * 31 + y.prefix * 7 + seed) % 13));
        const b = newRib().rib;
        load(b, shuffled);
        expect(snapshot(b)).toEqual(snapshot(a));
      }),
      { numRuns: 300 },
    );
  });

  it('the route sink holds exactly the learned best paths; withdrawing everything empties both', () => {
    fc.assert(
      fc.property(arbAnnouncements, (list) => {
        const { rib, events } = newRib();
        load(rib, list);
        const learned = Object.fromEntries(rib.bestPaths().map((b) => [`${b.prefix.address}/${b.prefix.length}`, b.nextHop]));
        expect(Object.fromEntries(events.installed)).toEqual(learned);
        for (const x of list) rib.update(rib.peers.get(peers[x.peer].address) as PeerRib, withdrawal(prefixes[x.prefix]));
        expect(rib.size).toBe(0);
        expect(events.installed.size).toBe(0);
      }),
      { numRuns: 300 },
    );
  });

  it('each peer’s Adj-RIB-In holds its last path per prefix through announcements, withdrawals and sessions going down', () => {
    const arbOps = fc.array(
      fc.oneof(
        fc.record({ op: fc.constant('announce' as const), peer: fc.integer({ min: 0, max: peers.length - 1 }), prefix: fc.integer({ min: 0, max: prefixes.length - 1 }), med: fc.integer({ min: 0, max: 3 }) }),
        fc.record({ op: fc.constant('withdraw' as const), peer: fc.integer({ min: 0, max: peers.length - 1 }), prefix: fc.integer({ min: 0, max: prefixes.length - 1 }) }),
        fc.record({ op: fc.constant('down' as const), peer: fc.integer({ min: 0, max: peers.length - 1 }) }),
      ),
      { maxLength: 40 },
    );
    fc.assert(
      fc.property(arbOps, (ops) => {
        const { rib } = newRib();
        const ps = peers.map((t) => upPeer(rib, t));
        // The model: per peer, prefix key → MED of its last path.
        const model = peers.map(() => new Map<string, number>());
        for (const o of ops) {
          const p = ps[o.peer];
          if (o.op === 'down') {
            rib.sessionDown(p, false);
            rib.sessionUp(p, { routerId: p.routerId, selfAddress: '10.0.0.100', afis: [1, 2] });
            model[o.peer].clear();
          } else if (o.op === 'withdraw') {
            rib.update(p, withdrawal(prefixes[o.prefix]));
            model[o.peer].delete(prefixes[o.prefix]);
          } else {
            const nh = prefixes[o.prefix].includes(':') ? 'fd00::99' : peers[o.peer].address.includes(':') ? '10.0.0.5' : peers[o.peer].address;
            rib.update(p, announcement(prefixes[o.prefix], attrs({ med: o.med }), nh));
            model[o.peer].set(prefixes[o.prefix], o.med);
          }
        }
        ps.forEach((p, i) => {
          expect(Object.fromEntries([...p.adjIn].map(([k, r]) => [k, r.attrs.med]))).toEqual(Object.fromEntries(model[i]));
          expect(p.adjIn.size).toBe(model[i].size);
          for (const k of prefixes) expect(p.adjIn.get(k)?.attrs.med).toBe(model[i].get(k));
        });
        const held = new Set(model.flatMap((m) => [...m.keys()]));
        expect(rib.bestPaths().map((b) => `${b.prefix.address}/${b.prefix.length}`).sort()).toEqual([...held].sort());
      }),
      { numRuns: 300 },
    );
  });
});
