// The speaker's view of best-path selection and export: a thin adapter from its per-prefix
// candidates onto the pure RIB rules in bgp/rib (RFC 4271 §9.1.2 decision process with
// tie-breakers, RFC 4456 reflection, eBGP/iBGP export rules), so there is one set of rules.
import { LOCAL, rankPaths, type Path, type RibPeer } from '../rib/index.js';
import { exportPath, sendsTo } from '../rib/export.js';
import type { PathAttributes, Prefix } from '../types.js';

export { asPathLength } from '../rib/index.js';

/** A candidate path without its prefix (the speaker shares one among every prefix it carries). */
export interface PathInfo {
  attrs: PathAttributes;
  nextHop: string;
  /** 'local' or the peer address. */
  source: string;
  ebgp: boolean;
  peerRouterId: string;
  /** The peer is our route-reflector client. */
  fromRrClient?: boolean;
  stale?: boolean;
}

export interface Candidate extends PathInfo {
  prefix: Prefix;
}

function toPath(c: PathInfo): Path {
  const src: RibPeer =
    c.source === 'local' ? LOCAL : { address: c.source, routerId: c.peerRouterId || '0.0.0.0', asn: 0, ebgp: c.ebgp, rrClient: !!c.fromRrClient };
  return { src, a: { id: 0, key: '', attrs: c.attrs, nextHop: c.nextHop, refs: 1 }, stale: c.stale };
}

/** < 0 when a is preferred over b. */
export function compareCandidates(a: Candidate, b: Candidate): number {
  const best2 = best([a, b]);
  if (best2 === a && best([b, a]) === a) return -1;
  return best2 === b ? 1 : 0;
}

export function best<T extends PathInfo>(cands: readonly T[]): T | undefined {
  if (cands.length <= 1) return cands[0];
  const paths = cands.map(toPath);
  const byPath = new Map(paths.map((p, i) => [p, cands[i]]));
  return byPath.get(rankPaths(paths)[0]);
}

export interface ExportTarget {
  address: string;
  ebgp: boolean;
  rrClient: boolean;
  localAs: number;
  routerId: string;
  clusterId: string;
  /** We have route-reflector clients (reflection is on). */
  reflector?: boolean;
  /** Our address on the session, used as next hop when we rewrite it. */
  selfAddress: string | undefined;
  keepOriginalNextHop?: boolean;
  /**
   * Apply the per-member rule "never back to the source" (default). Update groups of iBGP peers
   * turn it off: one export serves every member; the speaker then withholds, per member, the
   * frames whose ORIGINATOR_ID is that member's router id (the only iBGP case where the source is
   * in the group, and one it would drop anyway, RFC 4456 §8).
   */
  splitHorizon?: boolean;
}

/** What we advertise to `to` for best path `c`, or undefined when it must not be advertised. */
export function exportRoute(c: Candidate, to: ExportTarget): { attrs: PathAttributes; nextHop: string } | undefined {
  const path = toPath(c);
  const target = {
    address: to.address,
    routerId: '',
    asn: 0,
    ebgp: to.ebgp,
    rrClient: to.rrClient,
    selfAddress: to.selfAddress ? { [to.selfAddress.includes(':') ? 6 : 4]: to.selfAddress } : {},
    keepOriginalNextHop: to.keepOriginalNextHop,
  };
  if (to.splitHorizon !== false && !sendsTo(path, target)) return undefined;
  return exportPath(path, c.prefix, target, { localAs: to.localAs, clusterId: to.clusterId, reflector: to.reflector ?? (to.rrClient || !!c.fromRrClient) });
}
