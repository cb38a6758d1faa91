// Test drivers for the RIB: a recording event sink and UPDATE builders, so tests exercise the
// table exactly as the speaker calls it (decoded UPDATEs in, events and batches out).
import type { UpdateMessage } from '../codec/types.js';
import type { PathAttributes, Prefix, RouteSinkEvent } from '../types.js';
import type { OutGroup } from './adj-out.js';
import type { PeerRib } from './peer.js';
import { keyOf, keyToPrefix } from './prefix-key.js';
import { Rib, type RibConfig, type RibEvents } from './rib.js';

export const LOCAL_AS = 64512;

/** Records what the RIB tells the speaker: the route sink's view and who has output due. */
export class Recorder implements RibEvents {
  /** The route sink's table: prefix key → next hop. */
  readonly installed = new Map<string, string>();
  /** The route sink's table with every next hop (ECMP): prefix key → next hops. */
  readonly hops = new Map<string, string[]>();
  readonly groups = new Set<OutGroup>();
  readonly peers = new Set<PeerRib>();
  trims = 0;

  onRoute(e: RouteSinkEvent): void {
    if (e.type === 'install') {
      this.installed.set(keyOf(e.prefix), e.nextHops[0]);
      this.hops.set(keyOf(e.prefix), e.nextHops);
    } else {
      this.installed.delete(keyOf(e.prefix));
      this.hops.delete(keyOf(e.prefix));
    }
  }
  groupChanged(g: OutGroup): void {
    this.groups.add(g);
  }
  peerChanged(p: PeerRib): void {
    this.peers.add(p);
  }
  trimDue(): void {
    this.trims++;
  }
}

export function newRib(over: Partial<RibConfig> = {}): { rib: Rib; events: Recorder } {
  const events = new Recorder();
  return { rib: new Rib({ asNumber: LOCAL_AS, routerId: '10.0.0.100', clusterId: '224.0.0.1', ...over }, events), events };
}

export interface TestPeer {
  address: string;
  asNumber?: number;
  routerId?: string;
  rrClient?: boolean;
  /** Our address on its session. */
  self?: string;
}

/** Adds a peer and brings its session up (IPv4 and IPv6). */
export function upPeer(rib: Rib, t: TestPeer, peerGr?: Parameters<Rib['sessionUp']>[1]['peerGr']): PeerRib {
  const p = rib.peers.get(t.address) ?? rib.addPeer(t.address, { asNumber: t.asNumber ?? LOCAL_AS, rrClient: t.rrClient });
  rib.sessionUp(p, { routerId: t.routerId ?? t.address, selfAddress: t.self ?? '10.0.0.100', afis: [1, 2], peerGr });
  return p;
}

export const attrs = (o: Partial<PathAttributes> = {}): PathAttributes => ({ origin: 0, asPath: [], ...o });
export const seq = (...asns: number[]) => ({ type: 2 as const, asns });

/** An UPDATE announcing `prefix` (IPv6 in MP_REACH_NLRI) with these attributes and next hop. */
export function announcement(prefix: string | Prefix, a: PathAttributes, nextHop: string): UpdateMessage {
  const p = typeof prefix === 'string' ? keyToPrefix(prefix) : prefix;
  if (p.family === 6) return { type: 'UPDATE', withdrawn: [], attributes: a, nlri: [], mpReach: { afi: 2, safi: 1, nextHops: [nextHop], nlri: [p] } };
  return { type: 'UPDATE', withdrawn: [], attributes: { ...a, nextHop }, nlri: [p] };
}

export function withdrawal(prefix: string | Prefix): UpdateMessage {
  const p = typeof prefix === 'string' ? keyToPrefix(prefix) : prefix;
  if (p.family === 6) return { type: 'UPDATE', withdrawn: [], nlri: [], mpUnreach: { afi: 2, safi: 1, withdrawn: [p] } };
  return { type: 'UPDATE', withdrawn: [p], nlri: [] };
}
