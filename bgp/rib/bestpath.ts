// RFC 4271 §9.1.2 decision process with the usual tie-breakers (RFC 4456 for reflected routes), in
// this order, each returning the reason that decided: locally originated, highest LOCAL_PREF,
// shortest AS_PATH (AS_SET counts 1, confederation segments 0), lowest ORIGIN, lowest MED among
// routes from the same neighbour AS (missing MED = 0), eBGP over iBGP, lowest router id
// (ORIGINATOR_ID when present), shortest CLUSTER_LIST, lowest peer address.
import type { AsPathSegment, PathAttributes } from '../types.js';
import { AS_SEQUENCE, AS_SET } from '../types.js';

/** A path as the Adj-RIB-In and the Loc-RIB hold it (shared among every prefix it carries). */
export interface PathInfo {
  readonly attrs: PathAttributes;
  readonly nextHop: string;
  /** 'local' or the peer address. */
  readonly source: string;
  readonly ebgp: boolean;
  readonly peerRouterId: string;
  /** The peer is our route-reflector client. */
  readonly fromRrClient?: boolean;
  /** Graceful restart: kept from a restarting peer, to be refreshed or purged. */
  readonly stale?: boolean;
}

export const LOCAL_SOURCE = 'local';

export type DecisionReason =
  | 'only-path'
  | 'local-origin'
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

/** Numeric order of IPv4/IPv6 addresses (v4 before v6), for router-id and peer-address tie-breaks. */
export function compareAddresses(a: string, b: string): number {
  if (a === b) return 0;
  const na = addrNum(a);
  const nb = addrNum(b);
  return na < nb ? -1 : na > nb ? 1 : 0;
}

function addrNum(a: string): bigint {
  if (!a.includes(':')) {
    const p = a.split('.');
    return p.length === 4 ? BigInt(((+p[0] << 24) | (+p[1] << 16) | (+p[2] << 8) | +p[3]) >>> 0) : 0n;
  }
  const [h, t = ''] = a.split('::');
  const head = h ? h.split(':') : [];
  const tail = a.includes('::') && t ? t.split(':') : [];
  const groups = a.includes('::') ? [...head, ...Array<string>(Math.max(0, 8 - head.length - tail.length)).fill('0'), ...tail] : head;
  // Offset v6 above every v4 so mixed comparisons are total.
  return (1n << 128n) + groups.reduce((acc, g) => (acc << 16n) + BigInt(parseInt(g || '0', 16) || 0), 0n);
}

const routerIdOf = (p: PathInfo): string => p.attrs.originatorId ?? (p.peerRouterId || '0.0.0.0');

/** Negative when a is preferred, with the rule that decided. */
export function comparePaths(a: PathInfo, b: PathInfo): { cmp: number; reason: DecisionReason } {
  const la = a.source === LOCAL_SOURCE;
  const lb = b.source === LOCAL_SOURCE;
  if (la !== lb) return { cmp: la ? -1 : 1, reason: 'local-origin' };
  const x = a.attrs;
  const y = b.attrs;
  const lpa = x.localPref ?? DEFAULT_LOCAL_PREF;
  const lpb = y.localPref ?? DEFAULT_LOCAL_PREF;
  if (lpa !== lpb) return { cmp: lpb - lpa, reason: 'local-pref' };
  const pa = asPathLength(x.asPath);
  const pb = asPathLength(y.asPath);
  if (pa !== pb) return { cmp: pa - pb, reason: 'as-path-length' };
  if (x.origin !== y.origin) return { cmp: x.origin - y.origin, reason: 'origin' };
  const na = neighbourAs(x.asPath);
  if (na === neighbourAs(y.asPath) && (x.med ?? 0) !== (y.med ?? 0)) return { cmp: (x.med ?? 0) - (y.med ?? 0), reason: 'med' };
  if (a.ebgp !== b.ebgp) return { cmp: a.ebgp ? -1 : 1, reason: 'ebgp-over-ibgp' };
  const c = compareAddresses(routerIdOf(a), routerIdOf(b));
  if (c !== 0) return { cmp: c, reason: 'router-id' };
  const ca = x.clusterList?.length ?? 0;
  const cb = y.clusterList?.length ?? 0;
  if (ca !== cb) return { cmp: ca - cb, reason: 'cluster-list-length' };
  const pc = compareAddresses(a.source, b.source);
  if (pc !== 0) return { cmp: pc, reason: 'peer-address' };
  return { cmp: 0, reason: 'equal' };
}

/**
 * Candidates best first. MED makes pairwise comparison non-transitive (RFC 4271 §9.1.2.2's
 * well-known case), so paths are first put in peer-address order: the result is then a function
 * of the set of paths, never of their arrival order.
 */
export function rankPaths<T extends PathInfo>(paths: readonly T[]): T[] {
  return [...paths].sort((a, b) => compareAddresses(a.source, b.source)).sort((a, b) => comparePaths(a, b).cmp);
}

/** The best of the candidates (undefined for none). */
export function best<T extends PathInfo>(cands: readonly T[]): T | undefined {
  return cands.length <= 1 ? cands[0] : rankPaths(cands)[0];
}

/** Why the best path beat the runner-up. */
export function decisionReason(ranked: readonly PathInfo[]): DecisionReason {
  return ranked.length < 2 ? 'only-path' : comparePaths(ranked[0], ranked[1]).reason;
}
