// Status views of the speaker (tortiectl node status, the gRPC API, tests): peers and routes.
import type { BgpSession } from '../fsm/session.js';
import type { Md5Counters } from '../net/tcp-security.js';
import type { PeerRib, Rib } from '../rib/index.js';
import { formatExtendedCommunity } from '../codec/attributes.js';
import { prefixToString, type PathAttributes } from '../types.js';
import type { PeerConfig, PeerStatus, RouteStatus } from './types.js';

/**
 * Why a peer that is not Established may fail silently: the kernel drops segments whose TCP-MD5
 * signature is wrong or missing (and GTSM drops low-TTL ones) without telling either side.
 */
export function connectHint(config: PeerConfig, state: string, md5: Md5Counters | undefined): string | undefined {
  if (state === 'Established') return undefined;
  // GTSM can also stop a session half-way: an accepted connection gets its minimum TTL after the
  // handshake, so the peer's OPEN may pass and its KEEPALIVE not.
  const gtsm = config.ttlSecurity ? `GTSM on (ttlSecurity ${config.ttlSecurity}): segments from a peer further away, or not sending TTL 255, are dropped` : undefined;
  if (state === 'OpenSent' || state === 'OpenConfirm') return gtsm;
  const counts = md5 ? ` (kernel TCP-MD5 drops: ${md5.failure} bad signature, ${md5.notFound} unsigned, ${md5.unexpected} unexpectedly signed)` : '';
  if (config.password !== undefined)
    return `TCP-MD5 password set for this peer: if the peer's password differs or is unset, the kernel drops the segments silently — the password is the likely reason${counts}`;
  if (md5 && md5.unexpected > 0) return `no password set, but signed segments arrived: the peer likely has a TCP-MD5 password — set BGPPeer.password${counts}`;
  return gtsm;
}

export function peerStatusOf(config: PeerConfig, s: BgpSession, r: PeerRib, md5?: Md5Counters): PeerStatus {
  const info = s.state === 'Established' ? 'Established' : [s.fsm.lastError, s.lastNotification].filter(Boolean).join('; ');
  const hint = connectHint(config, s.state, md5);
  return {
    name: config.name ?? config.address,
    address: config.address,
    asNumber: config.asNumber,
    type: config.type,
    state: s.state,
    since: new Date(s.since).toISOString(),
    info,
    ...(hint ? { hint } : {}),
    prefixesReceived: r.adjIn.size + r.rejected,
    prefixesAccepted: r.adjIn.size,
    prefixesAdvertised: r.advertised,
    ...(r.hasStale ? { gracefulRestart: 'stale' as const } : {}),
  };
}

function fmt(prefix: string, attrs: PathAttributes, nextHop: string, source: string, best: boolean, stale?: boolean, multipath?: boolean): RouteStatus {
  return {
    prefix,
    nextHop,
    source,
    asPath: attrs.asPath.map((s) => (s.type === 1 ? `{${s.asns.join(' ')}}` : s.asns.join(' '))).join(' '),
    ...(attrs.localPref !== undefined ? { localPref: attrs.localPref } : {}),
    ...(attrs.communities?.length ? { communities: attrs.communities.map((c) => `${c >>> 16}:${c & 0xffff}`) } : {}),
    ...(attrs.extendedCommunities?.length ? { extendedCommunities: attrs.extendedCommunities.map(formatExtendedCommunity) } : {}),
    best,
    ...(multipath ? { multipath } : {}),
    ...(stale ? { stale } : {}),
  };
}

/** Every path the RIB holds: originated ones, then each peer's Adj-RIB-In. */
export function routeStatus(rib: Rib): RouteStatus[] {
  const out: RouteStatus[] = [];
  for (const r of rib.localRoutes()) {
    const k = prefixToString(r.prefix);
    out.push(fmt(k, r.attrs, '', 'local', rib.selected(k)?.source === 'local'));
  }
  for (const [addr, p] of rib.peers)
    for (const [k, r] of p.adjIn) {
      const hops = rib.nextHops(k);
      out.push(fmt(k, r.attrs, r.nextHop, addr, rib.selected(k)?.source === addr, r.stale, hops.length > 1 && hops.includes(r.nextHop)));
    }
  return out;
}
