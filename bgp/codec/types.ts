// The codec's public vocabulary: messages, capabilities, the per-session context that
// changes the wire format, and the outcome of decoding. Route-level types (Prefix,
// PathAttributes, MpReach, MpUnreach) come from bgp/types.ts so the RIB shares them.
import type { MpReach, MpUnreach, PathAttributes, Prefix } from '../types.js';

/** ADD-PATH (RFC 7911) as negotiated for one family: receive = the peer sends us path ids. */
export interface AddPathFamily {
  afi: number;
  safi: number;
  receive: boolean;
  send: boolean;
}

/** Per-session facts that change the wire format; computed from both OPENs (see negotiateContext). */
export interface CodecContext {
  /** Both sides advertised capability 65: AS numbers are 4 octets in AS_PATH / AGGREGATOR. */
  fourOctetAs: boolean;
  /** ADD-PATH per family; absent = no path identifiers anywhere. */
  addPath?: AddPathFamily[];
  /** RFC 8950: IPv4 NLRI may carry an IPv6 next hop in MP_REACH_NLRI. */
  extendedNextHop?: boolean;
  /** RFC 8654 extended messages negotiated: frames up to 65535 octets. */
  extendedMessages?: boolean;
  /** The peer is external: LOCAL_PREF received from it is discarded (RFC 7606 §7.5). */
  ebgp?: boolean;
}

/** A prefix on the wire; pathId is present only on ADD-PATH sessions (RFC 7911). */
export interface NlriPrefix extends Prefix {
  pathId?: number;
}

export interface AfiSafi {
  afi: number;
  safi: number;
}

export const CAP_MULTIPROTOCOL = 1;
export const CAP_ROUTE_REFRESH = 2;
export const CAP_EXTENDED_NEXT_HOP = 5;
export const CAP_EXTENDED_MESSAGE = 6;
export const CAP_GRACEFUL_RESTART = 64;
export const CAP_FOUR_OCTET_AS = 65;
export const CAP_ADD_PATH = 69;
export const CAP_ENHANCED_ROUTE_REFRESH = 70;
export const CAP_ROUTE_REFRESH_OLD = 128;

/** RFC 4724 restart flags (high nibble of the first octet). */
export const GR_FLAG_RESTART = 0x8;
/** RFC 8538 N-bit: the speaker supports "Notification" graceful restart. */
export const GR_FLAG_NOTIFICATION = 0x4;

export interface MultiprotocolCapability {
  code: 1;
  afi: number;
  safi: number;
}
export interface RouteRefreshCapability {
  code: 2;
}
export interface ExtendedNextHopCapability {
  code: 5;
  /** RFC 8950 tuples: NLRI of (afi, safi) may use next hops of nextHopAfi. */
  families: Array<{ afi: number; safi: number; nextHopAfi: number }>;
}
export interface ExtendedMessageCapability {
  code: 6;
}
export interface GracefulRestartCapability {
  code: 64;
  /** 4 bits: GR_FLAG_RESTART (R) | GR_FLAG_NOTIFICATION (N, RFC 8538). */
  restartFlags: number;
  /** Seconds, 12 bits. */
  restartTime: number;
  families: Array<{ afi: number; safi: number; forwardingState: boolean }>;
}
export interface FourOctetAsCapability {
  code: 65;
  asn: number;
}
export interface AddPathCapability {
  code: 69;
  /** sendReceive: 1 = receive, 2 = send, 3 = both (from the advertiser's point of view). */
  families: Array<{ afi: number; safi: number; sendReceive: 1 | 2 | 3 }>;
}
export interface EnhancedRouteRefreshCapability {
  code: 70;
}
export interface OldRouteRefreshCapability {
  code: 128;
}
/** Any capability we do not interpret, kept byte-exact. Distinguish with `'raw' in cap`. */
export interface UnknownCapability {
  code: number;
  raw: Buffer;
}

export type KnownCapability =
  | MultiprotocolCapability
  | RouteRefreshCapability
  | ExtendedNextHopCapability
  | ExtendedMessageCapability
  | GracefulRestartCapability
  | FourOctetAsCapability
  | AddPathCapability
  | EnhancedRouteRefreshCapability
  | OldRouteRefreshCapability;

export type Capability = KnownCapability | UnknownCapability;

export interface OpenMessage {
  type: 'OPEN';
  version: 4;
  /** The 2-octet My Autonomous System field: AS_TRANS (23456) when the real AS is > 65535. */
  myAs: number;
  holdTime: number;
  /** BGP Identifier, dotted quad. */
  bgpId: string;
  capabilities: Capability[];
}

export interface UpdateMessage {
  type: 'UPDATE';
  withdrawn: NlriPrefix[];
  /** Present iff the UPDATE carries ORIGIN and AS_PATH (i.e. it can announce routes). */
  attributes?: PathAttributes;
  nlri: NlriPrefix[];
  mpReach?: MpReach & { nlri: NlriPrefix[] };
  mpUnreach?: MpUnreach & { withdrawn: NlriPrefix[] };
}

export interface NotificationMessage {
  type: 'NOTIFICATION';
  code: number;
  subcode: number;
  data: Buffer;
}

export interface KeepaliveMessage {
  type: 'KEEPALIVE';
}

/** RFC 2918 / 7313. subtype 0 = normal request, 1 = BoRR, 2 = EoRR. */
export interface RouteRefreshMessage {
  type: 'ROUTE_REFRESH';
  afi: number;
  safi: number;
  subtype: number;
}

export type BgpMessage = OpenMessage | UpdateMessage | NotificationMessage | KeepaliveMessage | RouteRefreshMessage;

export type DecodeOutcome =
  | {
      ok: true;
      message: BgpMessage;
      /**
       * RFC 7606 treat-as-withdraw: every prefix the UPDATE announced has been moved to
       * `withdrawn` / `mpUnreach.withdrawn` and `attributes` removed; apply it as a withdrawal.
       */
      treatAsWithdraw?: boolean;
      /** RFC 7606 attribute discard: type codes of attributes dropped from the message. */
      discarded?: number[];
      /** Human-readable notes on anything tolerated (for the log). */
      warnings?: string[];
    }
  | { ok: false; notification: NotificationMessage; reason: string };

/** Thrown by encoders when given values that cannot be put on the wire (a programming error, never peer input). */
export class BgpEncodeError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'BgpEncodeError';
  }
}
