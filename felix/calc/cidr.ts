// Small address helpers over ipaddr.js, with the shapes the calc graph needs.
import ipaddr from 'ipaddr.js';

export interface ParsedCidr {
  family: 4 | 6;
  addr: ipaddr.IPv4 | ipaddr.IPv6;
  length: number;
}

export function parseCidr(cidr: string): ParsedCidr | undefined {
  try {
    const [addr, length] = ipaddr.parseCIDR(cidr);
    return { family: addr.kind() === 'ipv4' ? 4 : 6, addr, length };
  } catch {
    return undefined;
  }
}

export function parseAddr(ip: string): ipaddr.IPv4 | ipaddr.IPv6 | undefined {
  try {
    return ipaddr.parse(ip.split('/')[0] ?? '');
  } catch {
    return undefined;
  }
}

/** Address part of "10.0.0.1/24" (or a bare address). */
export function addrOf(cidrOrIp: string): string {
  return cidrOrIp.split('/')[0] ?? cidrOrIp;
}

export function familyOf(ip: string): 4 | 6 {
  return ip.includes(':') ? 6 : 4;
}

export function contains(cidr: ParsedCidr, ip: string): boolean {
  const a = parseAddr(ip);
  if (!a || a.kind() !== cidr.addr.kind()) return false;
  return a.match([cidr.addr, cidr.length] as [typeof a, number]);
}

/** Whether the whole of inner lies inside outer. */
export function cidrWithin(inner: ParsedCidr, outer: ParsedCidr): boolean {
  return inner.family === outer.family && inner.length >= outer.length && contains(outer, inner.addr.toString());
}

/** Canonical network form "10.0.0.0/26" (host bits zeroed). */
export function canonicalCidr(cidr: string): string | undefined {
  const p = parseCidr(cidr);
  if (!p) return undefined;
  const net = p.family === 4 ? ipaddr.IPv4.networkAddressFromCIDR(cidr) : ipaddr.IPv6.networkAddressFromCIDR(cidr);
  return `${net.toString()}/${p.length}`;
}
