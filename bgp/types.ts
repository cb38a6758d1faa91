// Shared BGP vocabulary between the codec, the RIB, policy and the speaker.
// Addresses are canonical strings (ipaddr.js toString / toNormalizedString-free short form),
// so they can be map keys and compared cheaply.

export const AFI_IPV4 = 1;
export const AFI_IPV6 = 2;
export const SAFI_UNICAST = 1;
export type Afi = typeof AFI_IPV4 | typeof AFI_IPV6;

export interface Prefix {
  family: 4 | 6;
  /** Canonical network address, host bits zero: "10.0.0.0", "fd00::". */
  address: string;
  length: number;
}

export function prefixToString(p: Prefix): string {
  return `${p.address}/${p.length}`;
}

export const ORIGIN_IGP = 0;
export const ORIGIN_EGP = 1;
export const ORIGIN_INCOMPLETE = 2;
export type Origin = 0 | 1 | 2;

export const AS_SET = 1;
export const AS_SEQUENCE = 2;
export const AS_CONFED_SEQUENCE = 3;
export const AS_CONFED_SET = 4;

export interface AsPathSegment {
  type: 1 | 2 | 3 | 4;
  asns: number[];
}

export interface Aggregator {
  asn: number;
  address: string;
}

/** An attribute we do not understand, carried as raw bytes (optional transitive ones are passed on with Partial set). */
export interface RawAttribute {
  flags: number;
  type: number;
  value: Buffer;
}

/**
 * The path attributes of a route, without the NLRI-carrying MP_REACH / MP_UNREACH
 * (those belong to the UPDATE message). AS numbers are always 4-octet here: the codec
 * merges AS4_PATH / AS4_AGGREGATOR when talking to a 2-octet peer.
 */
export interface PathAttributes {
  origin: Origin;
  asPath: AsPathSegment[];
  /** IPv4 NEXT_HOP attribute (type 3), when present. */
  nextHop?: string;
  med?: number;
  localPref?: number;
  atomicAggregate?: boolean;
  aggregator?: Aggregator;
  /** RFC 1997 communities as 32-bit unsigned numbers (asn << 16 | value). */
  communities?: number[];
  /** RFC 8092: [globalAdmin, localData1, localData2]. */
  largeCommunities?: Array<[number, number, number]>;
  /**
   * RFC 4360 extended communities, each 8-octet value as its [high, low] 32-bit halves (high: type,
   * sub-type and the first two value octets). Type bit 0x40 marks one not to leave the AS.
   */
  extendedCommunities?: Array<[number, number]>;
  originatorId?: string;
  clusterList?: string[];
  unknown?: RawAttribute[];
}

export interface MpReach {
  afi: number;
  safi: number;
  /** One global next hop, or global + link-local for IPv6. */
  nextHops: string[];
  nlri: Prefix[];
}

export interface MpUnreach {
  afi: number;
  safi: number;
  withdrawn: Prefix[];
}

/** A route as the RIB and the route sink see it. */
export interface Route {
  prefix: Prefix;
  nextHop: string;
  attrs: PathAttributes;
}

/** What the speaker hands to felix (the only kernel writer). */
export type RouteSinkEvent =
  | { type: 'install'; prefix: Prefix; nextHops: string[]; sourcePeer: string; attrs: PathAttributes }
  | { type: 'withdraw'; prefix: Prefix; sourcePeer: string };

export interface RouteSink {
  onRoute(event: RouteSinkEvent): void;
}
