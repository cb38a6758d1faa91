// Adj-RIB-In per peer and the Loc-RIB, pure. Input checks (AS_PATH loop, RFC 4456 ORIGINATOR_ID /
// CLUSTER_LIST loops, LOCAL_PREF from eBGP ignored) happen here; every mutation returns the
// Loc-RIB changes (best path per prefix) for the export side.
import { prefixToString, type PathAttributes, type Prefix } from '../types.js';
import { AttrTable } from './attrs.js';
import { decisionReason, DEFAULT_LOCAL_PREF, rankPaths, type DecisionReason, type NextHopCheck, type Path } from './bestpath.js';
import { LOCAL, type RibPeer } from './peer.js';

export interface RibOptions {
  localAs: number;
  routerId: string;
  /** Our RFC 4456 cluster id (defaults to routerId). */
  clusterId?: string;
  /** Next-hop reachability hook: unreachable paths lose to reachable ones. */
  nextHopReachable?: NextHopCheck;
}

/** The best path of a prefix changed (best undefined = no route any more). */
export interface LocRibChange {
  key: string;
  prefix: Prefix;
  best: Path | undefined;
  previous: Path | undefined;
}

export type ImportResult = { accepted: true; changes: LocRibChange[] } | { accepted: false; reason: string; changes: LocRibChange[] };

/** Key ↔ prefix: the key is the only per-route copy of the prefix we keep. */
export function prefixKey(p: Prefix): string {
  return prefixToString(p);
}

export function keyToPrefix(k: string): Prefix {
  const i = k.lastIndexOf('/');
  const address = k.slice(0, i);
  return { family: address.includes(':') ? 6 : 4, address, length: Number(k.slice(i + 1)) };
}

/** Loc-RIB slot: a single path (the common case) or all candidates, best first. */
type Slot = Path | Path[];

export class Rib {
  readonly attrs = new AttrTable();
  readonly localAs: number;
  readonly routerId: string;
  readonly clusterId: string;
  private readonly reachable: NextHopCheck | undefined;
  private readonly loc = new Map<string, Slot>();
  private readonly adjIn = new Map<string, { peer: RibPeer; routes: Map<string, Path> }>();
  /** eBGP-adjusted copies per received attributes object, so the interning identity cache hits. */
  private readonly ebgpAdjusted = new WeakMap<PathAttributes, PathAttributes>();

  constructor(opts: RibOptions) {
    this.localAs = opts.localAs;
    this.routerId = opts.routerId;
    this.clusterId = opts.clusterId ?? opts.routerId;
    this.reachable = opts.nextHopReachable;
  }

  /** Why an UPDATE from `peer` must not enter the RIB, or undefined when it may. */
  importCheck(peer: RibPeer, attrs: PathAttributes): string | undefined {
    for (const s of attrs.asPath) if (s.asns.includes(this.localAs)) return `AS_PATH contains our AS ${this.localAs}`;
    if (!peer.ebgp) {
      if (attrs.originatorId === this.routerId) return `ORIGINATOR_ID is our router id ${this.routerId}`;
      if (attrs.clusterList?.includes(this.clusterId)) return `CLUSTER_LIST contains our cluster id ${this.clusterId}`;
    }
    return undefined;
  }

  /** A route from a peer (or LOCAL to originate). Replaces the peer's previous path (implicit withdraw). */
  update(peer: RibPeer, prefix: Prefix, attrs: PathAttributes, nextHop: string): ImportResult {
    const why = peer === LOCAL ? undefined : this.importCheck(peer, attrs);
    if (why) return { accepted: false, reason: why, changes: this.withdraw(peer, prefix) };
    // LOCAL_PREF received over eBGP is ignored (RFC 4271 §5.1.5); ours is the default.
    const a = peer.ebgp && attrs.localPref !== DEFAULT_LOCAL_PREF ? this.adjustEbgp(attrs) : attrs;
    const path: Path = { src: peer, a: this.attrs.intern(a, nextHop) };
    const key = prefixKey(prefix);
    const table = this.peerTable(peer);
    const old = table.routes.get(key);
    table.routes.set(key, path);
    const ch = this.replace(key, old, path);
    if (old) this.attrs.release(old.a);
    return { accepted: true, changes: ch ? [ch] : [] };
  }

  withdraw(peer: RibPeer, prefix: Prefix): LocRibChange[] {
    const key = prefixKey(prefix);
    const table = this.adjIn.get(peer.address);
    const old = table?.routes.get(key);
    if (!table || !old) return [];
    table.routes.delete(key);
    const ch = this.replace(key, old, undefined);
    this.attrs.release(old.a);
    return ch ? [ch] : [];
  }

  /** Session down without graceful restart: all its routes go. */
  dropPeer(peer: RibPeer): LocRibChange[] {
    const table = this.adjIn.get(peer.address);
    if (!table) return [];
    const out: LocRibChange[] = [];
    for (const key of [...table.routes.keys()]) out.push(...this.withdraw(peer, keyToPrefix(key)));
    this.adjIn.delete(peer.address);
    return out;
  }

  /** Graceful restart helper: keep the peer's routes but mark them stale. Returns how many. */
  markStale(peerAddress: string): number {
    const t = this.adjIn.get(peerAddress);
    if (!t) return 0;
    for (const p of t.routes.values()) p.stale = true;
    return t.routes.size;
  }

  /** Removes the peer's routes still stale (End-of-RIB or restart timer), optionally one family. */
  purgeStale(peerAddress: string, family?: 4 | 6): LocRibChange[] {
    const t = this.adjIn.get(peerAddress);
    if (!t) return [];
    const out: LocRibChange[] = [];
    for (const [key, p] of [...t.routes]) {
      if (p.stale && (family === undefined || key.includes(':') === (family === 6))) out.push(...this.withdraw(t.peer, keyToPrefix(key)));
    }
    return out;
  }

  best(prefix: Prefix): Path | undefined {
    const s = this.loc.get(prefixKey(prefix));
    return s === undefined ? undefined : Array.isArray(s) ? s[0] : s;
  }

  /** All candidates best first, with the rule that made the best win. */
  explain(prefix: Prefix): { paths: Path[]; reason: DecisionReason } | undefined {
    const s = this.loc.get(prefixKey(prefix));
    if (s === undefined) return undefined;
    const paths = Array.isArray(s) ? [...s] : [s];
    return { paths, reason: decisionReason(paths, this.reachable) };
  }

  /** Loc-RIB best paths. */
  *entries(): IterableIterator<[string, Path]> {
    for (const [k, s] of this.loc) yield [k, Array.isArray(s) ? s[0] : s];
  }

  adjRibIn(peerAddress: string): ReadonlyMap<string, Path> | undefined {
    return this.adjIn.get(peerAddress)?.routes;
  }

  get size(): number {
    return this.loc.size;
  }

  /** Re-runs selection for every prefix (e.g. after next-hop reachability changed). */
  reselectAll(): LocRibChange[] {
    const out: LocRibChange[] = [];
    for (const [key, s] of this.loc) {
      if (!Array.isArray(s)) continue;
      const before = s[0];
      rankPaths(s, this.reachable);
      if (s[0] !== before) out.push({ key, prefix: keyToPrefix(key), best: s[0], previous: before });
    }
    return out;
  }

  private adjustEbgp(attrs: PathAttributes): PathAttributes {
    let a = this.ebgpAdjusted.get(attrs);
    if (!a) this.ebgpAdjusted.set(attrs, (a = { ...attrs, localPref: DEFAULT_LOCAL_PREF }));
    return a;
  }

  private peerTable(peer: RibPeer): { peer: RibPeer; routes: Map<string, Path> } {
    let t = this.adjIn.get(peer.address);
    if (!t) {
      t = { peer, routes: new Map() };
      this.adjIn.set(peer.address, t);
    }
    return t;
  }

  private replace(key: string, old: Path | undefined, next: Path | undefined): LocRibChange | undefined {
    const s = this.loc.get(key);
    const before = s === undefined ? undefined : Array.isArray(s) ? s[0] : s;
    let list: Path[] = s === undefined ? [] : Array.isArray(s) ? s : [s];
    if (old) list = list.filter((p) => p !== old);
    if (next) list.push(next);
    if (list.length === 0) this.loc.delete(key);
    else if (list.length === 1) this.loc.set(key, list[0]);
    else this.loc.set(key, rankPaths(list, this.reachable));
    const after = list[0];
    if (after === before) return undefined;
    return { key, prefix: keyToPrefix(key), best: after, previous: before };
  }
}
