// Outbound rules per RFC 4271 / 4456, as BIRD applies them for Calico:
//  eBGP: prepend our AS, next-hop-self (unless keepOriginalNextHop for learned routes), no
//        LOCAL_PREF / ORIGINATOR_ID / CLUSTER_LIST, a learned MED is not passed to another AS,
//        nor are non-transitive extended communities (RFC 4360 §2);
//  iBGP: LOCAL_PREF 100 when absent; iBGP-learned routes only when we reflect (client → all,
//        non-client → clients), then ORIGINATOR_ID set if absent and our cluster id prepended to
//        CLUSTER_LIST, NEXT_HOP never rewritten; locally originated routes get next-hop-self
//        unless they name an IPv4 next hop (routes added with `gobgp global rib add … nexthop`).
import type { AsPathSegment, PathAttributes } from '../types.js';
import { AS_SEQUENCE } from '../types.js';
import { DEFAULT_LOCAL_PREF, LOCAL_SOURCE, type PathInfo } from './bestpath.js';

export interface ExportTarget {
  address: string;
  ebgp: boolean;
  rrClient: boolean;
  localAs: number;
  clusterId: string;
  /** We have route-reflector clients (reflection is on). */
  reflector?: boolean;
  /** Our address on the session, used as next hop when we rewrite it (for its family only). */
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

function prependAs(asPath: readonly AsPathSegment[], asn: number): AsPathSegment[] {
  const first = asPath[0];
  // A full segment (255 ASNs) cannot grow: start a new one.
  if (first && first.type === AS_SEQUENCE && first.asns.length < 255) return [{ type: AS_SEQUENCE, asns: [asn, ...first.asns] }, ...asPath.slice(1)];
  return [{ type: AS_SEQUENCE, asns: [asn] }, ...asPath];
}

/** What we advertise to `to` for best path `path` of a prefix of `family`, or undefined when it must not be advertised. */
export function exportRoute(path: PathInfo, family: 4 | 6, to: ExportTarget): { attrs: PathAttributes; nextHop: string } | undefined {
  if (to.splitHorizon !== false && path.source === to.address) return undefined;
  const a = path.attrs;
  const local = path.source === LOCAL_SOURCE;
  const self = to.selfAddress && (to.selfAddress.includes(':') ? 6 : 4) === family ? to.selfAddress : undefined;
  if (to.ebgp) {
    // A locally originated route may name its next hop (IPv4, `gobgp global rib add … nexthop`).
    const nextHop = local ? (a.nextHop ?? self ?? path.nextHop) : to.keepOriginalNextHop ? path.nextHop : (self ?? path.nextHop);
    const { localPref: _lp, originatorId: _oid, clusterList: _cl, med, ...rest } = a;
    const out: PathAttributes = { ...rest, asPath: prependAs(a.asPath, to.localAs) };
    if (local && med !== undefined) out.med = med;
    const transitive = a.extendedCommunities?.filter(([hi]) => !((hi >>> 24) & 0x40));
    if (transitive?.length) out.extendedCommunities = transitive;
    else delete out.extendedCommunities;
    if (family === 4) out.nextHop = nextHop;
    else delete out.nextHop;
    return { attrs: out, nextHop };
  }
  if (local) {
    const nextHop = a.nextHop ?? self ?? path.nextHop;
    const out: PathAttributes = { ...a, localPref: a.localPref ?? DEFAULT_LOCAL_PREF };
    if (family === 4) out.nextHop = nextHop;
    return { attrs: out, nextHop };
  }
  // eBGP-learned to iBGP: attributes and next hop unchanged (BIRD's iBGP default).
  if (path.ebgp) return { attrs: { ...a, localPref: a.localPref ?? DEFAULT_LOCAL_PREF }, nextHop: path.nextHop };
  // iBGP-learned to iBGP: split horizon unless we reflect.
  const reflector = to.reflector ?? (to.rrClient || !!path.fromRrClient);
  if (!reflector || (!path.fromRrClient && !to.rrClient)) return undefined;
  return {
    attrs: {
      ...a,
      localPref: a.localPref ?? DEFAULT_LOCAL_PREF,
      originatorId: a.originatorId ?? (path.peerRouterId || '0.0.0.0'),
      clusterList: [to.clusterId, ...(a.clusterList ?? [])],
    },
    nextHop: path.nextHop,
  };
}
