// Outbound rules per RFC 4271 / 4456, as BIRD applies them for Calico:
//  eBGP: prepend our AS, next-hop-self (unless keepOriginalNextHop for learned routes), no
//        LOCAL_PREF / ORIGINATOR_ID / CLUSTER_LIST, a learned MED is not passed to another AS;
//  iBGP: LOCAL_PREF 100 when absent; iBGP-learned routes only when we reflect (client → all,
//        non-client → clients), then ORIGINATOR_ID set if absent and our cluster id prepended to
//        CLUSTER_LIST, NEXT_HOP never rewritten; locally originated routes get next-hop-self.
import type { AsPathSegment, PathAttributes, Prefix } from '../types.js';
import { AS_SEQUENCE } from '../types.js';
import { DEFAULT_LOCAL_PREF, type Path } from './bestpath.js';
import { LOCAL, type RibPeer } from './peer.js';

export interface ExportTarget extends RibPeer {
  /** Our address on this session per family: next-hop-self. */
  selfAddress: { 4?: string; 6?: string };
  keepOriginalNextHop?: boolean;
}

export interface ExportContext {
  localAs: number;
  clusterId: string;
  /** We act as a route reflector (have clients): enables reflection. */
  reflector: boolean;
}

/**
 * Peers with equal keys get identical exports for every path not learned from themselves, so one
 * Adj-RIB-Out computation (and one encoded UPDATE) serves the whole update group.
 */
export function outboundPolicyKey(to: ExportTarget): string {
  const nh = `${to.selfAddress[4] ?? ''},${to.selfAddress[6] ?? ''}`;
  return to.ebgp ? `e|${to.asn}|${nh}|${to.keepOriginalNextHop ? 'keep' : 'self'}` : `i|${to.rrClient ? 'client' : 'peer'}|${nh}`;
}

function prependAs(asPath: readonly AsPathSegment[], asn: number): AsPathSegment[] {
  const first = asPath[0];
  // A full segment (255 ASNs) cannot grow: start a new one.
  if (first && first.type === AS_SEQUENCE && first.asns.length < 255) return [{ type: AS_SEQUENCE, asns: [asn, ...first.asns] }, ...asPath.slice(1)];
  return [{ type: AS_SEQUENCE, asns: [asn] }, ...asPath];
}

/**
 * The group-wide part of the export: what `to`'s update group sends for `path`, or undefined when
 * the path must not go to such peers. The per-member rule (never send a path back to its source)
 * is `sendsTo`.
 */
export function exportPath(path: Path, prefix: Prefix, to: ExportTarget, ctx: ExportContext): { attrs: PathAttributes; nextHop: string } | undefined {
  const a = path.a.attrs;
  const local = path.src === LOCAL;
  const self = to.selfAddress[prefix.family];
  if (to.ebgp) {
    const nextHop = !local && to.keepOriginalNextHop ? path.a.nextHop : (self ?? path.a.nextHop);
    const { localPref: _lp, originatorId: _oid, clusterList: _cl, med, ...rest } = a;
    const out: PathAttributes = { ...rest, asPath: prependAs(a.asPath, ctx.localAs) };
    if (local && med !== undefined) out.med = med;
    if (prefix.family === 4) out.nextHop = nextHop;
    else delete out.nextHop;
    return { attrs: out, nextHop };
  }
  if (local) {
    const nextHop = self ?? path.a.nextHop;
    const out: PathAttributes = { ...a, localPref: a.localPref ?? DEFAULT_LOCAL_PREF };
    if (prefix.family === 4) out.nextHop = nextHop;
    return { attrs: out, nextHop };
  }
  if (path.src.ebgp) {
    // eBGP-learned to iBGP: attributes and next hop unchanged (BIRD's iBGP default).
    return { attrs: { ...a, localPref: a.localPref ?? DEFAULT_LOCAL_PREF }, nextHop: path.a.nextHop };
  }
  // iBGP-learned to iBGP: split horizon unless we reflect.
  if (!ctx.reflector || (!path.src.rrClient && !to.rrClient)) return undefined;
  return {
    attrs: {
      ...a,
      localPref: a.localPref ?? DEFAULT_LOCAL_PREF,
      originatorId: a.originatorId ?? path.src.routerId,
      clusterList: [ctx.clusterId, ...(a.clusterList ?? [])],
    },
    nextHop: path.a.nextHop,
  };
}

/** Per-member filter on top of the group export: a path never goes back to the peer it came from. */
export function sendsTo(path: Path, to: RibPeer): boolean {
  return path.src.address !== to.address;
}
