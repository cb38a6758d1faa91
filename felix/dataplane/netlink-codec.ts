// Translation between our DesiredRoute and rtnetlink route messages. Pure, so unit-testable.
import { endianness } from 'node:os';
import ipaddr from 'ipaddr.js';
import type { rt } from 'netlink';
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

function bytesAddr(b: Buffer): string {
  return ipaddr.fromByteArray([...b]).toString();
}

/** A route as read back from the kernel, in comparable form (device by name). */
export interface KernelRoute {
  family: 4 | 6;
  dst: string;
  type: 'unicast' | 'blackhole' | 'other';
  dev?: string;
  via?: string;
  onlink: boolean;
  protocol: number;
  table: number;
}

export function parseKernelRoute(m: rt.RouteMessage, ifNames: ReadonlyMap<number, string>): KernelRoute | undefined {
  const fam = m.data.family === AF_INET ? 4 : m.data.family === AF_INET6 ? 6 : undefined;
  if (!fam) return undefined;
  const len = m.data.dstLen ?? 0;
  const dstAddr = m.attrs.dst ? bytesAddr(m.attrs.dst) : fam === 4 ? '0.0.0.0' : '::';
  const t = m.data.type;
  const type = t === 'UNICAST' || t === 1 ? 'unicast' : t === 'BLACKHOLE' || t === 6 ? 'blackhole' : 'other';
  const proto = typeof m.data.protocol === 'number' ? m.data.protocol : protoNumber(m.data.protocol);
  const flags = (m.data.flags as { __unknown?: number } | undefined)?.__unknown ?? 0;
  const r: KernelRoute = {
    family: fam,
    dst: `${dstAddr}/${len}`,
    type,
    onlink: (flags & RTNH_F_ONLINK) !== 0,
    protocol: proto,
    table: m.attrs.table ?? m.data.table ?? 0,
  };
  if (m.attrs.oif !== undefined) {
    const dev = ifNames.get(m.attrs.oif);
    if (dev) r.dev = dev;
  }
  if (m.attrs.gateway) r.via = bytesAddr(m.attrs.gateway);
  return r;
}

const PROTO_NAMES: Record<string, number> = { UNSPEC: 0, REDIRECT: 1, KERNEL: 2, BOOT: 3, STATIC: 4 };
function protoNumber(p: string | undefined): number {
  return p === undefined ? 0 : (PROTO_NAMES[p] ?? -1);
}

/** Whether the kernel route already is what we want (device compared only when we pin one). */
export function sameRoute(want: DesiredRoute, have: KernelRoute): boolean {
  if (want.type !== have.type) return false;
  if (want.type === 'blackhole') return true;
  if ((want.via ?? undefined) !== have.via) return false;
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
const NLMSG_ERROR = 2;
export const NLM_F_REQUEST = 0x1;
export const NLM_F_ACK = 0x4;
export const NLM_F_REPLACE = 0x100;
export const NLM_F_CREATE = 0x400;
const RTN_UNICAST = 1;
const RTN_BLACKHOLE = 6;
const RTA_DST = 1;
const RTA_OIF = 4;
const RTA_GATEWAY = 5;
const NLMSG_HDRLEN = 16;
const RTMSG_LEN = 12;
const LE = endianness() === 'LE';

const align4 = (n: number): number => (n + 3) & ~3;

/** Bytes one request takes (header, rtmsg and attributes, each 4-aligned). */
export function routeMessageLength(r: RouteRequest): number {
  return NLMSG_HDRLEN + RTMSG_LEN + 4 + align4(r.dst.length) + (r.gateway ? 4 + align4(r.gateway.length) : 0) + (r.oif !== undefined ? 8 : 0);
}

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
  const u16 = (at: number): number => (LE ? buf.readUInt16LE(at) : buf.readUInt16BE(at));
  const u32 = (at: number): number => (LE ? buf.readUInt32LE(at) : buf.readUInt32BE(at));
  let off = 0;
  while (off + NLMSG_HDRLEN <= buf.length) {
    const len = u32(off);
    if (len < NLMSG_HDRLEN || off + len > buf.length) break;
    if (u16(off + 4) === NLMSG_ERROR && len >= NLMSG_HDRLEN + 4) {
      const err = LE ? buf.readInt32LE(off + NLMSG_HDRLEN) : buf.readInt32BE(off + NLMSG_HDRLEN);
      out.push({ seq: u32(off + 8), errno: err === 0 ? 0 : -err });
    }
    off += align4(len);
  }
  return out;
}
