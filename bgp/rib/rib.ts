// The one BGP table, pure: Adj-RIB-In per peer, originated routes, the Loc-RIB with best path,
// the Adj-RIB-Out (update groups, UpdateGroups) and graceful-restart state in both roles. No
// sockets, timers or logs: the speaker calls in with what happened and acts on what comes back
// (events for the route sink and for groups or peers that have something to send).
import type { AfiSafi, NlriPrefix, UpdateMessage } from '../codec/types.js';
import type { NegotiatedSession } from '../fsm/types.js';
import type { PathAttributes, Prefix, RouteSink } from '../types.js';
import { Exports } from './adj-out.js';
import { AttrInterner, WeakTable } from './attrs.js';
import { LOCAL_SOURCE, rankPaths, type PathInfo } from './bestpath.js';
import { UpdateGroups, type OutEvents } from './groups.js';
import type { Path } from './path.js';
import { PeerRib, type PeerOptions, type SessionFacts } from './peer.js';
import { dropPath, mapPaths, putPath } from './addpath.js';
import { PathIds } from './addpath-out.js';
import { multipathNextHops } from './multipath.js';
import { keyOf, keyToPrefix } from './prefix-key.js';
import { PrefixSlots } from './slots.js';

export interface RibConfig {
  asNumber: number;
  routerId: string;
  /** Our cluster id as a route reflector (default routerId). */
  clusterId?: string;
  /** We are restarting (RFC 4724 §4.1): selection waits for every peer's End-of-RIB. */
  deferred?: boolean;
  /** Prefixes per output batch (default FLUSH_CHUNK). */
  flushChunk?: number;
}

/** The route sink gets best-path changes of learned routes; the rest say who has output. */
export interface RibEvents extends OutEvents, RouteSink {}

export interface LocalRoute {
  prefix: Prefix;
  attrs: PathAttributes;
}

/** A best path with its prefix. */
export interface Candidate extends PathInfo {
  prefix: Prefix;
}

/** Stale routes a graceful-restart step dropped (for the log). */
export interface Purge {
  routes: number;
  family?: 4 | 6;
}

const famKey = (f: AfiSafi): string => `${f.afi}/${f.safi}`;

/** onlyPath's "k has no path". */
const NONE = Symbol('no path');

export class Rib {
  readonly peers = new Map<string, PeerRib>();
  /** The peers, for the per-prefix candidate scan (no Map iterator per recompute). */
  private peerList: PeerRib[] = [];
  private readonly local = new Map<string, LocalRoute>();
  /** Prefix keys whose best path shares forwarding with equal paths (ECMP): their next hops, best's first. */
  private readonly multi = new Map<string, readonly string[]>();
  /** Routes with equal attributes share one object, also across UPDATEs (memory per route). */
  readonly attrTable = new AttrInterner();
  /** Shared path objects (see Path). */
  private readonly pathTable = new WeakTable<Path>();
  /** Prefix slots, and the Loc-RIB (each slot's best path). */
  private readonly slots = new PrefixSlots();
  readonly out: UpdateGroups;
  /** ADD-PATH send: the identifiers our paths go under. */
  private readonly pathIds = new PathIds();
  private deferredSelection: boolean;

  constructor(
    readonly config: RibConfig,
    private readonly events: RibEvents,
  ) {
    this.deferredSelection = !!config.deferred;
    const exports = new Exports({ asNumber: config.asNumber, clusterId: config.clusterId ?? config.routerId }, (k) => this.slots.bestOf(k));
    this.out = new UpdateGroups(exports, this.slots, events, (k) => this.allPaths(k), config.flushChunk);
  }

  /** Prefixes in the Loc-RIB. */
  get size(): number {
    return this.slots.selectedCount;
  }

  /** Selection and sending are held back: we are restarting and not every peer's End-of-RIB is in. */
  get deferred(): boolean {
    return this.deferredSelection;
  }

  addPeer(address: string, options: PeerOptions): PeerRib {
    const p = new PeerRib(address, options, this.config.asNumber, this.slots);
    this.peers.set(address, p);
    this.peerList = [...this.peers.values()];
    return p;
  }

  removePeer(p: PeerRib): void {
    this.out.reset(p);
    this.peers.delete(p.address);
    this.peerList = [...this.peers.values()];
    for (const k of this.adjClear(p)) this.select(k);
  }

  /** We have route-reflector clients: iBGP routes are reflected (RFC 4456). */
  setReflector(on: boolean): void {
    this.out.setReflector(on);
  }

  /** The shared attribute object equal to `a`. */
  intern(a: PathAttributes): PathAttributes {
    return this.attrTable.intern(a);
  }

  /** One change to the originated table (attrs undefined: withdraw); the prefix key when it changed anything. Selection is the caller's (select). */
  setLocal(prefix: Prefix, attrs: PathAttributes | undefined): string | undefined {
    const k = keyOf(prefix);
    if (attrs) {
      this.local.set(k, { prefix, attrs });
      return k;
    }
    return this.local.delete(k) ? k : undefined;
  }

  localRoutes(): IterableIterator<LocalRoute> {
    return this.local.values();
  }

  /** The Loc-RIB path of prefix key k. */
  selected(k: string): Path | undefined {
    return this.slots.bestOf(k);
  }

  /** The next hops installed for prefix key k: several when equal paths share it (ECMP). */
  nextHops(k: string): readonly string[] {
    const m = this.multi.size ? this.multi.get(k) : undefined;
    if (m) return m;
    const b = this.slots.bestOf(k);
    return b && b.source !== LOCAL_SOURCE ? [b.nextHop] : [];
  }

  /** The Loc-RIB best paths. */
  bestPaths(): Candidate[] {
    return [...this.slots.selected()].map(([k, b]) => {
      const { family: _f, ...c } = b;
      return { ...c, prefix: keyToPrefix(k) };
    });
  }

  /** An UPDATE (not End-of-RIB) from p: withdrawals, then announcements, each re-selected. */
  update(p: PeerRib, u: UpdateMessage): void {
    const changed: string[] = [];
    // The prefix of each change, as the UPDATE had it: parsed once here, not again from its key.
    const prefixes: Prefix[] = [];
    // And its slot as the Adj-RIB-In write left it (selection checks it still holds the key).
    const slotHints: number[] = [];
    const change = (k: string, n: NlriPrefix, slot: number): void => {
      changed.push(k);
      // A copy only to leave a path identifier behind: decoded prefixes are not changed later.
      prefixes.push(n.pathId === undefined ? n : { family: n.family, address: n.address, length: n.length });
      slotHints.push(slot);
    };
    for (const w of [...u.withdrawn, ...(u.mpUnreach?.withdrawn ?? [])]) {
      const k = keyOf(w);
      const slot = this.adjWithdraw(p, k, w.pathId);
      if (slot !== undefined) change(k, w, slot);
    }
    const attrs = u.attributes && this.attrTable.intern(u.attributes);
    const ok = !!attrs && this.acceptable(p, attrs);
    // One shared path object per (next hop, family) of this UPDATE.
    let last: Path | undefined;
    const pathFor = (a: PathAttributes, nextHop: string, family: 4 | 6): Path => {
      if (last?.nextHop !== nextHop || last.family !== family)
        last = this.pathOf({ attrs: a, nextHop, family, source: p.address, ebgp: p.ebgp, peerRouterId: p.routerId, fromRrClient: !!p.options.rrClient });
      return last;
    };
    const add = (prefix: NlriPrefix, nextHop: string | undefined): void => {
      const k = keyOf(prefix);
      if (!attrs || !nextHop || !ok) {
        p.rejected++;
        const slot = this.adjWithdraw(p, k, prefix.pathId);
        if (slot !== undefined) change(k, prefix, slot);
        return;
      }
      const path = pathFor(attrs, nextHop, prefix.family === 6 ? 6 : 4);
      change(k, prefix, this.adjSet(p, k, prefix.pathId === undefined ? path : putPath(p, k, prefix.pathId, path)));
    };
    for (const n of u.nlri) add(n, u.attributes?.nextHop);
    if (u.mpReach) {
      const nh = u.mpReach.nextHops.find((a) => !a.toLowerCase().startsWith('fe80')) ?? u.mpReach.nextHops[0];
      for (const n of u.mpReach.nlri) add(n, nh);
    }
    for (let i = 0; i < changed.length; i++) this.select(changed[i], p, prefixes[i], slotHints[i]);
  }

  /** Import checks: AS_PATH loop (eBGP), ORIGINATOR_ID / CLUSTER_LIST loops (RFC 4456). */
  private acceptable(p: PeerRib, a: PathAttributes): boolean {
    if (p.ebgp && a.asPath.reduce((n, s) => n + s.asns.filter((x) => x === this.config.asNumber).length, 0) > (p.options.allowLocalAs ?? 0)) return false;
    if (a.originatorId === this.config.routerId) return false;
    if (a.clusterList?.includes(this.config.clusterId ?? this.config.routerId)) return false;
    return true;
  }

  /** The shared path object for these fields (see Path). */
  private pathOf(b: Omit<Path, 'stale'> & { stale?: boolean }): Path {
    const attrs = this.attrTable.intern(b.attrs);
    // join, not a template literal: V8 keeps a template's result as a tree of string pieces
    // (about 16 objects, 500 bytes per distinct path); join makes one flat string.
    const key = [this.attrTable.id(attrs), b.nextHop, b.family, b.source, b.peerRouterId, b.ebgp ? 1 : 0, b.fromRrClient ? 1 : 0, b.stale ? 1 : 0].join('|');
    // A literal of fixed shape: a frozen spread of `b` got a hidden class of its own per object
    // (about 250 bytes per distinct path).
    return this.pathTable.get(key, () => Object.freeze<Path>({ attrs, nextHop: b.nextHop, family: b.family, source: b.source, ebgp: b.ebgp, peerRouterId: b.peerRouterId, fromRrClient: b.fromRrClient, stale: b.stale }));
  }

  /** Our originated route as a path. */
  private localPath(l: LocalRoute): Path {
    return this.pathOf({ attrs: l.attrs, nextHop: '', family: l.prefix.family === 6 ? 6 : 4, source: LOCAL_SOURCE, ebgp: false, peerRouterId: this.config.routerId });
  }

  /** ADD-PATH send: every path of prefix key k with the identifier we advertise it under; none while k has no best path (e.g. selection deferred). */
  allPaths(k: string): Array<readonly [number, Path]> {
    const slot = this.slots.get(k);
    if (!this.slots.bestAt(slot)) return [];
    const out: Array<readonly [number, Path]> = [];
    const l = this.local.get(k);
    if (l) out.push([this.pathIds.of(LOCAL_SOURCE, undefined), this.localPath(l)]);
    for (const r of this.holders(slot)) {
      const p = this.peers.get(r.source);
      if (!p) continue;
      const set = p.paths.size ? p.paths.get(k) : undefined;
      if (!set) out.push([this.pathIds.of(p.address, undefined), this.current(p, r)]);
      else for (const [rx, x] of set) out.push([this.pathIds.of(p.address, rx), this.current(p, x)]);
    }
    return out;
  }

  /**
   * k's path when it has exactly one and `from` sent it (a single-holder prefix: the usual case,
   * needing no array); NONE when it has none; undefined when the full scan must decide.
   */
  private onlyPath(k: string, slot: number | undefined, from?: PeerRib): Path | typeof NONE | undefined {
    if (this.local.size && this.local.has(k)) return undefined;
    const held = this.slots.heldAt(slot);
    if (!held) return NONE;
    if (!from || Array.isArray(held) || (held as Path).source !== from.address || (from.paths.size && from.paths.has(k))) return undefined;
    return this.current(from, held as Path);
  }

  /** k's paths: our own, and each peer's (`from`: the peer whose change this is, known without a lookup). */
  private candidates(k: string, slot: number | undefined, from?: PeerRib): Path[] {
    const out: Path[] = [];
    const l = this.local.size ? this.local.get(k) : undefined;
    if (l) out.push(this.localPath(l));
    for (const r of this.holders(slot)) {
      const p = r.source === from?.address ? from : this.peers.get(r.source);
      if (!p) continue;
      // Its ADD-PATH set, or r.
      const set = p.paths.size ? p.paths.get(k) : undefined;
      if (!set) out.push(this.current(p, r));
      else for (const x of set.values()) out.push(this.current(p, x));
    }
    return out;
  }

  /** The paths peers sent for the prefix at this slot, as a list. */
  private holders(slot: number | undefined): readonly Path[] {
    const held = this.slots.heldAt(slot);
    return !held ? [] : Array.isArray(held) ? (held as readonly Path[]) : [held as Path];
  }

  /** Path x of peer p with the peer's current router id (it may have changed since the route came). */
  private current(p: PeerRib, x: Path): Path {
    return x.peerRouterId === p.routerId ? x : this.pathOf({ ...x, peerRouterId: p.routerId });
  }

  /**
   * Re-runs best-path selection for prefix key k (`from`: the peer whose change this is; `parsed`:
   * k's prefix, when the caller has it; `slotHint`: k's slot when the caller had it, checked).
   */
  select(k: string, from?: PeerRib, parsed?: Prefix, slotHint?: number): void {
    if (this.deferredSelection) return; // restarting: selection waits for peers' End-of-RIB
    // One slot lookup (none with a hint that still holds k) for the best path, the holder count and the write.
    let slot = slotHint === undefined ? this.slots.get(k) : this.slots.current(k, slotHint);
    const prev = this.slots.bestAt(slot);
    // One path (or none): no candidate array, no ranking (an array per selection was a tenth of
    // what a fan-in allocated).
    const only = this.onlyPath(k, slot, from);
    const cands = only === undefined ? this.candidates(k, slot, from) : undefined;
    const ranked = cands && cands.length > 1 ? rankPaths(cands) : cands;
    const next = only === undefined ? ranked?.[0] : only === NONE ? undefined : only;
    // The change log keeps the slot as a hint: freed here (no group advertises k), it is checked there.
    if (next) {
      if (next !== prev) this.slots.setBest((slot ??= this.slots.for(k)), next);
    } else if (prev && slot !== undefined) this.slots.setBest(slot, undefined);
    const hopsChanged = this.setMultipath(k, ranked && ranked.length > 1 ? multipathNextHops(ranked) : undefined);
    // Groups that send every path (ADD-PATH) owe any change of k's paths, not only of its best.
    const allPaths = this.out.sendsAllPaths;
    if (next === prev && !hopsChanged) {
      if (allPaths) this.out.record(k, slot);
      return; // same shared path and next hops: nothing changed for the sink or any best-path export
    }
    this.emitSink(k, prev, next, hopsChanged, parsed);
    // Best-path exports: an equal path coming or going changes no advertisement.
    if (next !== prev || allPaths) this.out.record(k, slot);
  }

  /** Records k's ECMP next hops (undefined: a single path); whether they changed. */
  private setMultipath(k: string, hops: string[] | undefined): boolean {
    if (!hops && !this.multi.size) return false; // no ECMP anywhere: no lookup
    const had = this.multi.get(k);
    if (!hops) return had ? this.multi.delete(k) : false;
    if (had && had.length === hops.length && had.every((h, i) => h === hops[i])) return false;
    this.multi.set(k, hops);
    return true;
  }

  /** Sink events for a best-path or next-hop change. */
  private emitSink(k: string, prev: Path | undefined, next: Path | undefined, hopsChanged: boolean, parsed: Prefix | undefined): void {
    const learned = (c: Path | undefined): c is Path => !!c && c.source !== LOCAL_SOURCE;
    if (learned(next)) {
      if (hopsChanged || !learned(prev) || prev.nextHop !== next.nextHop || prev.source !== next.source || prev.attrs !== next.attrs) {
        const prefix = parsed ?? keyToPrefix(k);
        const multi = this.multi.size ? this.multi.get(k) : undefined;
        this.events.onRoute({ type: 'install', prefix, nextHops: multi ? [...multi] : [next.nextHop], sourcePeer: next.source, attrs: next.attrs });
      }
    } else if (learned(prev)) {
      this.events.onRoute({ type: 'withdraw', prefix: parsed ?? keyToPrefix(k), sourcePeer: prev.source });
    }
  }

  // ---- sessions and graceful restart (RFC 4724, RFC 8538)

  /**
   * The peer's session is established. A restarting peer we were helping keeps its stale routes
   * until its End-of-RIB, or until the returned stale timer (ms) expires; a family it no longer
   * preserves is purged now.
   */
  sessionUp(p: PeerRib, s: SessionFacts): { staleTimerMs?: number; purged: Purge[] } {
    p.routerId = s.routerId;
    p.selfAddress = s.selfAddress;
    p.afis = s.afis;
    p.peerGr = s.peerGr;
    p.eorFrom.clear();
    this.out.reset(p);
    const purged: Purge[] = [];
    if (!p.helping) return { purged };
    if (!s.peerGr) {
      purged.push(this.purgeStale(p));
      return { purged };
    }
    const staleTimerMs = Math.max(s.peerGr.restartTime, 1) * 1000 * 3;
    // RFC 4724 §4.2: a family the peer no longer lists, or lists without F, lost its forwarding
    // state in the restart: its stale routes go now, not at End-of-RIB.
    for (const family of [4, 6] as const) {
      const afi = family === 4 ? 1 : 2;
      if (!s.peerGr.families.some((f) => f.afi === afi && f.safi === 1 && f.forwardingState)) purged.push(this.purgeStale(p, family));
    }
    return { ...(p.helping ? { staleTimerMs } : {}), purged };
  }

  /**
   * The peer's session went down. `graceful`: we do GR and no NOTIFICATION rules it out — then the
   * routes of a peer that advertised GR stay, as stale, for its restart time (the helper role).
   */
  sessionDown(p: PeerRib, graceful: boolean): { staleTimerMs: number; routes: number } | { dropped: number } {
    this.out.reset(p);
    // RFC 4724 §4.2: only the families the peer listed in its capability are kept (BIRD's default
    // `graceful restart aware` lists none: its routes go at once, as BIRD itself drops them).
    const kept = graceful && p.peerGr ? new Set(p.peerGr.families.filter((f) => f.safi === 1).map((f) => (f.afi === 1 ? 4 : 6))) : undefined;
    if (kept?.size && p.peerGr && p.adjIn.size) {
      const dropped: string[] = [];
      for (const [k, r, slot] of this.slots.heldBy(p.address)) {
        if (kept.has(r.family)) this.slots.put(slot, mapPaths(p, k, (x) => this.pathOf({ ...x, stale: true })) ?? this.pathOf({ ...r, stale: true }));
        else dropped.push(k);
      }
      for (const k of dropped) this.adjDelete(p, k);
      for (const k of dropped) this.select(k, p);
      p.helping = p.adjIn.size > 0;
      if (p.helping) return { staleTimerMs: p.peerGr.restartTime * 1000, routes: p.adjIn.size };
      return { dropped: dropped.length };
    }
    const keys = this.adjClear(p);
    for (const k of keys) this.select(k, p);
    return { dropped: keys.length };
  }

  /** Drops the peer's stale routes: all of them, or one family's (helping goes on while others remain). */
  purgeStale(p: PeerRib, family?: 4 | 6): Purge {
    const keys: string[] = [];
    let othersStale = false;
    for (const [k, r] of p.adjIn) {
      const set = p.paths.get(k);
      if (!(set ? [...set.values()].some((x) => x.stale) : r.stale)) continue;
      if (family === undefined || r.family === family) keys.push(k);
      else othersStale = true;
    }
    if (!othersStale) p.helping = false;
    for (const k of keys) {
      // ADD-PATH: the paths the peer refreshed since its restart stay.
      const rest = mapPaths(p, k, (x) => (x.stale ? undefined : x));
      if (rest) this.adjSet(p, k, rest);
      else this.adjDelete(p, k);
    }
    for (const k of keys) this.select(k, p);
    return { routes: keys.length, ...(family ? { family } : {}) };
  }

  /** End-of-RIB from p for a family: its stale routes of that family go. */
  endOfRib(p: PeerRib, f: AfiSafi): Purge {
    p.eorFrom.add(famKey(f));
    const family = f.afi === 1 ? 4 : 6;
    // Routes are stale only while we help the peer restart: otherwise there is nothing to look
    // for, and the scan of its whole Adj-RIB-In is skipped (every session's first End-of-RIB).
    if (!p.helping) return { routes: 0, family };
    return this.purgeStale(p, family);
  }

  /**
   * Restarting speaker: selection may resume once every configured peer is back and sent
   * End-of-RIB for its families (RFC 4724 §4.1). A peer whose OPEN carried R is restarting too and
   * waits for us: it must not be waited for in turn (the R bit's deadlock avoidance).
   */
  deferralDone(sessionOf: (p: PeerRib) => NegotiatedSession | undefined): boolean {
    if (!this.deferredSelection || !this.peerList.length) return false;
    return this.peerList.every((p) => {
      const s = sessionOf(p);
      return !!s && (!!s.peerGracefulRestart?.restarting || s.families.every((f) => p.eorFrom.has(famKey(f))));
    });
  }

  /** Our restart is over: selection runs for every prefix we know. */
  endDeferral(): void {
    if (!this.deferredSelection) return;
    this.deferredSelection = false;
    const keys = new Set<string>([...this.local.keys(), ...this.slots.heldKeys()]);
    for (const k of keys) this.select(k);
  }

  // ---- Adj-RIB-In writes: the paths live in the prefix table, the peer keeps its count

  /** Sets p's path for k; returns k's slot. */
  private adjSet(p: PeerRib, k: string, b: Path): number {
    const slot = this.slots.for(k);
    if (this.slots.put(slot, b)) p.adjIn.size++;
    return slot;
  }

  /** Withdraws one path (ADD-PATH: by identifier; the peer's best remaining path then stands for it); k's slot (-1: none left), undefined when p had no path for k. */
  private adjWithdraw(p: PeerRib, k: string, id: number | undefined): number | undefined {
    if (id === undefined || !p.paths.has(k)) return this.adjDelete(p, k);
    const rest = dropPath(p, k, id);
    if (!rest) return this.adjDelete(p, k);
    return this.adjSet(p, k, rest);
  }

  /** Drops p's path for k; k's slot (maybe freed already), undefined when p had none. */
  private adjDelete(p: PeerRib, k: string): number | undefined {
    if (p.paths.size) p.paths.delete(k);
    if (!p.adjIn.size) return undefined;
    const slot = this.slots.get(k);
    if (slot === undefined || !this.slots.drop(slot, p.address)) return undefined;
    p.adjIn.size--;
    return slot;
  }

  /** Empties a peer's Adj-RIB-In; returns the keys it held. */
  private adjClear(p: PeerRib): string[] {
    const keys: string[] = [];
    if (p.adjIn.size) for (const [k, , slot] of this.slots.heldBy(p.address)) {
      keys.push(k);
      this.slots.drop(slot, p.address);
    }
    p.adjIn.size = 0;
    p.paths.clear();
    return keys;
  }
}
