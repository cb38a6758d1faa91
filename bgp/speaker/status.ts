// Status views of the speaker (tortiectl node status, the gRPC API, tests): peers and routes.
import type { BgpSession } from '../fsm/session.js';
import type { PeerRib, Rib } from '../rib/index.js';
import { prefixToString, type PathAttributes } from '../types.js';
import type { PeerConfig, PeerStatus, RouteStatus } from './types.js';

export function peerStatusOf(config: PeerConfig, s: BgpSession, r: PeerRib): PeerStatus {
  const info = s.state === 'Established' ? 'Established' : [s.fsm.lastError, s.lastNotification].filter(Boolean).join('; ');
  return {
    name: config.name ?? config.address,
    address: config.address,
    asNumber: config.asNumber,
    type: config.type,
    state: s.state,
    since: new Date(s.since).toISOString(),
    info,
    prefixesReceived: r.adjIn.size + r.rejected,
    prefixesAccepted: r.adjIn.size,
    prefixesAdvertised: r.advertised,
    ...(r.hasStale ? { gracefulRestart: 'stale' as const } : {}),
  };
}

function fmt(prefix: string, attrs: PathAttributes, nextHop: string, source: string, best: boolean, stale?: boolean): RouteStatus {
  return {
    prefix,
    nextHop,
    source,
    asPath: attrs.asPath.map((s) => (s.type === 1 ? `{${s.asns.join(' ')}}` : s.asns.join(' '))).join(' '),
    ...(attrs.localPref !== undefined ? { localPref: attrs.localPref } : {}),
    ...(attrs.communities?.length ? { communities: attrs.communities.map((c) => `${c >>> 16}:${c & 0xffff}`) } : {}),
    best,
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
  for (const [addr, p] of rib.peers) for (const [k, r] of p.adjIn) out.push(fmt(k, r.attrs, r.nextHop, addr, rib.selected(k)?.source === addr, r.stale));
  return out;
}
