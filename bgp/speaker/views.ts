// Read-only views of the speaker's table for the management API (bgp/api): every path with its
// best flag, and what one peer is sent.
import { exportRoute, type Path, type Rib } from '../rib/index.js';
import type { PathAttributes, Prefix } from '../types.js';
import type { Peer } from './peer.js';
import type { SpeakerConfig } from './types.js';

/** One path of the table for the management API: originated (source 'local') or from a peer's Adj-RIB-In. */
export interface TablePath {
  prefix: string;
  path: Pick<Path, 'attrs' | 'nextHop' | 'source' | 'stale'>;
  best: boolean;
}

export interface AdjOutRoute {
  prefix: Prefix;
  attrs: PathAttributes;
  nextHop: string;
}

/** Every path of the table (originated first, then each peer's Adj-RIB-In), best flagged. */
export function tablePaths(rib: Rib): TablePath[] {
  const out: TablePath[] = [];
  for (const r of rib.localRoutes()) {
    const k = `${r.prefix.address}/${r.prefix.length}`;
    out.push({ prefix: k, path: { attrs: r.attrs, nextHop: '', source: 'local' }, best: rib.selected(k)?.source === 'local' });
  }
  for (const [addr, p] of rib.peers)
    for (const [k, r] of p.adjIn) {
      // With ADD-PATH a peer may hold several paths for k: each is listed, as GoBGP lists them.
      const several = p.paths.get(k);
      if (several && several.size > 1) {
        const sel = rib.selected(k);
        for (const path of several.values()) out.push({ prefix: k, path, best: sel === path || (sel?.source === addr && sel.nextHop === path.nextHop && sel.attrs === path.attrs) });
      } else out.push({ prefix: k, path: r, best: rib.selected(k)?.source === addr });
    }
  return out;
}

/** What one peer is sent: the export of every best path to it. */
export function adjOutOf(p: Peer, rib: Rib, config: SpeakerConfig, reflector: boolean): AdjOutRoute[] {
  if (p.session.state !== 'Established') return [];
  const target = {
    address: p.rib.address,
    ebgp: p.rib.ebgp,
    rrClient: !!p.config.rrClient,
    localAs: config.asNumber,
    clusterId: config.clusterId ?? config.routerId,
    reflector,
    selfAddress: p.rib.selfAddress,
    keepOriginalNextHop: p.config.keepOriginalNextHop,
  };
  const out: AdjOutRoute[] = [];
  for (const c of rib.bestPaths()) {
    if (!p.rib.afis.includes(c.prefix.family === 4 ? 1 : 2)) continue;
    const e = exportRoute(c, c.prefix.family, target);
    if (e) out.push({ prefix: c.prefix, ...e });
  }
  return out;
}
