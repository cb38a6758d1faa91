// Translation between our DesiredRoute and rtnetlink route messages (requests, dumps, replies),
// byte for byte. Pure, so unit-testable.
import { endianness } from 'node:os';
import ipaddr from 'ipaddr.js';
import type { DesiredRoute } from '../calc/types.js';

/** Our route protocol number: like Calico's `proto 80`; everything else in the table is foreign. */
export const TORTIE_PROTO = 80;
export const MAIN_TABLE = 254;
const RTNH_F_ONLINK = 4;
const AF_INET = 2;
const AF_INET6 = 10;
const SCOPE_UNIVERSE = 0;
const SCOPE_LINK = 253;
/** On delete, "any scope" (what `ip route del` sends). */
const SCOPE_NOWHERE = 255;

const DOTTED_QUAD = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/;

/** An address as its bytes. Plain dotted quads (nearly every route) skip ipaddr.js: its general
 *  parser was a third of the time to encode 20,000 routes. */
export function addrBytes(ip: string): number[] {
  const q = DOTTED_QUAD.exec(ip);
  if (q) {
    const b = [Number(q[1]), Number(q[2]), Number(q[3]), Number(q[4])];
    if (b.every((x) => x <= 255)) return b;
  }
  return ipaddr.parse(ip).toByteArray();
}

/** An address from its bytes (4: dotted quad without ipaddr.js, as above). */
function bytesAddr(b: Buffer): string {
  return b.length === 4 ? `${b[0]}.${b[1]}.${b[2]}.${b[3]}` : ipaddr.fromByteArray([...b]).toString();
}

/** A route as read back from the kernel, in comparable form (device by name). */
export interface KernelRoute {
  family: 4 | 6;
  dst: string;
  type: 'unicast' | 'blackhole' | 'other';
  dev?: string;
  via?: string;
  /** ECMP gateways (RTA_MULTIPATH), sorted. */
  multipath?: string[];
  onlink: boolean;
  protocol: number;
  table: number;
}

/** One datagram of a route dump: its routes, whether NLMSG_DONE ended the dump, and the errno
 *  if the kernel refused it. Messages of other sequence numbers are skipped. */
export interface RouteDumpPart {
  routes: KernelRoute[];
  done: boolean;
  errno: number;
}

export function parseRouteDump(buf: Buffer, seq: number, ifNames: ReadonlyMap<number, string>): RouteDumpPart {
  const part: RouteDumpPart = { routes: [], done: false, errno: 0 };
  let off = 0;
  while (off + NLMSG_HDRLEN <= buf.length) {
    const len = get32(buf, off);
    if (len < NLMSG_HDRLEN || off + len > buf.length) break;
    const type = get16(buf, off + 4);
    if (get32(buf, off + 8) === seq) {
      if (type === NLMSG_DONE) part.done = true;
      else if (type === NLMSG_ERROR) {
        part.errno = -getI32(buf, off + NLMSG_HDRLEN);
        part.done = true;
      } else if (type === RTM_NEWROUTE && len >= NLMSG_HDRLEN + RTMSG_LEN) {
        const r = parseRoute(buf.subarray(off + NLMSG_HDRLEN, off + len), ifNames);
        if (r) part.routes.push(r);
      }
    }
    off += align4(len);
  }
  return part;
}

/** One rtmsg and its attributes. */
function parseRoute(m: Buffer, ifNames: ReadonlyMap<number, string>): KernelRoute | undefined {
  const fam = m[0] === AF_INET ? 4 : m[0] === AF_INET6 ? 6 : undefined;
  if (!fam) return undefined;
  const t = m[7];
  const r: KernelRoute = {
    family: fam,
    dst: '',
    type: t === RTN_UNICAST ? 'unicast' : t === RTN_BLACKHOLE ? 'blackhole' : 'other',
    onlink: (get32(m, 8) & RTNH_F_ONLINK) !== 0,
    protocol: m[5] ?? 0,
    table: m[4] ?? 0,
  };
  let dst = fam === 4 ? '0.0.0.0' : '::';
  for (let o = RTMSG_LEN; o + 4 <= m.length; ) {
    const alen = get16(m, o);
    if (alen < 4 || o + alen > m.length) break;
    const val = m.subarray(o + 4, o + alen);
    switch (get16(m, o + 2) & 0x3fff) {
      case RTA_DST:
        dst = bytesAddr(val);
        break;
      case RTA_GATEWAY:
        r.via = bytesAddr(val);
        break;
      case RTA_OIF: {
        const dev = ifNames.get(get32(val, 0));
        if (dev) r.dev = dev;
        break;
      }
      case RTA_TABLE:
        r.table = get32(val, 0);
        break;
      case RTA_MULTIPATH: {
        const gws = parseNextHops(val);
        if (gws.length) r.multipath = gws.sort();
        break;
      }
    }
    o += align4(alen);
  }
  r.dst = `${dst}/${m[1] ?? 0}`;
  return r;
}

/** The gateways of an RTA_MULTIPATH payload: rtnexthop structs, each with its own attributes. */
function parseNextHops(v: Buffer): string[] {
  const out: string[] = [];
  for (let o = 0; o + RTNH_LEN <= v.length; ) {
    const len = get16(v, o);
    if (len < RTNH_LEN || o + len > v.length) break;
    for (let a = o + RTNH_LEN; a + 4 <= o + len; ) {
      const alen = get16(v, a);
      if (alen < 4 || a + alen > o + len) break;
      if ((get16(v, a + 2) & 0x3fff) === RTA_GATEWAY) out.push(bytesAddr(v.subarray(a + 4, a + alen)));
      a += align4(alen);
    }
    o += align4(len);
  }
  return out;
}

/** The request that dumps every route of both families. */
export function routeDumpRequest(seq: number): Buffer {
  const buf = Buffer.alloc(NLMSG_HDRLEN + RTMSG_LEN);
  put32(buf, 0, buf.length);
  put16(buf, 4, RTM_GETROUTE);
  put16(buf, 6, NLM_F_REQUEST | NLM_F_DUMP);
  put32(buf, 8, seq);
  return buf;
}

/** Whether the kernel route already is what we want (device compared only when we pin one). */
export function sameRoute(want: DesiredRoute, have: KernelRoute): boolean {
  if (want.type !== have.type) return false;
  if (want.type === 'blackhole') return true;
  if ((want.via ?? undefined) !== have.via) return false;
  if ((want.multipath ?? []).join(',') !== (have.multipath ?? []).join(',')) return false;
  if (want.dev !== undefined && want.dev !== have.dev) return false;
  return Boolean(want.onlink) === have.onlink;
}

/** What a route request carries: our table and protocol are implied. */
export interface RouteRequest {
  family: 4 | 6;
  dstLen: number;
  dst: number[];
  scope: number;
  /** rtm_type: 1 unicast, 6 blackhole, 0 (on delete) any. */
  type: number;
  /** rtm_flags (RTNH_F_ONLINK). */
  flags: number;
  gateway?: number[];
  /** ECMP: one gateway each (RTA_MULTIPATH). */
  multipath?: number[][];
  oif?: number;
}

/** Encodes a route; `ifIndex` resolves device names (undefined = the device is missing). */
export function encodeRoute(r: DesiredRoute, ifIndex: (name: string) => number | undefined): RouteRequest | string {
  const [addr, lenStr] = r.dst.split('/');
  const req: RouteRequest = {
    family: r.family,
    dstLen: Number(lenStr),
    dst: addrBytes(addr ?? ''),
    scope: r.type === 'unicast' && r.scopeLink ? SCOPE_LINK : SCOPE_UNIVERSE,
    type: r.type === 'blackhole' ? RTN_BLACKHOLE : RTN_UNICAST,
    flags: r.onlink ? RTNH_F_ONLINK : 0,
  };
  if (r.type === 'unicast') {
    if (r.dev !== undefined) {
      const idx = ifIndex(r.dev);
      if (idx === undefined) return `device ${r.dev} not found`;
      req.oif = idx;
    }
    if (r.via !== undefined) req.gateway = addrBytes(r.via);
    if (r.multipath?.length) req.multipath = r.multipath.map(addrBytes);
  }
  return req;
}

/** What deletes one of our routes: destination, our protocol, any scope and type. */
export function deleteKey(r: KernelRoute): RouteRequest {
  const [addr, lenStr] = r.dst.split('/');
  return { family: r.family, dstLen: Number(lenStr), dst: addrBytes(addr ?? ''), scope: SCOPE_NOWHERE, type: 0, flags: 0 };
}

// rtnetlink framing (linux/netlink.h, linux/rtnetlink.h). Netlink is in host byte order.
export const RTM_NEWROUTE = 24;
export const RTM_DELROUTE = 25;
const RTM_GETROUTE = 26;
const NLMSG_ERROR = 2;
const NLMSG_DONE = 3;
const NLM_F_DUMP = 0x300;
export const NLM_F_REQUEST = 0x1;
export const NLM_F_ACK = 0x4;
export const NLM_F_REPLACE = 0x100;
export const NLM_F_CREATE = 0x400;
const RTN_UNICAST = 1;
const RTN_BLACKHOLE = 6;
const RTA_DST = 1;
const RTA_OIF = 4;
const RTA_GATEWAY = 5;
const RTA_MULTIPATH = 9;
const RTA_TABLE = 15;
/** struct rtnexthop: len, flags, hops, ifindex. */
const RTNH_LEN = 8;
const NLMSG_HDRLEN = 16;
const RTMSG_LEN = 12;
const LE = endianness() === 'LE';

const align4 = (n: number): number => (n + 3) & ~3;

/** Bytes one request takes (header, rtmsg and attributes, each 4-aligned). */
export function routeMessageLength(r: RouteRequest): number {
  return NLMSG_HDRLEN + RTMSG_LEN + 4 + align4(r.dst.length) + (r.gateway ? 4 + align4(r.gateway.length) : 0) + (r.multipath ? 4 + multipathLength(r.multipath) : 0) + (r.oif !== undefined ? 8 : 0);
}

const multipathLength = (gws: readonly number[][]): number => gws.reduce((n, g) => n + RTNH_LEN + 4 + align4(g.length), 0);

/** Writes one RTM_NEWROUTE / RTM_DELROUTE request into `buf` at `off`; returns the end offset.
 *  Several written back to back form one datagram: the kernel handles them in order. */
export function writeRouteMessage(buf: Buffer, off: number, msgType: number, msgFlags: number, seq: number, r: RouteRequest): number {
  put32(buf, off, routeMessageLength(r));
  put16(buf, off + 4, msgType);
  put16(buf, off + 6, msgFlags);
  put32(buf, off + 8, seq);
  put32(buf, off + 12, 0);
  let o = off + NLMSG_HDRLEN;
  buf[o] = r.family === 4 ? AF_INET : AF_INET6;
  buf[o + 1] = r.dstLen;
  buf[o + 2] = 0; // src_len
  buf[o + 3] = 0; // tos
  buf[o + 4] = MAIN_TABLE;
  buf[o + 5] = TORTIE_PROTO;
  buf[o + 6] = r.scope;
  buf[o + 7] = r.type;
  put32(buf, o + 8, r.flags);
  o = putAttr(buf, o + RTMSG_LEN, RTA_DST, r.dst);
  if (r.gateway) o = putAttr(buf, o, RTA_GATEWAY, r.gateway);
  if (r.multipath) {
    put16(buf, o, 4 + multipathLength(r.multipath));
    put16(buf, o + 2, RTA_MULTIPATH);
    o += 4;
    for (const gw of r.multipath) {
      // rtnexthop: the kernel finds the device from the gateway (ifindex 0), weight 1 (hops 0).
      put16(buf, o, RTNH_LEN + 4 + align4(gw.length));
      buf[o + 2] = 0;
      buf[o + 3] = 0;
      put32(buf, o + 4, 0);
      o = putAttr(buf, o + RTNH_LEN, RTA_GATEWAY, gw);
    }
  }
  if (r.oif !== undefined) {
    put16(buf, o, 8);
    put16(buf, o + 2, RTA_OIF);
    put32(buf, o + 4, r.oif);
    o += 8;
  }
  return o;
}

function put16(buf: Buffer, at: number, v: number): void {
  if (LE) buf.writeUInt16LE(v, at);
  else buf.writeUInt16BE(v, at);
}

function put32(buf: Buffer, at: number, v: number): void {
  if (LE) buf.writeUInt32LE(v, at);
  else buf.writeUInt32BE(v, at);
}

function get16(buf: Buffer, at: number): number {
  return LE ? buf.readUInt16LE(at) : buf.readUInt16BE(at);
}

function get32(buf: Buffer, at: number): number {
  return LE ? buf.readUInt32LE(at) : buf.readUInt32BE(at);
}

function getI32(buf: Buffer, at: number): number {
  return LE ? buf.readInt32LE(at) : buf.readInt32BE(at);
}

/** An rtattr with its payload, zero-padded to 4 bytes; returns the end offset. */
function putAttr(buf: Buffer, at: number, type: number, payload: readonly number[]): number {
  put16(buf, at, 4 + payload.length);
  put16(buf, at + 2, type);
  buf.set(payload, at + 4);
  const end = at + 4 + align4(payload.length);
  buf.fill(0, at + 4 + payload.length, end);
  return end;
}

/** A reply to a request: errno 0 is the acknowledgement, otherwise the kernel's error. */
export interface NetlinkReply {
  seq: number;
  errno: number;
}

/** The NLMSG_ERROR messages (acks and errors) in one received datagram; others are skipped. */
export function parseReplies(buf: Buffer): NetlinkReply[] {
  const out: NetlinkReply[] = [];
  let off = 0;
  while (off + NLMSG_HDRLEN <= buf.length) {
    const len = get32(buf, off);
    if (len < NLMSG_HDRLEN || off + len > buf.length) break;
    if (get16(buf, off + 4) === NLMSG_ERROR && len >= NLMSG_HDRLEN + 4) {
      const err = getI32(buf, off + NLMSG_HDRLEN);
      out.push({ seq: get32(buf, off + 8), errno: err === 0 ? 0 : -err });
    }
    off += align4(len);
  }
  return out;
}
