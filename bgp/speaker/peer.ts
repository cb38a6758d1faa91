// A configured peer as the speaker holds it: its session, its part of the RIB and the shell's
// per-peer state (admin state, import filter, the graceful-restart helper's stale timer).
import type { BgpSession } from '../fsm/session.js';
import type { ImportFilter } from '../policy/import.js';
import type { PeerRib } from '../rib/index.js';
import type { PeerConfig } from './types.js';

export interface Peer {
  config: PeerConfig;
  /** Shut down through the management API (`gobgp neighbor ADDR disable`): no session until enabled. */
  adminDown?: boolean;
  session: BgpSession;
  rib: PeerRib;
  /** The connect hint was logged since the session was last up (once, not on every retry). */
  hinted?: boolean;
  /** BGPFilter import rules (absent: everything is accepted). */
  importFilter?: ImportFilter;
  /** Graceful-restart helper: the peer is restarting and we keep its routes until this fires. */
  staleTimer?: NodeJS.Timeout;
}

/** A peer for the management API (bgp/api): read-only by contract. */
export interface PeerView {
  readonly config: PeerConfig;
  readonly session: BgpSession;
  readonly rib: PeerRib;
  readonly adminDown: boolean;
}

/** A peer's address as configured: IPv4-mapped IPv6 (an IPv4 peer on a '::' listener) unmapped. */
export const normalizeAddress = (a: string): string => (a.startsWith('::ffff:') ? a.slice(7) : a);
