// The path attribute table: ONE entry per attribute type with its expected flags, decoder,
// semantic validation, encoder, formatter and the RFC 7606 action taken when it is malformed.
// update.ts walks the wire and this table; nothing attribute-specific lives anywhere else.
import type { Aggregator, AsPathSegment, MpReach, MpUnreach, Origin, PathAttributes } from '../types.js';
import { addressBytes, formatIpv4, formatIpv6, ipv4Bytes } from './address.js';
import { as4PathFor, decodeAsPath, encodeAsPath, formatAsPath, hasWideAsn } from './aspath.js';
import * as C from './constants.js';
import { AttrError } from './errors.js';
import { decodePrefixes, encodePrefixes, NlriError } from './nlri.js';
import type { Writer } from './writer.js';
import { BgpEncodeError, type CodecContext, type NlriPrefix } from './types.js';

// Bound once: constant lookups stay local on the per-attribute path.
const { AS_TRANS, ATTR_AGGREGATOR, ATTR_AS4_AGGREGATOR, ATTR_AS4_PATH, ATTR_AS_PATH, ATTR_ATOMIC_AGGREGATE, ATTR_CLUSTER_LIST, ATTR_COMMUNITIES, ATTR_EXTENDED_COMMUNITIES, ATTR_LARGE_COMMUNITIES, ATTR_LOCAL_PREF, ATTR_MED, ATTR_MP_REACH_NLRI, ATTR_MP_UNREACH_NLRI, ATTR_NEXT_HOP, ATTR_ORIGIN, ATTR_ORIGINATOR_ID, FLAG_OPTIONAL, FLAG_TRANSITIVE, UPD_OPTIONAL_ATTR } = C;

/** RFC 7606 §2 approaches. */
export type ErrorAction = 'session-reset' | 'treat-as-withdraw' | 'attribute-discard';

/** Everything decoding the attributes of one UPDATE produces before the post-checks. */
export interface AttrDecodeState {
  attrs: Partial<PathAttributes>;
  as4Path?: AsPathSegment[];
  as4Aggregator?: Aggregator;
  mpReach?: MpReach & { nlri: NlriPrefix[] };
  mpUnreach?: MpUnreach & { withdrawn: NlriPrefix[] };
  warnings: string[];
}

/** What encoders read: the route attributes plus the UPDATE's MP attributes. */
export interface AttrEncodeSource {
  attrs?: PathAttributes;
  mpReach?: MpReach & { nlri: NlriPrefix[] };
  mpUnreach?: MpUnreach & { withdrawn: NlriPrefix[] };
}

export interface AttrEntry<T> {
  code: number;
  name: string;
  /** Expected Optional | Transitive bits. */
  flags: number;
  /** RFC 7606 action for a malformed value (length, content). */
  onError: ErrorAction;
  /** Action for an Optional/Transitive flag conflict (RFC 7606 §3(c)); defaults to treat-as-withdraw. */
  onFlagsError?: ErrorAction;
  /** UPDATE error subcode used when the action is session reset. */
  resetSubcode?: number;
  /** Wire value → T. Throws AttrError for malformations. */
  decode(v: Buffer, ctx: CodecContext, st: AttrDecodeState): T;
  /** Semantic checks beyond syntax; returns the problem or undefined. */
  validate?(value: T, ctx: CodecContext): string | undefined;
  /** Stores a decoded value. */
  apply(st: AttrDecodeState, value: T): void;
  /** The value to send, or undefined when the attribute is absent. */
  pick(src: AttrEncodeSource, ctx: CodecContext): T | undefined;
  encode(w: Writer, value: T, ctx: CodecContext): void;
  format(value: T): string;
}

function fixedLength(v: Buffer, n: number): void {
  if (v.length !== n) throw new AttrError(`length ${v.length}, expected ${n}`);
}

function checkU32(n: number, field: string): number {
  if (!Number.isInteger(n) || n < 0 || n > 0xffffffff) throw new BgpEncodeError(`${field}: ${n} is not a 32-bit unsigned integer`);
  return n;
}

function u32List(v: Buffer, what: string): number[] {
  if (v.length === 0 || v.length % 4 !== 0) throw new AttrError(`${what} length ${v.length} is not a non-zero multiple of 4`);
  const out = new Array<number>(v.length / 4);
  for (let i = 0; i < out.length; i++) out[i] = v.readUInt32BE(i * 4);
  return out;
}

function ipv4List(v: Buffer, what: string): string[] {
  if (v.length === 0 || v.length % 4 !== 0) throw new AttrError(`${what} length ${v.length} is not a non-zero multiple of 4`);
  const out: string[] = [];
  for (let o = 0; o < v.length; o += 4) out.push(formatIpv4(v, o));
  return out;
}

function isHostAddressV4(a: string): boolean {
  const first = Number(a.split('.')[0]);
  // 0.0.0.0/8, class D multicast and class E are never a next hop (RFC 4271 §6.3).
  return first !== 0 && first < 224;
}

function decodeAggregator(v: Buffer, four: boolean): Aggregator {
  fixedLength(v, four ? 8 : 6);
  return four ? { asn: v.readUInt32BE(0), address: formatIpv4(v, 4) } : { asn: v.readUInt16BE(0), address: formatIpv4(v, 2) };
}

function encodeAggregator(w: Writer, a: Aggregator, four: boolean): void {
  checkU32(a.asn, 'aggregator.asn');
  if (four) w.u32(a.asn);
  else w.u16(a.asn > 0xffff ? AS_TRANS : a.asn);
  w.bytes(ipv4Bytes(a.address, 'aggregator.address'));
}

/** Families whose NLRI we can parse: IPv4/IPv6 × unicast/multicast share the prefix format. */
function nlriFamily(afi: number, safi: number): 4 | 6 | undefined {
  if (safi !== 1 && safi !== 2) return undefined;
  return afi === 1 ? 4 : afi === 2 ? 6 : undefined;
}

function addPathReceive(ctx: CodecContext, afi: number, safi: number): boolean {
  return !!ctx.addPath?.some((f) => f.afi === afi && f.safi === safi && f.receive);
}

export function addPathSend(ctx: CodecContext, afi: number, safi: number): boolean {
  return !!ctx.addPath?.some((f) => f.afi === afi && f.safi === safi && f.send);
}

function decodeNextHops(v: Buffer, off: number, len: number, afi: number, ctx: CodecContext): string[] {
  if (afi === 1 && len === 4) return [formatIpv4(v, off)];
  if (afi === 2 || (afi === 1 && ctx.extendedNextHop)) {
    if (len === 16) return [fmt6(v, off)];
    if (len === 32) return [fmt6(v, off), fmt6(v, off + 16)];
  }
  throw new AttrError(`next hop length ${len} invalid for AFI ${afi}${afi === 1 && !ctx.extendedNextHop ? ' (extended next hop not negotiated)' : ''}`);
}

function fmt6(v: Buffer, off: number): string {
  return formatIpv6(v, off);
}

type MpReachValue = MpReach & { nlri: NlriPrefix[] };
type MpUnreachValue = MpUnreach & { withdrawn: NlriPrefix[] };

/** Sentinel for an MP attribute of a family we do not parse: dropped with a warning. */
const SKIPPED = Symbol('skipped');

function entry<T>(e: AttrEntry<T>): AttrEntry<unknown> {
  return e as unknown as AttrEntry<unknown>;
}

const WK_T = FLAG_TRANSITIVE; // well-known: Optional 0, Transitive 1
const OPT = FLAG_OPTIONAL; // optional non-transitive
const OPT_T = FLAG_OPTIONAL | FLAG_TRANSITIVE; // optional transitive

const ORIGIN_NAMES = ['IGP', 'EGP', 'INCOMPLETE'];

/** A 4-octet unsigned attribute (MED, LOCAL_PREF): malformed length → treat-as-withdraw. */
function u32Attribute(code: number, name: string, flags: number, key: 'med' | 'localPref', label: string): AttrEntry<unknown> {
  return entry<number>({
    code,
    name,
    flags,
    onError: 'treat-as-withdraw',
    decode(v) {
      fixedLength(v, 4);
      return v.readUInt32BE(0);
    },
    apply(st, v) {
      st.attrs[key] = v;
    },
    pick: (src) => src.attrs?.[key],
    encode: (w, v) => void w.u32(checkU32(v, key)),
    format: (v) => `${label} ${v}`,
  });
}

/** A community list of `width` 32-bit numbers each (extended: 2, large: 3); RFC 7606 length check. */
function u32Tuples(v: Buffer, width: number, name: string): number[][] {
  const size = 4 * width;
  if (v.length === 0 || v.length % size !== 0) throw new AttrError(`${name} length ${v.length} is not a non-zero multiple of ${size}`);
  const out: number[][] = [];
  for (let o = 0; o < v.length; o += size) out.push(Array.from({ length: width }, (_, k) => v.readUInt32BE(o + 4 * k)));
  return out;
}

export const ATTRIBUTE_TABLE: ReadonlyArray<AttrEntry<unknown>> = [
  entry<MpReachValue | typeof SKIPPED>({
    code: ATTR_MP_REACH_NLRI,
    name: 'MP_REACH_NLRI',
    flags: OPT,
    onError: 'session-reset', // RFC 7606 §7.11: AFI/SAFI disable is not implemented, so reset.
    onFlagsError: 'session-reset',
    resetSubcode: UPD_OPTIONAL_ATTR,
    decode(v, ctx, st) {
      if (v.length < 5) throw new AttrError(`length ${v.length} < 5`);
      const afi = v.readUInt16BE(0);
      const safi = v[2];
      const nhLen = v[3];
      if (4 + nhLen + 1 > v.length) throw new AttrError(`next hop length ${nhLen} overruns the attribute`);
      const family = nlriFamily(afi, safi);
      if (family === undefined) {
        st.warnings.push(`MP_REACH_NLRI for unsupported AFI ${afi} SAFI ${safi} ignored`);
        return SKIPPED;
      }
      const nextHops = decodeNextHops(v, 4, nhLen, afi, ctx);
      // One reserved octet (formerly SNPAs) follows the next hop and is ignored (RFC 4760 §3).
      try {
        const nlri = decodePrefixes(v, 4 + nhLen + 1, v.length, family, addPathReceive(ctx, afi, safi));
        return { afi, safi, nextHops, nlri };
      } catch (e) {
        if (e instanceof NlriError) throw new AttrError(`NLRI: ${e.message}`);
        throw e;
      }
    },
    apply(st, v) {
      if (v !== SKIPPED) st.mpReach = v;
    },
    pick: (src) => src.mpReach,
    encode(w, v, ctx) {
      if (v === SKIPPED) return;
      const family = nlriFamily(v.afi, v.safi);
      if (!family) throw new BgpEncodeError(`mpReach: AFI ${v.afi} SAFI ${v.safi} not supported`);
      w.u16(v.afi).u8(v.safi);
      if (v.nextHops.length < 1 || v.nextHops.length > 2) throw new BgpEncodeError('mpReach.nextHops: one or two addresses');
      const nh = v.nextHops.map((a, i) => addressBytes(a, `mpReach.nextHops[${i}]`));
      w.u8(nh.reduce((n, b) => n + b.length, 0));
      for (const b of nh) w.bytes(b);
      w.u8(0);
      encodePrefixes(w, v.nlri, addPathSend(ctx, v.afi, v.safi));
    },
    format: (v) => (v === SKIPPED ? 'MP_REACH_NLRI (unsupported family)' : `MP_REACH_NLRI AFI ${v.afi} SAFI ${v.safi} via ${v.nextHops.join(', ')}: ${v.nlri.length} prefixes`),
  }),
  entry<MpUnreachValue | typeof SKIPPED>({
    code: ATTR_MP_UNREACH_NLRI,
    name: 'MP_UNREACH_NLRI',
    flags: OPT,
    onError: 'session-reset',
    onFlagsError: 'session-reset',
    resetSubcode: UPD_OPTIONAL_ATTR,
    decode(v, ctx, st) {
      if (v.length < 3) throw new AttrError(`length ${v.length} < 3`);
      const afi = v.readUInt16BE(0);
      const safi = v[2];
      const family = nlriFamily(afi, safi);
      if (family === undefined) {
        st.warnings.push(`MP_UNREACH_NLRI for unsupported AFI ${afi} SAFI ${safi} ignored`);
        return SKIPPED;
      }
      try {
        return { afi, safi, withdrawn: decodePrefixes(v, 3, v.length, family, addPathReceive(ctx, afi, safi)) };
      } catch (e) {
        if (e instanceof NlriError) throw new AttrError(`withdrawn NLRI: ${e.message}`);
        throw e;
      }
    },
    apply(st, v) {
      if (v !== SKIPPED) st.mpUnreach = v;
    },
    pick: (src) => src.mpUnreach,
    encode(w, v, ctx) {
      if (v === SKIPPED) return;
      if (!nlriFamily(v.afi, v.safi)) throw new BgpEncodeError(`mpUnreach: AFI ${v.afi} SAFI ${v.safi} not supported`);
      w.u16(v.afi).u8(v.safi);
      encodePrefixes(w, v.withdrawn, addPathSend(ctx, v.afi, v.safi));
    },
    format: (v) => (v === SKIPPED ? 'MP_UNREACH_NLRI (unsupported family)' : `MP_UNREACH_NLRI AFI ${v.afi} SAFI ${v.safi}: ${v.withdrawn.length} prefixes`),
  }),
  entry<number>({
    code: ATTR_ORIGIN,
    name: 'ORIGIN',
    flags: WK_T,
    onError: 'treat-as-withdraw', // RFC 7606 §7.1
    decode(v) {
      fixedLength(v, 1);
      return v[0];
    },
    validate: (o) => (o > 2 ? `undefined ORIGIN value ${o}` : undefined),
    apply(st, v) {
      st.attrs.origin = v as Origin;
    },
    pick: (src) => src.attrs?.origin,
    encode(w, v) {
      if (v !== 0 && v !== 1 && v !== 2) throw new BgpEncodeError(`origin: ${v} is not 0, 1 or 2`);
      w.u8(v);
    },
    format: (v) => `ORIGIN ${ORIGIN_NAMES[v] ?? v}`,
  }),
  entry<AsPathSegment[]>({
    code: ATTR_AS_PATH,
    name: 'AS_PATH',
    flags: WK_T,
    onError: 'treat-as-withdraw', // RFC 7606 §7.2
    decode: (v, ctx) => decodeAsPath(v, ctx.fourOctetAs, true),
    apply(st, v) {
      st.attrs.asPath = v;
    },
    pick: (src) => src.attrs?.asPath,
    encode: (w, v, ctx) => encodeAsPath(w, v, ctx.fourOctetAs),
    format: (v) => `AS_PATH ${formatAsPath(v)}`,
  }),
  entry<string>({
    code: ATTR_NEXT_HOP,
    name: 'NEXT_HOP',
    flags: WK_T,
    onError: 'treat-as-withdraw', // RFC 7606 §7.3
    decode(v) {
      fixedLength(v, 4);
      return formatIpv4(v, 0);
    },
    validate: (a) => (isHostAddressV4(a) ? undefined : `NEXT_HOP ${a} is not a host address`),
    apply(st, v) {
      st.attrs.nextHop = v;
    },
    pick: (src) => src.attrs?.nextHop,
    encode: (w, v) => void w.bytes(ipv4Bytes(v, 'nextHop')),
    format: (v) => `NEXT_HOP ${v}`,
  }),
  u32Attribute(ATTR_MED, 'MULTI_EXIT_DISC', OPT, 'med', 'MED'), // RFC 7606 §7.4: treat-as-withdraw
  u32Attribute(ATTR_LOCAL_PREF, 'LOCAL_PREF', WK_T, 'localPref', 'LOCAL_PREF'), // RFC 7606 §7.5: treat-as-withdraw
  entry<boolean>({
    code: ATTR_ATOMIC_AGGREGATE,
    name: 'ATOMIC_AGGREGATE',
    flags: WK_T,
    onError: 'attribute-discard', // RFC 7606 §7.6
    decode(v) {
      fixedLength(v, 0);
      return true;
    },
    apply(st) {
      st.attrs.atomicAggregate = true;
    },
    pick: (src) => (src.attrs?.atomicAggregate ? true : undefined),
    encode: () => undefined,
    format: () => 'ATOMIC_AGGREGATE',
  }),
  entry<Aggregator>({
    code: ATTR_AGGREGATOR,
    name: 'AGGREGATOR',
    flags: OPT_T,
    onError: 'attribute-discard', // RFC 7606 §7.7
    decode: (v, ctx) => decodeAggregator(v, ctx.fourOctetAs),
    apply(st, v) {
      st.attrs.aggregator = v;
    },
    pick: (src) => src.attrs?.aggregator,
    encode: (w, v, ctx) => encodeAggregator(w, v, ctx.fourOctetAs),
    format: (v) => `AGGREGATOR ${v.asn} ${v.address}`,
  }),
  entry<number[]>({
    code: ATTR_COMMUNITIES,
    name: 'COMMUNITIES',
    flags: OPT_T,
    onError: 'treat-as-withdraw', // RFC 7606 §7.8
    decode: (v) => u32List(v, 'COMMUNITIES'),
    apply(st, v) {
      st.attrs.communities = v;
    },
    pick: (src) => (src.attrs?.communities?.length ? src.attrs.communities : undefined),
    encode(w, v) {
      for (const c of v) w.u32(checkU32(c, 'communities[]'));
    },
    format: (v) => `COMMUNITIES ${v.map((c) => `${c >>> 16}:${c & 0xffff}`).join(' ')}`,
  }),
  entry<string>({
    code: ATTR_ORIGINATOR_ID,
    name: 'ORIGINATOR_ID',
    flags: OPT,
    onError: 'treat-as-withdraw', // RFC 7606 §7.9
    decode(v) {
      fixedLength(v, 4);
      return formatIpv4(v, 0);
    },
    apply(st, v) {
      st.attrs.originatorId = v;
    },
    pick: (src) => src.attrs?.originatorId,
    encode: (w, v) => void w.bytes(ipv4Bytes(v, 'originatorId')),
    format: (v) => `ORIGINATOR_ID ${v}`,
  }),
  entry<string[]>({
    code: ATTR_CLUSTER_LIST,
    name: 'CLUSTER_LIST',
    flags: OPT,
    onError: 'treat-as-withdraw', // RFC 7606 §7.10
    decode: (v) => ipv4List(v, 'CLUSTER_LIST'),
    apply(st, v) {
      st.attrs.clusterList = v;
    },
    pick: (src) => (src.attrs?.clusterList?.length ? src.attrs.clusterList : undefined),
    encode(w, v) {
      v.forEach((a, i) => w.bytes(ipv4Bytes(a, `clusterList[${i}]`)));
    },
    format: (v) => `CLUSTER_LIST ${v.join(' ')}`,
  }),
  entry<Array<[number, number]>>({
    code: ATTR_EXTENDED_COMMUNITIES,
    name: 'EXTENDED_COMMUNITIES',
    flags: OPT_T,
    onError: 'treat-as-withdraw', // RFC 7606 §7.14
    decode: (v) => u32Tuples(v, 2, 'EXTENDED_COMMUNITIES') as Array<[number, number]>,
    apply(st, v) {
      st.attrs.extendedCommunities = v;
    },
    pick: (src) => (src.attrs?.extendedCommunities?.length ? src.attrs.extendedCommunities : undefined),
    encode(w, v) {
      for (const [hi, lo] of v) w.u32(checkU32(hi, 'extendedCommunities[].high')).u32(checkU32(lo, 'extendedCommunities[].low'));
    },
    format: (v) => `EXTENDED_COMMUNITIES ${v.map(formatExtendedCommunity).join(' ')}`,
  }),
  entry<AsPathSegment[]>({
    code: ATTR_AS4_PATH,
    name: 'AS4_PATH',
    flags: OPT_T,
    onError: 'attribute-discard', // RFC 6793 §6, RFC 7606 §7.12
    onFlagsError: 'attribute-discard',
    decode: (v) => decodeAsPath(v, true, false),
    apply(st, v) {
      st.as4Path = v;
    },
    // Generated only towards 2-octet peers, and only when the path holds an AS above 65535.
    pick: (src, ctx) => (!ctx.fourOctetAs && src.attrs && hasWideAsn(src.attrs.asPath) ? as4PathFor(src.attrs.asPath) : undefined),
    encode: (w, v) => encodeAsPath(w, v, true),
    format: (v) => `AS4_PATH ${formatAsPath(v)}`,
  }),
  entry<Aggregator>({
    code: ATTR_AS4_AGGREGATOR,
    name: 'AS4_AGGREGATOR',
    flags: OPT_T,
    onError: 'attribute-discard', // RFC 6793 §6, RFC 7606 §7.13
    onFlagsError: 'attribute-discard',
    decode: (v) => decodeAggregator(v, true),
    apply(st, v) {
      st.as4Aggregator = v;
    },
    pick: (src, ctx) => (!ctx.fourOctetAs && src.attrs?.aggregator && src.attrs.aggregator.asn > 0xffff ? src.attrs.aggregator : undefined),
    encode: (w, v) => encodeAggregator(w, v, true),
    format: (v) => `AS4_AGGREGATOR ${v.asn} ${v.address}`,
  }),
  entry<Array<[number, number, number]>>({
    code: ATTR_LARGE_COMMUNITIES,
    name: 'LARGE_COMMUNITIES',
    flags: OPT_T,
    onError: 'treat-as-withdraw', // RFC 8092 §6
    decode: (v) => u32Tuples(v, 3, 'LARGE_COMMUNITIES') as Array<[number, number, number]>,
    apply(st, v) {
      st.attrs.largeCommunities = v;
    },
    pick: (src) => (src.attrs?.largeCommunities?.length ? src.attrs.largeCommunities : undefined),
    encode(w, v) {
      for (const [a, b, c] of v) w.u32(checkU32(a, 'largeCommunities[].global')).u32(checkU32(b, 'largeCommunities[].local1')).u32(checkU32(c, 'largeCommunities[].local2'));
    },
    format: (v) => `LARGE_COMMUNITIES ${v.map((t) => t.join(':')).join(' ')}`,
  }),
];

/** BIRD's notation for the common two-octet-AS route target / origin, hex for the rest. */
export function formatExtendedCommunity([hi, lo]: readonly [number, number]): string {
  const type = hi >>> 24;
  const sub = (hi >>> 16) & 0xff;
  if ((type & 0xbf) === 0 && (sub === 2 || sub === 3)) return `(${sub === 2 ? 'rt' : 'ro'}, ${hi & 0xffff}, ${lo >>> 0})`;
  return `0x${hi.toString(16).padStart(8, '0')}${lo.toString(16).padStart(8, '0')}`;
}

export const ATTRIBUTES_BY_CODE: ReadonlyMap<number, AttrEntry<unknown>> = new Map(ATTRIBUTE_TABLE.map((e) => [e.code, e]));

/** One line per attribute, for logs and `show route` style output. */
export function formatAttributes(attrs: PathAttributes, ctx: CodecContext = { fourOctetAs: true }): string[] {
  const out: string[] = [];
  for (const e of ATTRIBUTE_TABLE) {
    const v = e.pick({ attrs }, ctx);
    if (v !== undefined) out.push(e.format(v));
  }
  for (const u of attrs.unknown ?? []) out.push(`type ${u.type} flags 0x${u.flags.toString(16)}: ${u.value.toString('hex')}`);
  return out;
}
