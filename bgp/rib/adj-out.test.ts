// The Adj-RIB-Out as the speaker drives it: initial syncs, group batches (shared part and our own
// routes per member address), members that stall and re-sync. Whatever happens, once the output
// has drained every peer holds the export of the current Loc-RIB: its best paths, or, for members
// that negotiated ADD-PATH receive (we send), every path, each under its identifier.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { CodecContext, NlriPrefix } from '../codec/types.js';
import type { PathAttributes } from '../types.js';
import { pathKey } from './addpath-out.js';
import type { Announcements, OutAttr, OutGroup } from './adj-out.js';
import { attrKey } from './attrs.js';
import { exportRoute } from './export.js';
import type { Path } from './path.js';
import type { PeerRib } from './peer.js';
import { keyOf, keyToPrefix } from './prefix-key.js';
import type { Rib } from './rib.js';
import type { SyncBatch } from './groups.js';
import { announcement, attrs, LOCAL_AS, newRib, seq, upPeer, withdrawal, type Recorder, type TestPeer } from './testing.js';

const members: TestPeer[] = [
  { address: '10.0.0.1' },
  { address: '10.0.0.2', rrClient: true },
  // Another client reaching us on another of our addresses: our own routes go per address.
  { address: '10.0.0.3', rrClient: true, self: '10.0.0.101' },
  { address: '10.0.0.9', asNumber: 65001 },
  { address: '10.0.0.10', asNumber: 65001 },
  // ADD-PATH receive negotiated (we send every path): a client, another on its own address, a non-client.
  { address: '10.0.0.5', rrClient: true },
  { address: '10.0.0.6', rrClient: true, self: '10.0.0.101' },
  { address: '10.0.0.7' },
];
const prefixes = ['10.1.0.0/24', '10.2.0.0/24', '192.168.0.0/26', 'fd10::/64'];
const ctx: CodecContext = { fourOctetAs: true };
const ADD_PATH: CodecContext = { fourOctetAs: true, addPath: [1, 2].map((afi) => ({ afi, safi: 1, send: true, receive: true })) };
const sendsAll = (p: PeerRib): boolean => ['10.0.0.5', '10.0.0.6', '10.0.0.7'].includes(p.address);
const ctxOf = (p: PeerRib): CodecContext => (sendsAll(p) ? ADD_PATH : ctx);
/** This member sends us ADD-PATH (several paths per prefix, by its identifiers 1 and 2). */
const RX = 1;

const op = fc.oneof(
  fc.record({
    kind: fc.constant('announce' as const),
    src: fc.integer({ min: 0, max: members.length - 1 }),
    prefix: fc.integer({ min: 0, max: prefixes.length - 1 }),
    lp: fc.constantFrom(undefined, 50, 200),
    as: fc.constantFrom(65001, 65003),
    med: fc.integer({ min: 0, max: 2 }),
    rx: fc.integer({ min: 1, max: 2 }),
  }),
  fc.record({ kind: fc.constant('withdraw' as const), src: fc.integer({ min: 0, max: members.length - 1 }), prefix: fc.integer({ min: 0, max: prefixes.length - 1 }), rx: fc.integer({ min: 1, max: 2 }) }),
  fc.record({ kind: fc.constant('local' as const), prefix: fc.integer({ min: 0, max: prefixes.length - 1 }), med: fc.option(fc.integer({ min: 0, max: 2 }), { nil: undefined }) }),
  fc.record({ kind: fc.constant('unlocal' as const), prefix: fc.integer({ min: 0, max: prefixes.length - 1 }) }),
  fc.record({ kind: fc.constant('stall' as const), member: fc.integer({ min: 0, max: members.length - 1 }) }),
  fc.record({ kind: fc.constant('resume' as const) }),
  // Route refresh: the whole table again.
  fc.record({ kind: fc.constant('refresh' as const), member: fc.integer({ min: 0, max: members.length - 1 }) }),
  fc.record({ kind: fc.constant('drain' as const) }),
  // A session going down (its routes go too), and coming back: the peer holds nothing, then syncs.
  fc.record({ kind: fc.constant('down' as const), member: fc.integer({ min: 0, max: members.length - 1 }) }),
  fc.record({ kind: fc.constant('up' as const), member: fc.integer({ min: 0, max: members.length - 1 }) }),
  // One pending batch only (a group's or a syncing peer's): syncs interleave with group batches.
  fc.record({ kind: fc.constant('step' as const), groupFirst: fc.boolean() }),
);

const outKey = (o: OutAttr): string => attrKey(o.attrs, o.v6NextHop ?? '');

/** Drives the RIB's output the way the speaker does and keeps what each peer was sent. */
class Wire {
  readonly views = new Map<PeerRib, Map<string, string>>();
  /** Members to take out of their group at their next batch (a full socket). */
  readonly stallNext = new Set<PeerRib>();
  /** Walk ranges as first synced, by group, codec context, range and version: applied in place of later ones, as the speaker reuses their frames. */
  private readonly walks = new WeakMap<object, Map<string, SyncBatch>>();

  constructor(
    private readonly rib: Rib,
    private readonly events: Recorder,
  ) {}

  view(p: PeerRib): Map<string, string> {
    let v = this.views.get(p);
    if (!v) this.views.set(p, (v = new Map()));
    return v;
  }

  /**
   * What a peer takes from a batch: routes carrying its own router id as ORIGINATOR_ID go to it as
   * withdrawals (framesFor), but only those that replaced something the group had advertised
   * (`replaced`: the batch's; undefined: all of them). Were that too few, it would keep a stale route.
   */
  private apply(p: PeerRib, routes: Announcements, withdrawals: NlriPrefix[], replaced?: ReadonlySet<string>): void {
    const v = this.view(p);
    const at = (x: NlriPrefix): string => pathKey(keyOf(x), x.pathId);
    for (const w of withdrawals) v.delete(at(w));
    for (const [out, g] of routes.byOut) {
      for (const x of g.prefixes) {
        if (out.attrs.originatorId !== p.routerId) v.set(at(x), outKey(out));
        else if (!replaced || replaced.has(at(x))) v.delete(at(x));
      }
    }
  }

  start(p: PeerRib): void {
    this.rib.out.startSync(p);
    this.sync(p);
  }

  private sync(p: PeerRib): void {
    const fresh = this.rib.out.syncBatch(p, ctxOf(p));
    const b = fresh.walk && p.group ? this.walkOnce(p.group, JSON.stringify(ctxOf(p)), fresh) : fresh;
    const v = this.view(p);
    for (const w of b.withdrawals) v.delete(pathKey(keyOf(w), w.pathId));
    b.outs.forEach((o, i) => (o.attrs.originatorId !== p.routerId ? v.set(pathKey(b.keys[i], b.ids[i]), outKey(o)) : v.delete(pathKey(b.keys[i], b.ids[i]))));
    if (b.done) this.rib.out.join(p);
    else this.events.peers.add(p);
  }

  /** The first batch synced for this walk range and version; a later one must hold the same. */
  private walkOnce(g: object, ctxKey: string, b: SyncBatch): SyncBatch {
    let m = this.walks.get(g);
    if (!m) this.walks.set(g, (m = new Map()));
    const key = `${ctxKey}|${b.walk?.range}|${b.walk?.version}`;
    const first = m.get(key);
    if (!first) {
      m.set(key, b);
      return b;
    }
    expect([first.keys, first.outs.map((o) => o.id), first.withdrawals]).toEqual([b.keys, b.outs.map((o) => o.id), b.withdrawals]);
    return { ...first, done: b.done };
  }

  drain(): void {
    for (let turns = 0; this.events.groups.size || this.events.peers.size; turns++) {
      if (turns > 1000) throw new Error('output does not drain');
      for (const p of [...this.events.peers]) this.peerTurn(p);
      for (const g of [...this.events.groups]) this.groupTurn(g);
    }
    this.rib.out.trim();
  }

  /** Runs one scheduled batch: a group's, or (the other way round) a syncing peer's. */
  step(groupFirst: boolean): void {
    const [g] = this.events.groups;
    const [p] = this.events.peers;
    if (g && (groupFirst || !p)) this.groupTurn(g);
    else if (p) this.peerTurn(p);
  }

  private peerTurn(p: PeerRib): void {
    this.events.peers.delete(p);
    if (p.mode === 'sync') this.sync(p);
  }

  private groupTurn(g: OutGroup): void {
    this.events.groups.delete(g);
    const b = this.rib.out.isLive(g) ? this.rib.out.groupBatch(g) : undefined;
    if (!b) return;
    for (const m of [...g.members]) {
      if (this.stallNext.delete(m)) {
        this.rib.out.stall(m, b.keys, b.prev);
        continue;
      }
      this.apply(m, b.routes, b.withdrawals, b.replaced ?? new Set());
      if (b.own.length) {
        const own = this.rib.out.ownBatch(g, m.selfAddress ?? '', b.own);
        this.apply(m, own.routes, own.withdrawals);
      }
    }
  }

  refresh(p: PeerRib): void {
    if (this.rib.out.resync(p)) this.events.peers.add(p);
  }

  resumeAll(): void {
    this.stallNext.clear();
    for (const p of this.rib.peers.values()) if (p.mode === 'stalled' && this.rib.out.resume(p)) this.events.peers.add(p);
  }
}

/** What `p` holds for path b of a prefix of `family`: its export, but not one it originated. */
function exportKey(b: Path, family: 4 | 6, p: PeerRib): string | undefined {
  const e = exportRoute(b, family, { address: p.address, ebgp: p.ebgp, rrClient: !!p.options.rrClient, localAs: LOCAL_AS, clusterId: '224.0.0.1', reflector: true, selfAddress: p.selfAddress });
  if (!e) return undefined;
  const v6 = family === 6;
  const a: PathAttributes = { ...e.attrs, nextHop: v6 ? undefined : e.nextHop };
  if ((!v6 && a.nextHop === '') || a.originatorId === p.routerId) return undefined;
  return attrKey(a, v6 ? e.nextHop : '');
}

/** What `p` must hold: the export of every Loc-RIB best path — or, with ADD-PATH, of every path under its identifier. */
/** A reflector with two clients in one group, synced: `src` announces, `m` receives. */
function clientPair(): { rib: Rib; events: Recorder; src: PeerRib; m: PeerRib; wire: Wire } {
  const { rib, events } = newRib();
  rib.setReflector(true);
  const [src, m] = [members[1], members[2]].map((t) => upPeer(rib, t));
  const wire = new Wire(rib, events);
  wire.start(src);
  wire.start(m);
  wire.drain();
  return { rib, events, src, m, wire };
}

function expected(rib: Rib, p: PeerRib): Map<string, string> {
  const want = new Map<string, string>();
  for (const b of rib.bestPaths()) {
    const k = keyOf(b.prefix);
    const family = b.prefix.family === 6 ? 6 : 4;
    if (sendsAll(p)) {
      for (const [id, path] of rib.allPaths(k)) {
        const v = exportKey(path, family, p);
        if (v) want.set(pathKey(k, id), v);
      }
      continue;
    }
    const v = exportKey({ ...b, family }, family, p);
    if (v) want.set(k, v);
  }
  return want;
}

describe('Adj-RIB-Out', () => {
  it('property: after any changes, stalls and re-syncs, every peer holds the export of the Loc-RIB', () => {
    fc.assert(
      fc.property(fc.array(op, { maxLength: 40 }), fc.constantFrom(1, 2, 4000), (ops, flushChunk) => {
        const { rib, events } = newRib({ flushChunk });
        rib.setReflector(true);
        const peers = members.map((t) => upPeer(rib, t));
        const wire = new Wire(rib, events);
        for (const p of peers) wire.start(p);
        const down = new Set<number>();
        const setUp = (m: number, up: boolean): void => {
          if (up === !down.has(m)) return;
          if (up) {
            down.delete(m);
            upPeer(rib, members[m]);
            wire.start(peers[m]);
          } else {
            down.add(m);
            rib.sessionDown(peers[m], false);
            wire.views.delete(peers[m]);
          }
        };
        for (const o of ops) {
          if (o.kind === 'announce') {
            const src = peers[o.src];
            const a = attrs({ asPath: src.ebgp ? [seq(o.as)] : [], med: o.med, ...(o.lp !== undefined ? { localPref: o.lp } : {}) });
            const prefix = { ...keyToPrefix(prefixes[o.prefix]), ...(o.src === RX ? { pathId: o.rx } : {}) };
            // The ADD-PATH member's second path has a next hop of its own (a ToR behind it).
            const nh = prefix.family === 6 ? `fd00::${o.src === RX ? o.rx : 1}` : o.src === RX && o.rx === 2 ? '10.9.9.2' : src.address;
            rib.update(src, announcement(prefix, a, nh));
          } else if (o.kind === 'withdraw') rib.update(peers[o.src], withdrawal({ ...keyToPrefix(prefixes[o.prefix]), ...(o.src === RX ? { pathId: o.rx } : {}) }));
          else if (o.kind === 'local' || o.kind === 'unlocal') {
            const k = rib.setLocal(keyToPrefix(prefixes[o.prefix]), o.kind === 'local' ? rib.intern(attrs(o.med !== undefined ? { med: o.med } : {})) : undefined);
            if (k) rib.select(k);
          } else if (o.kind === 'stall') wire.stallNext.add(peers[o.member]);
          else if (o.kind === 'resume') wire.resumeAll();
          else if (o.kind === 'step') wire.step(o.groupFirst);
          else if (o.kind === 'refresh') wire.refresh(peers[o.member]);
          else if (o.kind === 'down' || o.kind === 'up') setUp(o.member, o.kind === 'up');
          else wire.drain();
        }
        for (let m = 0; m < members.length; m++) setUp(m, true);
        wire.drain();
        wire.resumeAll();
        wire.drain();
        for (const p of peers) {
          expect(p.mode).toBe('grouped');
          expect(Object.fromEntries(wire.view(p)), p.address).toEqual(Object.fromEntries(expected(rib, p)));
        }
      }),
      { numRuns: 300 },
    );
  });

  it('members of one policy share one group; an eBGP peer has a group of its own; ADD-PATH members are apart from the rest', () => {
    const { rib, events } = newRib();
    const peers = members.map((t) => upPeer(rib, t));
    const wire = new Wire(rib, events);
    for (const p of peers) wire.start(p);
    expect(peers[1].group).toBe(peers[2].group);
    expect(peers[0].group).not.toBe(peers[1].group);
    expect(peers[3].group).not.toBe(peers[4].group);
    // Clients that receive every path share a group, apart from the clients that get the best path.
    expect(peers[5].group).toBe(peers[6].group);
    expect(peers[5].group).not.toBe(peers[1].group);
    expect(peers[5].group?.paths).toBeDefined();
    expect(peers[1].group?.paths).toBeUndefined();
    expect(peers[7].group).not.toBe(peers[0].group);
    expect(rib.out.groups.size).toBe(6);
  });

  it('a syncing peer is brought to what its group holds, so a change the group has not sent yet and one that undoes it reach it too', () => {
    const { rib, events } = newRib();
    rib.setReflector(true);
    const [src, m, late] = [members[1], members[2], { address: '10.0.0.4', rrClient: true }].map((t) => upPeer(rib, t));
    const wire = new Wire(rib, events);
    wire.start(src);
    wire.start(m);
    const a = attrs({ med: 1 });
    rib.update(src, announcement('10.1.0.0/24', a, src.address));
    wire.drain();
    rib.out.startSync(late);
    rib.update(src, announcement('10.1.0.0/24', attrs({ med: 2 }), src.address)); // the group owes this
    wire.step(false); // the late peer's queue first: it gets what the group holds (MED 1)
    expect(late.group).toBe(m.group);
    rib.update(src, announcement('10.1.0.0/24', a, src.address)); // and back: nothing left to send
    wire.drain();
    for (const p of [m, late]) expect(Object.fromEntries(wire.view(p)), p.address).toEqual(Object.fromEntries(expected(rib, p)));
    expect(late.mode).toBe('grouped');
  });

  it('a group is told once that it has changes, however many come before it takes its batch, and again after it', () => {
    const { rib, events, src, m, wire } = clientPair();
    let told = 0;
    const tell = events.groupChanged.bind(events);
    events.groupChanged = (g: OutGroup) => {
      told++;
      tell(g);
    };
    for (let i = 0; i < 50; i++) rib.update(src, announcement(`10.3.${i}.0/24`, attrs({ med: 1 }), src.address));
    expect(told).toBe(1);
    wire.drain();
    rib.update(src, withdrawal('10.3.0.0/24'));
    expect(told).toBe(2);
    wire.drain();
    expect(Object.fromEntries(wire.view(m))).toEqual(Object.fromEntries(expected(rib, m)));
  });

  it('a prefix that comes and goes before the group exports it, its slot taken meanwhile by another prefix, is not sent with the other one\'s path', () => {
    const { rib, src, m, wire } = clientPair();
    // Both changes of 10.1.0.0/24 are logged with its slot; the slot is free again after the
    // withdrawal (no group advertised the prefix yet) and 10.2.0.0/24 takes it.
    rib.update(src, announcement('10.1.0.0/24', attrs({ med: 1 }), src.address));
    rib.update(src, withdrawal('10.1.0.0/24'));
    rib.update(src, announcement('10.2.0.0/24', attrs({ med: 2 }), src.address));
    wire.drain();
    expect([...wire.view(m).keys()]).toEqual(['10.2.0.0/24']);
    expect(Object.fromEntries(wire.view(m))).toEqual(Object.fromEntries(expected(rib, m)));
  });

  it('a sync of one whole walk range is the same for every member while the group holds the same there (its version), and not after a change in it', () => {
    const { rib, events } = newRib({ flushChunk: 2 });
    rib.setReflector(true);
    const [src, a, b, c] = ['10.0.0.1', '10.0.0.2', '10.0.0.3', '10.0.0.4'].map((address) => upPeer(rib, { address, rrClient: true }));
    const wire = new Wire(rib, events);
    wire.start(src);
    for (const k of ['10.1.0.0/24', '10.2.0.0/24', '10.3.0.0/24']) rib.update(src, announcement(k, attrs(), '10.0.0.1'));
    wire.drain();
    const syncAll = (p: PeerRib): SyncBatch[] => {
      rib.out.startSync(p);
      const out: SyncBatch[] = [];
      for (;;) {
        const x = rib.out.syncBatch(p, ctx);
        out.push(x);
        if (x.done) return rib.out.join(p), out;
      }
    };
    const ofA = syncAll(a);
    const ofB = syncAll(b);
    expect(ofA.map((x) => x.keys)).toEqual([['10.1.0.0/24', '10.2.0.0/24'], ['10.3.0.0/24'], []]);
    expect(ofB.map((x) => x.walk)).toEqual(ofA.map((x) => x.walk));
    expect(ofA[0].walk).toBeDefined();
    // The group exports a change in the first range only.
    rib.update(src, announcement('10.1.0.0/24', attrs({ med: 5 }), '10.0.0.1'));
    wire.drain();
    const ofC = syncAll(c);
    expect(ofC[0].walk?.range).toBe(ofA[0].walk?.range);
    expect(ofC[0].walk?.version).not.toBe(ofA[0].walk?.version);
    expect(ofC[1].walk).toEqual(ofA[1].walk);
  });

  it('a client is owed a withdrawal of its own route only where the group had advertised the prefix before (a new prefix: nothing goes back)', () => {
    const { rib, src: a, m: b } = clientPair();
    const batchAfter = (update: () => void): ReturnType<Rib['out']['groupBatch']> => {
      update();
      const g = a.group;
      if (!g) throw new Error('a has no group');
      return rib.out.groupBatch(g);
    };
    // New to the group: b gets it, and a (its originator) holds nothing from us to withdraw.
    expect(batchAfter(() => rib.update(a, announcement('10.1.0.0/24', attrs({ localPref: 100 }), a.address)))?.replaced).toBeUndefined();
    // b's better path replaces a's advertisement, which b holds: b is owed its withdrawal.
    expect([...(batchAfter(() => rib.update(b, announcement('10.1.0.0/24', attrs({ localPref: 200 }), b.address)))?.replaced ?? [])]).toEqual(['10.1.0.0/24']);
  });

  it('ADD-PATH: a client gets both clients\' paths of one prefix, each under its identifier; one withdrawn → exactly that identifier withdrawn', () => {
    const { rib, events } = newRib();
    rib.setReflector(true);
    const [a, b, m] = [members[1], members[2], members[5]].map((t) => upPeer(rib, t));
    const wire = new Wire(rib, events);
    for (const p of [a, b, m]) wire.start(p);
    rib.update(a, announcement('10.1.0.0/24', attrs(), a.address));
    rib.update(b, announcement('10.1.0.0/24', attrs(), b.address));
    wire.drain();
    const held = [...wire.view(m).keys()];
    expect(held).toHaveLength(2);
    expect(new Set(held.map((k) => k.split('#')[0]))).toEqual(new Set(['10.1.0.0/24']));
    rib.update(b, announcement('10.1.0.0/24', attrs({ med: 5 }), b.address)); // an update keeps its identifier
    wire.drain();
    expect([...wire.view(m).keys()]).toEqual(held);
    rib.update(a, withdrawal('10.1.0.0/24'));
    wire.drain();
    expect(wire.view(m).size).toBe(1);
    expect(Object.fromEntries(wire.view(m))).toEqual(Object.fromEntries(expected(rib, m)));
  });

  it('ADD-PATH: members that start after our own route was announced (no other table holds it) get it', () => {
    const { rib, events } = newRib();
    const wire = new Wire(rib, events);
    const k = rib.setLocal({ family: 4, address: '10.65.0.64', length: 26 }, rib.intern(attrs()));
    if (k) rib.select(k);
    const first = upPeer(rib, members[5]);
    wire.start(first);
    wire.drain();
    expect(wire.view(first).size).toBe(1);
    // The mesh goes and explicit peers come: a new group, after the first is gone.
    rib.removePeer(first);
    const [m, other] = [members[6], members[7]].map((t) => upPeer(rib, t));
    for (const p of [m, other]) wire.start(p);
    wire.drain();
    for (const p of [m, other]) expect(Object.fromEntries(wire.view(p)), p.address).toEqual(Object.fromEntries(expected(rib, p)));
    expect(wire.view(m).size).toBe(1);
  });

  it('ADD-PATH: a member that stalls while a path goes gets that path withdrawn by identifier when it re-syncs', () => {
    const { rib, events } = newRib();
    rib.setReflector(true);
    const [a, b, m, other] = [members[1], members[2], members[5], members[6]].map((t) => upPeer(rib, t));
    const wire = new Wire(rib, events);
    for (const p of [a, b, m, other]) wire.start(p);
    rib.update(a, announcement('10.1.0.0/24', attrs(), a.address));
    rib.update(b, announcement('10.1.0.0/24', attrs(), b.address));
    wire.drain();
    wire.stallNext.add(m);
    rib.update(a, withdrawal('10.1.0.0/24'));
    wire.drain(); // m misses the withdrawal: it is out of its group
    expect(m.mode).toBe('stalled');
    expect(wire.view(m).size).toBe(2);
    wire.resumeAll();
    wire.drain();
    expect(m.mode).toBe('grouped');
    for (const p of [m, other]) expect(Object.fromEntries(wire.view(p)), p.address).toEqual(Object.fromEntries(expected(rib, p)));
  });
});
