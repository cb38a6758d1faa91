// Translation between our DesiredRoute and rtnetlink route messages. Pure, so unit-testable.
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

export function addrBytes(ip: string): Buffer {
  return Buffer.from(ipaddr.parse(ip).toByteArray());
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

export interface EncodedRoute {
  data: rt.Route;
  attrs: rt.RouteAttrs;
}

/** Encodes a route; `ifIndex` resolves device names (undefined = the device is missing). */
export function encodeRoute(r: DesiredRoute, ifIndex: (name: string) => number | undefined): EncodedRoute | string {
  const [addr, lenStr] = r.dst.split('/');
  const data: rt.Route = {
    family: r.family === 4 ? AF_INET : AF_INET6,
    dstLen: Number(lenStr),
    table: MAIN_TABLE,
    protocol: TORTIE_PROTO as unknown as rt.Route['protocol'],
    scope: r.type === 'unicast' && r.scopeLink ? SCOPE_LINK : SCOPE_UNIVERSE,
    type: r.type === 'blackhole' ? 6 : 1,
  };
  if (r.onlink) data.flags = { __unknown: RTNH_F_ONLINK };
  const attrs: rt.RouteAttrs = { dst: addrBytes(addr ?? '') };
  if (r.type === 'unicast') {
    if (r.dev !== undefined) {
      const idx = ifIndex(r.dev);
      if (idx === undefined) return `device ${r.dev} not found`;
      attrs.oif = idx;
    }
    if (r.via !== undefined) attrs.gateway = addrBytes(r.via);
  }
  return { data, attrs };
}

export function deleteKey(r: KernelRoute): EncodedRoute {
  const [addr, lenStr] = r.dst.split('/');
  return {
    data: { family: r.family === 4 ? AF_INET : AF_INET6, dstLen: Number(lenStr), table: MAIN_TABLE, protocol: TORTIE_PROTO as unknown as rt.Route['protocol'], scope: SCOPE_NOWHERE },
    attrs: { dst: addrBytes(addr ?? '') },
  };
}
