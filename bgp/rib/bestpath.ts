// RFC 4271 §9.1.2 decision process with the usual tie-breakers (RFC 4456 for reflected routes), in
// this order, each returning the reason that decided: locally originated, next hop reachable,
// highest LOCAL_PREF, shortest AS_PATH (AS_SET counts 1, confederation segments 0), lowest ORIGIN,
// lowest MED among routes from the same neighbour AS (missing MED = 0), eBGP over iBGP, lowest
// router id (ORIGINATOR_ID when present), shortest CLUSTER_LIST, lowest peer address.
import type { AsPathSegment, PathAttributes } from '../types.js';
import { AS_SEQUENCE, AS_SET } from '../types.js';
import type { Interned } from './attrs.js';
import { compareAddresses, LOCAL, type RibPeer } from './peer.js';

export interface Path {
  readonly src: RibPeer;
  readonly a: Interned;
  /** Graceful restart: kept from a restarting peer, to be refreshed or purged. */
  stale?: boolean;
}

export type DecisionReason =
  | 'only-path'
  | 'local-origin'
  | 'next-hop-reachable'
  | 'local-pref'
  | 'as-path-length'
  | 'origin'
  | 'med'
  | 'ebgp-over-ibgp'
  | 'router-id'
  | 'cluster-list-length'
  | 'peer-address'
  | 'equal';

export const DEFAULT_LOCAL_PREF = 100;

export function asPathLength(p: readonly AsPathSegment[]): number {
  let n = 0;
  for (const s of p) n += s.type === AS_SEQUENCE ? s.asns.length : s.type === AS_SET ? 1 : 0;
  return n;
}

/** The AS the route entered our AS from: the first AS of a leading AS_SEQUENCE. */
export function neighbourAs(p: readonly AsPathSegment[]): number | undefined {
  const s = p.find((x) => x.type === AS_SEQUENCE || x.type === AS_SET);
  return s && s.type === AS_SEQUENCE ? s.asns[0] : undefined;
}

export type NextHopCheck = (nextHop: string) => boolean;

/** Negative when a is preferred, with the rule that decided. */
export function comparePaths(a: Path, b: Path, reachable?: NextHopCheck): { cmp: number; reason: DecisionReason } {
  const la = a.src === LOCAL;
  const lb = b.src === LOCAL;
  if (la !== lb) return { cmp: la ? -1 : 1, reason: 'local-origin' };
  if (reachable) {
    const ra = reachable(a.a.nextHop);
    const rb = reachable(b.a.nextHop);
    if (ra !== rb) return { cmp: ra ? -1 : 1, reason: 'next-hop-reachable' };
  }
  const x: Readonly<PathAttributes> = a.a.attrs;
  const y: Readonly<PathAttributes> = b.a.attrs;
  const lpa = x.localPref ?? DEFAULT_LOCAL_PREF;
  const lpb = y.localPref ?? DEFAULT_LOCAL_PREF;
  if (lpa !== lpb) return { cmp: lpb - lpa, reason: 'local-pref' };
  const pa = asPathLength(x.asPath);
  const pb = asPathLength(y.asPath);
  if (pa !== pb) return { cmp: pa - pb, reason: 'as-path-length' };
  if (x.origin !== y.origin) return { cmp: x.origin - y.origin, reason: 'origin' };
  const na = neighbourAs(x.asPath);
  if (na === neighbourAs(y.asPath) && (x.med ?? 0) !== (y.med ?? 0)) return { cmp: (x.med ?? 0) - (y.med ?? 0), reason: 'med' };
  if (a.src.ebgp !== b.src.ebgp) return { cmp: a.src.ebgp ? -1 : 1, reason: 'ebgp-over-ibgp' };
  const ida = x.originatorId ?? a.src.routerId;
  const idb = y.originatorId ?? b.src.routerId;
  const c = compareAddresses(ida, idb);
  if (c !== 0) return { cmp: c, reason: 'router-id' };
  const ca = x.clusterList?.length ?? 0;
  const cb = y.clusterList?.length ?? 0;
  if (ca !== cb) return { cmp: ca - cb, reason: 'cluster-list-length' };
  const pc = compareAddresses(a.src.address, b.src.address);
  if (pc !== 0) return { cmp: pc, reason: 'peer-address' };
  return { cmp: 0, reason: 'equal' };
}

/**
 * Sorts candidates best first. MED makes pairwise comparison non-transitive (RFC 4271 §9.1.2.2's
 * well-known case), so paths are first put in peer-address order: the result is then a function
 * of the set of paths, never of their arrival order.
 */
export function rankPaths(paths: Path[], reachable?: NextHopCheck): Path[] {
  paths.sort((a, b) => compareAddresses(a.src.address, b.src.address));
  return paths.sort((a, b) => comparePaths(a, b, reachable).cmp);
}

/** Why the best path beat the runner-up. */
export function decisionReason(ranked: readonly Path[], reachable?: NextHopCheck): DecisionReason {
  return ranked.length < 2 ? 'only-path' : comparePaths(ranked[0], ranked[1], reachable).reason;
}
