// Strict IP / CIDR parsing shared by the schemas. ipaddr.js alone accepts "10.1" style IPv4
// shorthands, which Calico rejects, so IPv4 must be four-part decimal.
import ipaddr from 'ipaddr.js';

export type Family = 4 | 6;

export interface ParsedIP {
  family: Family;
  addr: ipaddr.IPv4 | ipaddr.IPv6;
  /** Canonical text (IPv6 compressed, lower case). */
  text: string;
}

export interface ParsedCIDR {
  family: Family;
  prefix: number;
  /** The address as written (host bits possibly set), canonical text. */
  ip: string;
  /** Network address / prefix, canonical text. */
  network: string;
}

export function parseIP(s: string): ParsedIP | undefined {
  if (ipaddr.IPv4.isValidFourPartDecimal(s)) {
    const addr = ipaddr.IPv4.parse(s);
    return { family: 4, addr, text: addr.toString() };
  }
  if (s.includes(':') && ipaddr.IPv6.isValid(s) && !s.includes('%')) {
    const addr = ipaddr.IPv6.parse(s);
    return { family: 6, addr, text: addr.toString() };
  }
  return undefined;
}

export function parseCIDR(s: string): ParsedCIDR | undefined {
  const slash = s.indexOf('/');
  if (slash < 0) return undefined;
  const ip = parseIP(s.slice(0, slash));
  const prefixText = s.slice(slash + 1);
  if (!ip || !/^\d{1,3}$/.test(prefixText)) return undefined;
  const prefix = Number(prefixText);
  if (prefix > (ip.family === 4 ? 32 : 128)) return undefined;
  const net =
    ip.family === 4 ? ipaddr.IPv4.networkAddressFromCIDR(`${ip.text}/${prefix}`) : ipaddr.IPv6.networkAddressFromCIDR(`${ip.text}/${prefix}`);
  return { family: ip.family, prefix, ip: ip.text, network: `${net.toString()}/${prefix}` };
}

/** Accepts "a.b.c.d" as "a.b.c.d/32" (and v6 as /128), as Calico does for nets in rules. */
export function parseNet(s: string): ParsedCIDR | undefined {
  if (s.includes('/')) return parseCIDR(s);
  const ip = parseIP(s);
  return ip && parseCIDR(`${ip.text}/${ip.family === 4 ? 32 : 128}`);
}

function toBigInt(p: ParsedCIDR): bigint {
  const bytes = (parseIP(p.network.split('/')[0]) as ParsedIP).addr.toByteArray();
  return bytes.reduce((acc, b) => (acc << 8n) | BigInt(b), 0n);
}

/** True when the two networks share any address (same family only). */
export function cidrsOverlap(a: ParsedCIDR, b: ParsedCIDR): boolean {
  if (a.family !== b.family) return false;
  const bits = BigInt(a.family === 4 ? 32 : 128);
  const shorter = BigInt(Math.min(a.prefix, b.prefix));
  const shift = bits - shorter;
  return toBigInt(a) >> shift === toBigInt(b) >> shift;
}
