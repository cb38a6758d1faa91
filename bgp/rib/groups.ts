// Adj-RIB-Out: update groups fed from one change log, and the peers outside any group (syncing
// their table, or stalled). Decides what each group or peer must send; encoding and writing are
// the speaker's. Scheduling is the caller's too: the events say when a group or peer has work.
import type { CodecContext, NlriPrefix } from '../codec/types.js';
import type { Prefix } from '../types.js';
import { Announcements, type Exporter, type Exports, type OutAttr, type OutGroup, type OutPolicy } from './adj-out.js';
import type { Path } from './path.js';
import type { PeerRib } from './peer.js';
import { addPathFamilies, pathKey, pathsOut, snapshotHeld } from './addpath-out.js';
import { keyToPrefix } from './prefix-key.js';
import type { PrefixSlots } from './slots.js';

/** Prefixes exported per group (or syncing peer) per batch. */
export const FLUSH_CHUNK = 4000;

export interface OutEvents {
  /** The group has changes to export (`more`: the rest of a batch in progress). */
  groupChanged(g: OutGroup, more: boolean): void;
  /** The peer, syncing outside its group, has queued prefixes (`more`: the rest of a batch in progress). */
  peerChanged(p: PeerRib, more: boolean): void;
  /** Change-log entries may be droppable: call trim() once this turn. */
  trimDue(): void;
}

/** One batch of a group: what changed for every member, as decided against its adjOut. */
export interface GroupBatch {
  routes: Announcements;
  withdrawals: Prefix[];
  /** Our own routes in this batch (per-address exports): slot key, prefix and (ADD-PATH) which of our paths. */
  own: Array<[string, NlriPrefix, Path?]>;
  /** Prefix keys of the batch (a member that misses it must get them again). */
  keys: string[];
  /**
   * What this batch does, as (log position, OutAttr id or -1 = withdraw) pairs: groups whose
   * batches agree on it (and on the codec context) send the same bytes.
   */
  decisions: number[];
  start: number;
  end: number;
  /** ADD-PATH send: what the group held before this batch for the prefixes it changed (a member that misses the batch still holds it). */
  prev?: Map<string, ReadonlyMap<number, OutAttr> | undefined>;
  /**
   * Announcements (pathKey) that replace something the group had advertised: only for these can
   * the route's originator hold an older route from us, to be withdrawn (see framesFor). A prefix
   * new to the group is held by no member, its originator included.
   */
  replaced?: Set<string>;
}

/** One batch of a syncing member: exports (to encode or reuse) and withdrawals. */
export interface SyncBatch {
  outs: OutAttr[];
  keys: string[];
  /** ADD-PATH send: the path identifier of each of outs (undefined: a best-path prefix). */
  ids: Array<number | undefined>;
  withdrawals: NlriPrefix[];
  /** The member's queue is empty: it holds what its group holds (call join). */
  done: boolean;
  /**
   * Set when the batch is one whole walk range of the group's Adj-RIB-Out and nothing else (no
   * queued prefix, none of our own routes, which go per member address): the same for every
   * member while the range's version stands (OutGroup.versions).
   */
  walk?: { range: number; version: number };
}

export class UpdateGroups {
  readonly groups = new Map<string, OutGroup>();
  /**
   * Loc-RIB changes not yet exported by every group, one entry per change (absolute position =
   * logBase + index): one append per change instead of one set insertion per group.
   */
  private changeLog: string[] = [];
  /** The slot each change-log entry had when recorded (-1: none): checked, not trusted (see PrefixSlots.current). */
  private changeSlots: number[] = [];
  private logBase = 0;
  /** Established peers outside any group (stalled, or about to sync): changes go to their own queue. */
  private readonly unsynced = new Set<PeerRib>();

  constructor(
    private readonly exports: Exports,
    private readonly slots: PrefixSlots,
    private readonly events: OutEvents,
    /** ADD-PATH send: every path of a prefix key with its identifier (none while it has no best path). */
    private readonly allPaths: (k: string) => ReadonlyArray<readonly [number, Path]>,
    /** Prefixes per batch (tests make it small to interleave syncs with group batches). */
    private readonly chunk = FLUSH_CHUNK,
  ) {}

  /** Groups that send every path (ADD-PATH). */
  private allPathGroups = 0;

  /** Some group sends every path (ADD-PATH): a change of any path, not only the best, is a change to record. */
  get sendsAllPaths(): boolean {
    return this.allPathGroups > 0;
  }

  /**
   * A Loc-RIB change of prefix k (at `slot`, when the caller knows it): every group and unsynced
   * peer owes it. The log keeps the key, which the RIB holds anyway, not a parsed prefix: entries
   * wait out the advertisement interval, long enough for V8 to move them to the old generation,
   * where a parsed prefix per change became garbage that only a full collection frees (RSS).
   */
  record(k: string, slot?: number): void {
    if (this.groups.size) {
      this.changeLog.push(k);
      this.changeSlots.push(slot ?? -1);
      // Told once until its next batch, not once per change (each telling cost the speaker a closure).
      for (const g of this.groups.values())
        if (!g.owed) {
          g.owed = true;
          this.events.groupChanged(g, false);
        }
    }
    for (const p of this.unsynced) {
      // Already sent in this sync (or held from before a stall): the peer may have an old copy.
      if (!p.pending.has(k)) p.pending.set(k, true);
      if (p.mode === 'sync') this.events.peerChanged(p, false);
    }
  }

  /** The group is still in use (a scheduled flush of a group since dropped does nothing). */
  isLive(g: OutGroup): boolean {
    return this.groups.get(g.key) === g;
  }

  setReflector(on: boolean): void {
    this.exports.setReflector(on, this.groups.values());
  }

  /** The next batch of a group (undefined: nothing to send); schedules the rest. */
  groupBatch(g: OutGroup): GroupBatch | undefined {
    g.owed = false;
    const b: GroupBatch = { routes: new Announcements(), withdrawals: [], own: [], keys: [], decisions: [], start: g.cursor, end: 0 };
    const log = this.changeLog;
    b.end = Math.min(this.logBase + log.length, g.cursor + this.chunk);
    for (; g.cursor < b.end; g.cursor++) {
      const i = g.cursor - this.logBase;
      const k = log[i];
      if (g.paths && g.addPathFamilies?.has(k.includes(':') ? 6 : 4)) {
        this.pathsBatch(g, k, keyToPrefix(k), b);
        continue;
      }
      const slot = this.slots.current(k, this.changeSlots[i]);
      const r = this.exports.routeOf(g, k, this.slots.bestAt(slot));
      const had = this.adjOutOf(g, slot);
      if (!r) {
        if (had && slot !== undefined) {
          this.setAdjOut(g, slot, 0);
          b.withdrawals.push(keyToPrefix(k));
          b.keys.push(k);
          b.decisions.push(g.cursor, -1);
        }
        continue;
      }
      if (had === r.id) continue;
      if (had) (b.replaced ??= new Set()).add(k);
      this.setAdjOut(g, slot ?? this.slots.for(k), r.id);
      const prefix = keyToPrefix(k);
      if (r.perAddress) b.own.push([k, prefix]);
      else b.routes.add(r, prefix);
      b.keys.push(k);
      b.decisions.push(g.cursor, r.id);
    }
    if (g.cursor < this.logBase + log.length) this.events.groupChanged(g, true);
    else this.events.trimDue();
    return b.keys.length ? b : undefined;
  }

  /** ADD-PATH send: prefix k's paths against what the group holds — each new or changed path announced under its identifier, each gone one withdrawn by it. */
  private pathsBatch(g: OutGroup, k: string, prefix: Prefix, b: GroupBatch): void {
    const paths = g.paths;
    if (!paths) return;
    const want = this.exports.pathsFor(g, k, this.allPaths(k));
    const had = paths.get(k);
    const d = pathsOut(had, want, prefix);
    if (!d.announce.length && !d.withdraw.length) return;
    for (const [out, p] of d.announce) {
      if (had?.has(p.pathId ?? 0)) (b.replaced ??= new Set()).add(pathKey(k, p.pathId));
      if (out.perAddress) b.own.push([k, p, out.perAddress]);
      else b.routes.add(out, p);
      b.decisions.push(g.cursor, -2, p.pathId ?? 0, out.id);
    }
    for (const p of d.withdraw) {
      b.withdrawals.push(p);
      b.decisions.push(g.cursor, -3, p.pathId ?? 0);
    }
    b.keys.push(k);
    b.prev ??= new Map();
    if (!b.prev.has(k)) b.prev.set(k, had);
    g.count += want.size - (had?.size ?? 0);
    if (want.size) paths.set(k, want);
    else paths.delete(k);
  }

  /** A batch's own routes as exported with one member address (see OutGroup). */
  ownBatch(g: OutGroup, self: string, own: ReadonlyArray<[string, NlriPrefix, Path?]>): { routes: Announcements; withdrawals: NlriPrefix[] } {
    const ex = this.ownExporter(g, self);
    const routes = new Announcements();
    // Where the export is empty (no next hop of this family on this address) the member may
    // hold the previous export from the shared part: withdraw (harmless if it had nothing).
    const withdrawals: NlriPrefix[] = [];
    for (const [k, prefix, path] of own) {
      const r = path ? this.exports.pathExport(ex, path) : this.exports.routeFor(ex, k);
      if (r) routes.add(r, prefix);
      else withdrawals.push(prefix);
    }
    return { routes, withdrawals };
  }

  /** The exporter of our own routes with one member address. */
  private ownExporter(g: OutGroup, self: string): Exporter {
    let ex = g.bySelf.get(self);
    if (!ex) {
      if (g.bySelf.size > 2 * g.members.size + 8) g.bySelf.clear();
      ex = { policy: { ...g.policy, selfAddress: self || undefined }, cache: new WeakMap() };
      g.bySelf.set(self, ex);
    }
    return ex;
  }

  /** Drops the change-log entries every group has exported; returns the oldest cursor. */
  trim(): number {
    let min = this.logBase + this.changeLog.length;
    for (const g of this.groups.values()) min = Math.min(min, g.cursor);
    const n = min - this.logBase;
    if (n === this.changeLog.length) {
      this.changeLog = [];
      this.changeSlots = [];
    } else if (n > 4096 && n * 2 > this.changeLog.length) {
      this.changeLog = this.changeLog.slice(n);
      this.changeSlots = this.changeSlots.slice(n);
    } else return min;
    this.logBase = min;
    return min;
  }

  /**
   * The initial table for a newly established peer, from its own queue. Its first syncBatch makes
   * it a member of its group at once: from then on it gets the group's batches like every member,
   * and its queue brings it to what the group holds (not to the Loc-RIB), so the changes that
   * arrive meanwhile are exported and encoded once for the group, not once per syncing peer.
   */
  startSync(p: PeerRib): void {
    this.reset(p);
    p.eorPending = true;
    p.mode = 'sync';
    this.unsynced.add(p);
    p.tableWalk = 0;
  }

  /** Route refresh: the whole table again, as replacements; false when the peer is stalled (sent once it drains). */
  resync(p: PeerRib): boolean {
    if (p.mode === 'idle') return false;
    // Every prefix it holds but those in `pending` is what its group holds: the walk needs no
    // withdrawals (a stalled peer's pending prefixes are sent as "may have" once it drains).
    p.tableWalk = 0;
    p.pathWalk = undefined;
    if (p.mode === 'stalled') return false;
    p.mode = 'sync';
    return true;
  }

  /**
   * The next chunk of a syncing peer's queue: each prefix as its group's Adj-RIB-Out holds it, so
   * that once the queue is empty the peer holds exactly what every member holds, and the group's
   * pending changes bring it up to date with them (a prefix exported as the Loc-RIB has it now
   * could be one the group is about to change back, and so never send again).
   */
  syncBatch(p: PeerRib, ctx: CodecContext): SyncBatch {
    const g = p.group ?? this.enter(p, ctx);
    const b: SyncBatch = { outs: [], keys: [], ids: [], withdrawals: [], done: false };
    let own: Exporter | undefined;
    let budget = this.chunk;
    // Consecutive prefixes mostly share an export: a one-entry cache in front of byId.
    let lastId = 0;
    let last: OutAttr | undefined;
    const ownExport = (): Exporter => (own ??= this.ownExporter(g, p.selfAddress ?? ''));
    // Our own routes in the batch: it is this member's alone (see SyncBatch.walk).
    let perMember = false;
    let lastOwn = false;
    const push = (id: number, k: string, mayHave: boolean): void => {
      // ADD-PATH send: every path the group holds for k, under its identifiers.
      if (g.paths && g.addPathFamilies?.has(k.includes(':') ? 6 : 4)) return this.syncPaths(p, g, k, mayHave, b, ownExport);
      let r = last;
      if (id !== lastId) {
        r = this.exports.byId(id);
        lastOwn = !!r?.perAddress;
        // Our own route, held by the group as "exported with each member's address".
        if (r?.perAddress) r = this.exports.pathExport(ownExport(), r.perAddress);
        lastId = id;
        last = r;
      }
      if (lastOwn) perMember = true;
      if (r) {
        b.outs.push(r);
        b.keys.push(k);
        b.ids.push(undefined);
      } else if (mayHave) b.withdrawals.push(keyToPrefix(k));
    };
    const queued = p.pending.size > 0;
    for (const [k, mayHave] of p.pending) {
      if (budget-- <= 0) break;
      p.pending.delete(k);
      push(this.adjOutOf(g, this.slots.get(k)), k, mayHave);
    }
    // The walk goes over the group's Adj-RIB-Out by slot, one range of `chunk` slots per batch
    // (after the queue, in batches of their own): the peer is a member already, so what the
    // group changes from now on reaches it in the group's batches; the walk owes it only what
    // the group holds (a slot freed and reused meanwhile holds the group's current export, or 0).
    while (!queued && p.tableWalk !== undefined) {
      const from = p.tableWalk;
      if (from >= g.adjOut.length) {
        p.tableWalk = undefined;
        // A group sending every path holds an ADD-PATH family's prefixes in g.paths, not in
        // adjOut (and a slot only while some table needs one): they have a walk of their own.
        if (g.paths) p.pathWalk = { paths: g.paths, keys: g.paths.keys() };
        break;
      }
      p.tableWalk = from + this.chunk;
      const to = Math.min(from + this.chunk, g.adjOut.length);
      for (let slot = from; slot < to; slot++) {
        const id = g.adjOut[slot];
        if (id) push(id, this.slots.keys[slot], false);
      }
      if (!b.outs.length && !b.withdrawals.length) continue;
      const range = this.rangeOf(from);
      if (!perMember) b.walk = { range, version: g.versions[range] };
      budget = 0;
      break;
    }
    // Live, as the slot walk: prefixes the group gains meanwhile are visited, ones it drops are not.
    // A member that stalled mid-walk may come back to a new group (the old one went with its last
    // member): the walk starts again over the paths its group holds now.
    if (p.pathWalk && p.pathWalk.paths !== g.paths) p.pathWalk = g.paths ? { paths: g.paths, keys: g.paths.keys() } : undefined;
    while (p.pathWalk !== undefined && budget > 0) {
      const next = p.pathWalk.keys.next();
      if (next.done) {
        p.pathWalk = undefined;
        break;
      }
      budget--;
      this.syncPaths(p, g, next.value, false, b, ownExport);
    }
    b.done = !p.pending.size && p.tableWalk === undefined && p.pathWalk === undefined;
    if (b.done) p.heldPaths = undefined;
    return b;
  }

  /**
   * ADD-PATH send, one prefix of a syncing member: every path its group holds, and (when it may
   * hold older ones: a stall) a withdrawal for each identifier it held then that the group no longer has.
   */
  private syncPaths(p: PeerRib, g: OutGroup, k: string, mayHave: boolean, b: SyncBatch, own: () => Exporter): void {
    const cur = g.paths?.get(k);
    const held = mayHave ? p.heldPaths?.get(k) : undefined;
    p.heldPaths?.delete(k);
    const prefix = keyToPrefix(k);
    for (const [id, out] of cur ?? []) {
      const r = out.perAddress ? this.exports.pathExport(own(), out.perAddress) : out;
      if (r) {
        b.outs.push(r);
        b.keys.push(k);
        b.ids.push(id);
      } else if (mayHave) b.withdrawals.push({ ...prefix, pathId: id });
    }
    if (held) for (const id of held.keys()) if (!cur?.has(id)) b.withdrawals.push({ ...prefix, pathId: id });
  }

  /**
   * A syncing member's queue is empty: it holds what its group holds and is fed by the group
   * alone. Returns true when the peer's End-of-RIB is due now.
   */
  join(p: PeerRib): boolean {
    const eor = p.eorPending;
    p.eorPending = false;
    p.mode = 'grouped';
    return eor;
  }

  /** A peer joins its group (created with the current Loc-RIB's exports when it is the first). */
  private enter(p: PeerRib, ctx: CodecContext): OutGroup {
    const key = this.groupKeyOf(p, ctx);
    let g = this.groups.get(key);
    if (!g) {
      const own = this.policyOf(p);
      // iBGP: no address in the group's policy; our own routes go per member address (see OutGroup).
      const policy = own.ebgp ? own : { ...own, selfAddress: undefined };
      g = { key, members: new Set(), cursor: this.logBase + this.changeLog.length, ctxKey: JSON.stringify(ctx), adjOut: new Int32Array(this.slots.size), versions: new Uint32Array(this.rangeOf(this.slots.size) + 1), count: 0, policy, cache: new WeakMap(), shared: this.exports.sharedCacheOf(policy), perAddress: !policy.ebgp, ctx, bySelf: new Map() };
      const fams = addPathFamilies(ctx);
      if (fams) {
        g.addPathFamilies = fams;
        g.paths = new Map();
        this.allPathGroups++;
      }
      for (const [k, best, slot] of this.slots.selected()) {
        if (g.paths && fams?.has(k.includes(':') ? 6 : 4)) {
          const want = this.exports.pathsFor(g, k, this.allPaths(k));
          if (want.size) g.paths.set(k, want);
          g.count += want.size;
          continue;
        }
        const r = this.exports.routeOf(g, k, best);
        if (r) this.setAdjOut(g, slot, r.id);
      }
      this.groups.set(key, g);
    }
    g.members.add(p);
    p.group = g;
    this.unsynced.delete(p);
    return g;
  }

  /**
   * Takes a peer whose socket is not keeping up out of its group. It missed this batch and will
   * miss whatever the group sends until it drains: those prefixes are re-sent once it re-enters.
   */
  stall(p: PeerRib, batch: readonly string[], prev?: GroupBatch['prev']): void {
    const g = p.group;
    // ADD-PATH: which identifiers it may hold per prefix, for the withdrawals its re-sync owes.
    if (g?.paths) p.heldPaths = snapshotHeld(p.heldPaths, g.paths, prev);
    this.leave(p);
    p.mode = 'stalled';
    this.unsynced.add(p);
    for (const k of batch) p.pending.set(k, true);
    if (g) for (let i = g.cursor - this.logBase; i < this.changeLog.length; i++) p.pending.set(this.changeLog[i], true);
  }

  /** The socket of a stalled or syncing peer drained: it syncs on. Returns false when nothing is owed. */
  resume(p: PeerRib): boolean {
    if (p.mode !== 'stalled' && p.mode !== 'sync') return false;
    p.mode = 'sync';
    return true;
  }

  /** Session down or peer removed: nothing is owed to it any more. */
  reset(p: PeerRib): void {
    this.leave(p);
    this.unsynced.delete(p);
    p.mode = 'idle';
    p.pending.clear();
    p.tableWalk = undefined;
    p.pathWalk = undefined;
    p.eorPending = false;
    p.heldPaths = undefined;
  }

  private leave(p: PeerRib): void {
    const g = p.group;
    p.group = undefined;
    if (!g) return;
    g.members.delete(p);
    if (g.members.size) return;
    this.groups.delete(g.key);
    if (g.paths) this.allPathGroups--;
    this.events.trimDue();
    // Its adjOut no longer holds any slot.
    for (let slot = 0; slot < g.adjOut.length; slot++) if (g.adjOut[slot]) this.setAdjOut(g, slot, 0);
  }

  private policyOf(p: PeerRib): OutPolicy {
    return { address: p.address, ebgp: p.ebgp, rrClient: !!p.options.rrClient, selfAddress: p.selfAddress, keepOriginalNextHop: p.options.keepOriginalNextHop, afis: p.afis, exportFilter: p.options.exportFilter };
  }

  /**
   * Peers share a group when everything the export and the encoding depend on is equal. eBGP
   * peers get a group each (split horizon: a route never goes back to the AS it came from);
   * iBGP peers of one role share one, whatever our address on each session (see OutGroup).
   */
  private groupKeyOf(p: PeerRib, ctx: CodecContext): string {
    const pol = this.policyOf(p);
    // What we receive does not change what we send: only the ADD-PATH send families split groups.
    const out = { ...ctx, addPath: [...(addPathFamilies(ctx) ?? [])] };
    return JSON.stringify([pol.ebgp ? pol.address : '', pol.ebgp, pol.rrClient, pol.ebgp ? (pol.selfAddress ?? '') : '', !!pol.keepOriginalNextHop, pol.afis, out, pol.exportFilter?.key ?? '']);
  }

  /** Sets a group's adjOut entry for a prefix slot (id 0: withdrawn), keeping counts and slot refs. */
  private setAdjOut(g: OutGroup, slot: number, id: number): void {
    if (slot >= g.adjOut.length) {
      const grown = new Int32Array(Math.max(slot + 1, this.slots.size, g.adjOut.length * 2));
      grown.set(g.adjOut);
      g.adjOut = grown;
      const versions = new Uint32Array(this.rangeOf(grown.length) + 1);
      versions.set(g.versions);
      g.versions = versions;
    }
    const had = g.adjOut[slot];
    if (had === id) return;
    g.adjOut[slot] = id;
    g.versions[this.rangeOf(slot)]++;
    if (!had && id) {
      g.count++;
      this.slots.ref(slot);
    } else if (had && !id) {
      g.count--;
      this.slots.unref(slot);
    }
  }

  /** The walk range of a slot (see OutGroup.versions). */
  private rangeOf(slot: number): number {
    return Math.floor(slot / this.chunk);
  }

  private adjOutOf(g: OutGroup, slot: number | undefined): number {
    return slot !== undefined && slot < g.adjOut.length ? g.adjOut[slot] : 0;
  }
}
