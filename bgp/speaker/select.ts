// Minimal best-path selection and export rules the speaker needs until the full RIB
// (bgp/rib, engineer E) is wired in: RFC 4271 §9.1.2 order — local first, LOCAL_PREF, AS_PATH
// length, ORIGIN, MED (same neighbour AS), eBGP over iBGP, router id, CLUSTER_LIST, peer address.
import type { AsPathSegment, PathAttributes, Prefix } from '../types.js';

export interface Candidate {
  prefix: Prefix;
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

export function asPathLength(p: readonly AsPathSegment[]): number {
  let n = 0;
  for (const s of p) n += s.type === 2 ? s.asns.length : s.type === 1 ? 1 : 0;
  return n;
}

function firstAs(p: readonly AsPathSegment[]): number | undefined {
  return p.find((s) => s.type === 2)?.asns[0];
}

function ipNum(a: string): bigint {
  if (!a.includes(':')) return BigInt(a.split('.').reduce((acc, o) => acc * 256 + Number(o), 0));
  const [h, t = ''] = a.split('::');
  const head = h ? h.split(':') : [];
  const tail = t ? t.split(':') : [];
  const groups = a.includes('::') ? [...head, ...Array(8 - head.length - tail.length).fill('0'), ...tail] : head;
  return groups.reduce((acc, g) => (acc << 16n) + BigInt(parseInt(g || '0', 16)), 0n);
}

/** < 0 when a is preferred over b. */
export function compareCandidates(a: Candidate, b: Candidate): number {
  if ((a.source === 'local') !== (b.source === 'local')) return a.source === 'local' ? -1 : 1;
  const lpA = a.attrs.localPref ?? 100;
  const lpB = b.attrs.localPref ?? 100;
  if (lpA !== lpB) return lpB - lpA;
  const la = asPathLength(a.attrs.asPath);
  const lb = asPathLength(b.attrs.asPath);
  if (la !== lb) return la - lb;
  if (a.attrs.origin !== b.attrs.origin) return a.attrs.origin - b.attrs.origin;
  if (firstAs(a.attrs.asPath) === firstAs(b.attrs.asPath) && (a.attrs.med ?? 0) !== (b.attrs.med ?? 0)) return (a.attrs.med ?? 0) - (b.attrs.med ?? 0);
  if (a.ebgp !== b.ebgp) return a.ebgp ? -1 : 1;
  const ida = ipNum(a.attrs.originatorId ?? a.peerRouterId);
  const idb = ipNum(b.attrs.originatorId ?? b.peerRouterId);
  if (ida !== idb) return ida < idb ? -1 : 1;
  const ca = a.attrs.clusterList?.length ?? 0;
  const cb = b.attrs.clusterList?.length ?? 0;
  if (ca !== cb) return ca - cb;
  if (a.source === b.source) return 0;
  return ipNum(a.source) < ipNum(b.source) ? -1 : 1;
}

export function best(cands: readonly Candidate[]): Candidate | undefined {
  let b: Candidate | undefined;
  for (const c of cands) if (!b || compareCandidates(c, b) < 0) b = c;
  return b;
}

export interface ExportTarget {
  address: string;
  ebgp: boolean;
  rrClient: boolean;
  localAs: number;
  routerId: string;
  clusterId: string;
  /** Our address on the session, used as next hop when we rewrite it. */
  selfAddress: string | undefined;
  keepOriginalNextHop?: boolean;
}

/** What we advertise to `to` for best path `c`, or undefined when it must not be advertised. */
export function exportRoute(c: Candidate, to: ExportTarget): { attrs: PathAttributes; nextHop: string } | undefined {
  if (c.source === to.address) return undefined;
  const self = to.selfAddress;
  const sameFamily = (a: string | undefined): a is string => !!a && a.includes(':') === (c.prefix.family === 6);
  if (to.ebgp) {
    const asPath: AsPathSegment[] = c.attrs.asPath.length && c.attrs.asPath[0].type === 2
      ? [{ type: 2, asns: [to.localAs, ...c.attrs.asPath[0].asns] }, ...c.attrs.asPath.slice(1)]
      : [{ type: 2, asns: [to.localAs] }, ...c.attrs.asPath];
    const nh = to.keepOriginalNextHop && c.source !== 'local' ? c.nextHop : sameFamily(self) ? self : c.nextHop;
    const { localPref: _lp, originatorId: _o, clusterList: _c, med, ...rest } = c.attrs;
    // MED is not passed on to another AS (RFC 4271 §5.1.4); our own MED is.
    return { attrs: { ...rest, ...(c.source === 'local' && med !== undefined ? { med } : {}), asPath }, nextHop: nh };
  }
  // iBGP: split horizon unless we reflect (RFC 4456).
  if (c.source !== 'local' && !c.ebgp) {
    if (!c.fromRrClient && !to.rrClient) return undefined;
    const attrs: PathAttributes = {
      ...c.attrs,
      localPref: c.attrs.localPref ?? 100,
      originatorId: c.attrs.originatorId ?? c.peerRouterId,
      clusterList: [to.clusterId, ...(c.attrs.clusterList ?? [])],
    };
    return { attrs, nextHop: c.nextHop };
  }
  const nh = c.source === 'local' ? (sameFamily(self) ? self : c.nextHop) : c.nextHop;
  return { attrs: { ...c.attrs, localPref: c.attrs.localPref ?? 100 }, nextHop: nh };
}
