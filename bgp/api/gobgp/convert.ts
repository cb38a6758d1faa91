// Speaker state ↔ GoBGP v3 API messages (apipb, gobgp 3.10). Pure: plain objects in the shape
// proto-loader serializes (snake_case fields, google.protobuf.Any as `{ '@type', ...fields }`),
// time passed in. What the stock `gobgp` CLI dereferences is always filled (see
// docs: a missing nested message crashes it, an unknown attribute blanks a column).
import ipaddr from 'ipaddr.js';
import type { Capability } from '../../codec/types.js';
import type { PathAttributes, Prefix } from '../../types.js';
import { extendedCommunitiesToApi } from './extcomm.js';

/** A google.protobuf.Any as proto-loader (json: true) reads and writes it. */
export interface ApiAny {
  '@type': string;
  [field: string]: unknown;
}

export interface ApiFamily {
  afi: number;
  safi: number;
}

export interface ApiTimestamp {
  seconds: number;
  nanos: number;
}

export interface ApiPath {
  nlri: ApiAny;
  pattrs: ApiAny[];
  age: ApiTimestamp;
  best: boolean;
  family: ApiFamily;
  source_asn: number;
  source_id: string;
  neighbor_ip: string;
  stale: boolean;
  is_from_external: boolean;
  /** The ADD-PATH path identifier it was received with (0 without ADD-PATH). */
  identifier: number;
}

export interface ApiDestination {
  prefix: string;
  paths: ApiPath[];
}

const T = 'type.googleapis.com/apipb.';
export const any = (type: string, fields: Record<string, unknown> = {}): ApiAny => ({ '@type': T + type, ...fields });
export const familyOf = (f: 4 | 6): ApiFamily => ({ afi: f === 4 ? 1 : 2, safi: 1 });
export const timestamp = (ms: number): ApiTimestamp => ({ seconds: Math.floor(ms / 1000), nanos: (ms % 1000) * 1e6 });

/** Path attributes as GoBGP lists them: by type code, MP_REACH carrying the IPv6 NLRI and next hop. */
export function attrsToApi(a: PathAttributes, prefix: Prefix, nextHop: string): ApiAny[] {
  const out: Array<[number, ApiAny]> = [
    [1, any('OriginAttribute', { origin: a.origin })],
    [2, any('AsPathAttribute', { segments: a.asPath.map((s) => ({ type: s.type, numbers: s.asns })) })],
  ];
  if (prefix.family === 4) out.push([3, any('NextHopAttribute', { next_hop: a.nextHop ?? (nextHop || '0.0.0.0') })]);
  // A learned path's next hop is the session's; an originated one may name its own (AddPath nexthop).
  else out.push([14, any('MpReachNLRIAttribute', { family: familyOf(6), next_hops: [nextHop || a.nextHop || '::'], nlris: [nlriToApi(prefix)] })]);
  if (a.med !== undefined) out.push([4, any('MultiExitDiscAttribute', { med: a.med })]);
  if (a.localPref !== undefined) out.push([5, any('LocalPrefAttribute', { local_pref: a.localPref })]);
  if (a.atomicAggregate) out.push([6, any('AtomicAggregateAttribute')]);
  if (a.aggregator) out.push([7, any('AggregatorAttribute', { asn: a.aggregator.asn, address: a.aggregator.address })]);
  if (a.communities?.length) out.push([8, any('CommunitiesAttribute', { communities: a.communities })]);
  if (a.originatorId) out.push([9, any('OriginatorIdAttribute', { id: a.originatorId })]);
  if (a.clusterList?.length) out.push([10, any('ClusterListAttribute', { ids: a.clusterList })]);
  if (a.extendedCommunities?.length) out.push([16, extendedCommunitiesToApi(a.extendedCommunities)]);
  if (a.largeCommunities?.length)
    out.push([32, any('LargeCommunitiesAttribute', { communities: a.largeCommunities.map(([g, l1, l2]) => ({ global_admin: g, local_data1: l1, local_data2: l2 })) })]);
  for (const u of a.unknown ?? []) out.push([u.type, any('UnknownAttribute', { flags: u.flags, type: u.type, value: u.value })]);
  return out.sort((x, y) => x[0] - y[0]).map(([, v]) => v);
}

export const nlriToApi = (p: Prefix): ApiAny => any('IPAddressPrefix', { prefix: p.address, prefix_len: p.length });

export interface PathSource {
  /** 'local' or the peer address. */
  address: string;
  asNumber: number;
  routerId: string;
  ebgp: boolean;
}

export function pathToApi(prefix: Prefix, attrs: PathAttributes, nextHop: string, src: PathSource, best: boolean, stale: boolean, ageMs: number, identifier = 0): ApiPath {
  return {
    nlri: nlriToApi(prefix),
    pattrs: attrsToApi(attrs, prefix, nextHop),
    age: timestamp(ageMs),
    best,
    family: familyOf(prefix.family),
    source_asn: src.asNumber,
    source_id: src.routerId,
    neighbor_ip: src.address === 'local' ? (prefix.family === 4 ? '0.0.0.0' : '::') : src.address,
    stale,
    is_from_external: src.ebgp,
    identifier,
  };
}

/** GoBGP's capability messages (capability.proto); ones it has no message for go as UnknownCapability. */
export function capabilityToApi(c: Capability): ApiAny {
  const fam = (afi: number, safi: number): ApiFamily => ({ afi, safi });
  if ('raw' in c) return rawCapabilityToApi(c.code, c.raw);
  switch (c.code) {
    case 1:
      return any('MultiProtocolCapability', { family: fam(c.afi, c.safi) });
    case 2:
      return any('RouteRefreshCapability');
    case 5:
      return any('ExtendedNexthopCapability', { tuples: c.families.map((f) => ({ nlri_family: fam(f.afi, f.safi), nexthop_family: fam(f.nextHopAfi, 1) })) });
    case 64:
      return any('GracefulRestartCapability', {
        flags: c.restartFlags,
        time: c.restartTime,
        tuples: c.families.map((f) => ({ family: fam(f.afi, f.safi), flags: f.forwardingState ? 0x80 : 0 })),
      });
    case 65:
      return any('FourOctetASNCapability', { asn: c.asn });
    case 69:
      return any('AddPathCapability', { tuples: c.families.map((f) => ({ family: fam(f.afi, f.safi), mode: f.sendReceive })) });
    case 70:
      return any('EnhancedRouteRefreshCapability');
    case 128:
      return any('RouteRefreshCiscoCapability');
    default:
      return any('UnknownCapability', { code: c.code, value: Buffer.alloc(0) });
  }
}

/**
 * Capabilities the codec keeps raw but the CLI knows by code: it casts those to its own type, so
 * they must come as their own message (an UnknownCapability with such a code crashes it).
 */
function rawCapabilityToApi(code: number, raw: Buffer): ApiAny {
  if (code === 71 && raw.length % 7 === 0) {
    const tuples = [];
    for (let at = 0; at < raw.length; at += 7) tuples.push({ family: { afi: raw.readUInt16BE(at), safi: raw[at + 2] }, flags: raw[at + 3], time: raw.readUIntBE(at + 4, 3) });
    return any('LongLivedGracefulRestartCapability', { tuples });
  }
  if (code === 73 && raw.length >= 1 && raw.length >= 2 + raw[0]) {
    const host = raw.subarray(1, 1 + raw[0]);
    const dl = raw[1 + raw[0]];
    return any('FqdnCapability', { host_name: host.toString('utf8'), domain_name: raw.subarray(2 + raw[0], 2 + raw[0] + dl).toString('utf8') });
  }
  // Other codes the CLI casts (MP, route refresh, GR, 4-octet AS, add-path, …) arrive parsed; a
  // malformed 71/73 under its own code would crash it, so it goes as unknown code 0.
  if (code === 71 || code === 73) return any('UnknownCapability', { code: 0, value: raw });
  return any('UnknownCapability', { code, value: raw });
}

/** Groups paths into destinations; `sorted` orders them by address then length (ListPath sort_type PREFIX). */
export function destinations(paths: Array<{ prefix: Prefix; path: ApiPath }>, sorted: boolean): ApiDestination[] {
  const by = new Map<string, { prefix: Prefix; paths: ApiPath[] }>();
  for (const { prefix, path } of paths) {
    const k = `${prefix.address}/${prefix.length}`;
    let d = by.get(k);
    if (!d) by.set(k, (d = { prefix, paths: [] }));
    d.paths.push(path);
  }
  const list = [...by.values()];
  if (sorted) list.sort((x, y) => comparePrefixes(x.prefix, y.prefix));
  // The best path first, as GoBGP lists a destination.
  return list.map((d) => ({ prefix: `${d.prefix.address}/${d.prefix.length}`, paths: [...d.paths].sort((x, y) => Number(y.best) - Number(x.best)) }));
}

export function comparePrefixes(a: Prefix, b: Prefix): number {
  const x = ipaddr.parse(a.address).toByteArray();
  const y = ipaddr.parse(b.address).toByteArray();
  for (let i = 0; i < Math.min(x.length, y.length); i++) if (x[i] !== y[i]) return x[i] - y[i];
  return x.length - y.length || a.length - b.length;
}

// ---- requests → speaker vocabulary ----

export class InvalidArgument extends Error {}

/** The family of a request: absent or 0 means IPv4 unicast, like GoBGP; anything but IPv4/IPv6 unicast is refused. */
export function familyFromApi(f: { afi?: unknown; safi?: unknown } | null | undefined): 4 | 6 {
  const afi = afiNumber(f?.afi);
  const safi = safiNumber(f?.safi);
  if ((afi === 0 || afi === 1) && (safi === 0 || safi === 1)) return 4;
  if (afi === 2 && (safi === 0 || safi === 1)) return 6;
  throw new InvalidArgument(`family ${String(f?.afi)}/${String(f?.safi)} is not supported: only ipv4-unicast and ipv6-unicast`);
}

const AFIS: Record<string, number> = { AFI_UNKNOWN: 0, AFI_IP: 1, AFI_IP6: 2 };
const SAFIS: Record<string, number> = { SAFI_UNKNOWN: 0, SAFI_UNICAST: 1 };
const afiNumber = (v: unknown): number => (typeof v === 'number' ? v : v === undefined ? 0 : (AFIS[String(v)] ?? -1));
const safiNumber = (v: unknown): number => (typeof v === 'number' ? v : v === undefined ? 0 : (SAFIS[String(v)] ?? -1));

/** Parses "a.b.c.d/len" or an IPAddressPrefix; host bits must be zero. */
export function parsePrefix(address: string, length: number, what = 'nlri'): Prefix {
  if (!ipaddr.isValid(address)) throw new InvalidArgument(`${what}: "${address}" is not an IP address`);
  const ip = ipaddr.parse(address);
  const family = ip.kind() === 'ipv4' ? 4 : 6;
  const max = family === 4 ? 32 : 128;
  if (!Number.isInteger(length) || length < 0 || length > max) throw new InvalidArgument(`${what}: prefix length ${length} is out of range 0..${max}`);
  const net = ipaddr.parseCIDR(`${address}/${length}`);
  const canonical = (family === 4 ? ipaddr.IPv4.networkAddressFromCIDR(`${address}/${length}`) : networkV6(net[0] as ipaddr.IPv6, length)).toString();
  if (canonical !== ip.toString()) throw new InvalidArgument(`${what}: ${address}/${length} has host bits set (did you mean ${canonical}/${length}?)`);
  return { family, address: canonical, length };
}

function networkV6(ip: ipaddr.IPv6, length: number): ipaddr.IPv6 {
  const bytes = ip.toByteArray().map((b, i) => {
    const keep = Math.max(0, Math.min(8, length - i * 8));
    return b & ((0xff << (8 - keep)) & 0xff);
  });
  return ipaddr.fromByteArray(bytes) as ipaddr.IPv6;
}

/** A repeated field (proto-loader gives arrays; anything else is a malformed request). */
export function list<V>(v: unknown, field: string): V[] {
  if (v === undefined || v === null) return [];
  if (!Array.isArray(v)) throw new InvalidArgument(`${field}: expected a list`);
  return v as V[];
}

/** A uint32 field. */
function u32(v: unknown, field: string): number {
  const n = v === undefined || v === null ? 0 : Number(v);
  if (!Number.isInteger(n) || n < 0 || n > 0xffffffff) throw new InvalidArgument(`${field}: ${String(v)} is not a 32-bit unsigned number`);
  return n;
}

const typeName = (a: ApiAny | undefined): string => String(a?.['@type'] ?? '').replace(/^.*\//, '').replace(/^apipb\./, '');

export interface RouteFromApi {
  prefix: Prefix;
  attrs: Partial<PathAttributes>;
  /** The next hop asked for ('' when unspecified: 0.0.0.0, :: or none). */
  nextHop: string;
}

/**
 * A Path of AddPath / DeletePath as a route to originate. Understood: IPAddressPrefix NLRI, and
 * ORIGIN, AS_PATH, NEXT_HOP / MP_REACH (next hop), MED, LOCAL_PREF, COMMUNITIES, LARGE_COMMUNITIES;
 * anything else is refused rather than silently dropped.
 */
export function routeFromApi(path: { nlri?: ApiAny | null; pattrs?: unknown; family?: ApiFamily | null } | null | undefined): RouteFromApi {
  if (!path || typeof path !== 'object') throw new InvalidArgument('path is required');
  let nlri = path.nlri ?? undefined;
  let nextHop = '';
  const attrs: Partial<PathAttributes> = {};
  for (const a of list<ApiAny>(path.pattrs, 'pattrs')) {
    if (!a || typeof a !== 'object') throw new InvalidArgument('pattrs: expected attribute messages');
    switch (typeName(a)) {
      case 'OriginAttribute': {
        const o = u32(a.origin, 'OriginAttribute.origin');
        if (o !== 0 && o !== 1 && o !== 2) throw new InvalidArgument(`OriginAttribute: origin ${o} is not 0 (igp), 1 (egp) or 2 (incomplete)`);
        attrs.origin = o;
        break;
      }
      case 'AsPathAttribute': {
        const segs = list<{ type?: unknown; numbers?: unknown } | null>(a.segments, 'AsPathAttribute.segments');
        attrs.asPath = segs.map((s) => {
          if (!s || typeof s !== 'object') throw new InvalidArgument('AsPathAttribute.segments: expected segments');
          const t = typeof s.type === 'number' ? s.type : ({ AS_SET: 1, AS_SEQUENCE: 2, AS_CONFED_SEQUENCE: 3, AS_CONFED_SET: 4 } as Record<string, number>)[String(s.type)];
          if (t !== 1 && t !== 2 && t !== 3 && t !== 4) throw new InvalidArgument(`AsPathAttribute: segment type ${String(s.type)} is not valid`);
          return { type: t, asns: list(s.numbers, 'AsPathAttribute.numbers').map((n) => u32(n, 'AsPathAttribute.numbers')) };
        });
        break;
      }
      case 'NextHopAttribute':
        nextHop = nextHopOf(typeof a.next_hop === 'string' ? a.next_hop : '', 'NextHopAttribute.next_hop');
        break;
      case 'MpReachNLRIAttribute': {
        const hops = list<unknown>(a.next_hops, 'MpReachNLRIAttribute.next_hops');
        // GoBGP takes a second next hop as the IPv6 link-local one (RFC 2545); tortie sends its own.
        if (hops.length > 1) throw new InvalidArgument('MpReachNLRIAttribute.next_hops: one next hop (a link-local second one is not supported: the session\'s own is sent)');
        nextHop = nextHopOf(typeof hops[0] === 'string' ? hops[0] : '', 'MpReachNLRIAttribute.next_hops');
        const n = list<ApiAny>(a.nlris, 'MpReachNLRIAttribute.nlris');
        if (n.length > 1) throw new InvalidArgument('MpReachNLRIAttribute: one NLRI per path');
        if (n.length) nlri = n[0];
        break;
      }
      case 'MultiExitDiscAttribute':
        attrs.med = u32(a.med, 'MultiExitDiscAttribute.med');
        break;
      case 'LocalPrefAttribute':
        attrs.localPref = u32(a.local_pref, 'LocalPrefAttribute.local_pref');
        break;
      case 'CommunitiesAttribute':
        attrs.communities = list(a.communities, 'CommunitiesAttribute.communities').map((c) => u32(c, 'CommunitiesAttribute.communities'));
        break;
      case 'LargeCommunitiesAttribute':
        attrs.largeCommunities = list<{ global_admin?: unknown; local_data1?: unknown; local_data2?: unknown } | null>(a.communities, 'LargeCommunitiesAttribute.communities').map((c) => [
          u32(c?.global_admin, 'LargeCommunity.global_admin'),
          u32(c?.local_data1, 'LargeCommunity.local_data1'),
          u32(c?.local_data2, 'LargeCommunity.local_data2'),
        ]);
        break;
      default:
        throw new InvalidArgument(`path attribute ${typeName(a) || '(no @type)'} is not supported for originated routes`);
    }
  }
  if (!nlri || typeName(nlri) !== 'IPAddressPrefix') throw new InvalidArgument(`nlri must be an IPAddressPrefix (got ${typeName(nlri) || 'none'})`);
  const prefix = parsePrefix(typeof nlri.prefix === 'string' ? nlri.prefix : '', u32(nlri.prefix_len, 'nlri.prefix_len'));
  if (path.family && familyFromApi(path.family) !== prefix.family) throw new InvalidArgument(`family does not match the nlri ${prefix.address}/${prefix.length}`);
  if (nextHop && (nextHop.includes(':') ? 6 : 4) !== prefix.family) throw new InvalidArgument(`next hop ${nextHop} is not of the prefix's family`);
  // RFC 2545: the next hop field's first address is a global one; a link-local address alone is
  // meaningless to a peer on another link (and BIRD drops such a route).
  if (nextHop && prefix.family === 6 && ipaddr.parse(nextHop).range() === 'linkLocal')
    throw new InvalidArgument(`next hop ${nextHop} is link-local: give a global IPv6 next hop (our link-local address on the session goes with it)`);
  return { prefix, attrs, nextHop };
}

function nextHopOf(s: string, field: string): string {
  if (s === '' || s === '0.0.0.0' || s === '::') return '';
  if (!ipaddr.isValid(s)) throw new InvalidArgument(`${field}: next hop "${s}" is not an IP address`);
  return ipaddr.parse(s).toString();
}
