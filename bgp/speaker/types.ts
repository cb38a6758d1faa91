// Configuration and status vocabulary of the speaker. PeerConfig matches what the Calico
// config generator (bgp/config) produces, so its output feeds setPeers() directly.
import type { NamedBgpFilter } from '../policy/filter.js';
import type { PathAttributes, Prefix } from '../types.js';

export type PeerType = 'mesh' | 'global' | 'node';

export interface PeerConfig {
  /** Calico-style name: Mesh_10_0_0_2, Global_…, Node_… */
  name?: string;
  /** Peer IP (v4 or v6). */
  address: string;
  asNumber: number;
  type: PeerType;
  port?: number;
  passive?: boolean;
  /** We reflect routes to this iBGP peer (we are its route reflector). */
  rrClient?: boolean;
  /** Source address for our connection. */
  sourceAddress?: string;
  keepOriginalNextHop?: boolean;
  holdTime?: number;
  /** TCP-MD5 password (RFC 2385), on dialled and accepted connections. */
  password?: string;
  /** GTSM (RFC 5082): the peer is at most this many hops away; TTL 255 out, at least 256 − N in. */
  ttlSecurity?: number;
  /** BGPFilters from BGPPeer.filters, in that order (resolved specs, so a changed filter resets the session). */
  filters?: NamedBgpFilter[];
  /** Calico's numAllowedLocalASNumbers: routes with our AS in their AS_PATH up to this many times are accepted. */
  numAllowedLocalASNumbers?: number;
  /** Calico's maxRestartTime, seconds: the graceful-restart time we advertise to this peer. */
  maxRestartTime?: number;
  /** Families this session carries (default the speaker's); Calico's peerings carry their own family only. */
  families?: Array<4 | 6>;
}

export interface GracefulRestartConfig {
  /** Restart time we advertise, seconds (default 120, like BIRD). */
  restartTime?: number;
  /**
   * We are restarting now with our forwarding state kept: advertise R and F, defer selection and
   * sending until every peer's End-of-RIB (or deferralTime). Sessions made after that advertise
   * neither bit (RFC 4724 §4.1).
   */
  restarting?: boolean;
  /** While restarting: the families whose forwarding state survived (F bit); default all of them. */
  forwardingFamilies?: Array<4 | 6>;
  /** Longest we wait for every peer's End-of-RIB before selecting anyway, seconds (default 120, BIRD's restart time). */
  deferralTime?: number;
}

export interface SpeakerConfig {
  asNumber: number;
  routerId: string;
  /** Listen port (default 179); 0 = do not listen. */
  listenPort?: number;
  /** Addresses to listen on (default ['::'] — dual stack). */
  listenAddresses?: string[];
  /** Our cluster id as a route reflector (default routerId). */
  clusterId?: string;
  holdTime?: number;
  connectRetryTime?: number;
  connectRetryMax?: number;
  errorWait?: [number, number];
  gracefulRestart?: GracefulRestartConfig;
  /** Minimum route advertisement interval, ms (default 0: send on the next turn, like BIRD and GoBGP). */
  mraiMs?: number;
  /**
   * Per-peer send queue limit, bytes (default 4 MiB): a peer whose socket holds more is taken out
   * of its update group and re-synced from the Loc-RIB once it drains.
   */
  maxQueuedBytes?: number;
  /** Families to negotiate: 4 and/or 6 (default both). */
  families?: Array<4 | 6>;
}

export interface OriginatedRoute {
  prefix: Prefix;
  attrs: PathAttributes;
}

export interface PeerStatus {
  name: string;
  address: string;
  asNumber: number;
  type: PeerType;
  state: string;
  /** ISO time of the last state change. */
  since: string;
  info: string;
  /** Why a peer may not be connecting (TCP-MD5 and GTSM drops are silent on the wire). */
  hint?: string;
  prefixesReceived: number;
  prefixesAccepted: number;
  prefixesAdvertised: number;
  gracefulRestart?: 'stale' | undefined;
}

export interface RouteStatus {
  prefix: string;
  nextHop: string;
  source: string;
  asPath: string;
  localPref?: number;
  communities?: string[];
  /** RFC 4360, as BIRD prints them: "(rt, 65000, 100)". */
  extendedCommunities?: string[];
  best: boolean;
  /** Installed together with the best path (ECMP): equal to it up to the router-id tie-break. */
  multipath?: boolean;
  stale?: boolean;
}
