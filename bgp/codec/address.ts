// Address <-> bytes. IPv4 is done by hand because it sits on the per-prefix hot path; IPv6 and
// anything unusual go through ipaddr.js.
import ipaddr from 'ipaddr.js';
import { BgpEncodeError } from './types.js';

export function formatIpv4(buf: Uint8Array, off: number): string {
  return `${buf[off]}.${buf[off + 1]}.${buf[off + 2]}.${buf[off + 3]}`;
}

export function formatIpv6(buf: Uint8Array, off: number): string {
  return ipaddr.fromByteArray(Array.from(buf.subarray(off, off + 16))).toString();
}

const V4 = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/;

/** Writes the 4 octets of a dotted quad; throws BgpEncodeError naming `field` when invalid. */
export function writeIpv4(out: Uint8Array, off: number, addr: string, field: string): void {
  const m = V4.exec(addr);
  if (m) {
    for (let i = 0; i < 4; i++) {
      const v = Number(m[i + 1]);
      if (v > 255) throw new BgpEncodeError(`${field}: "${addr}" is not an IPv4 address`);
      out[off + i] = v;
    }
    return;
  }
  throw new BgpEncodeError(`${field}: "${addr}" is not an IPv4 address`);
}

export function ipv4Bytes(addr: string, field: string): Uint8Array {
  const b = new Uint8Array(4);
  writeIpv4(b, 0, addr, field);
  return b;
}

export function ipv6Bytes(addr: string, field: string): Uint8Array {
  if (!ipaddr.IPv6.isValid(addr)) throw new BgpEncodeError(`${field}: "${addr}" is not an IPv6 address`);
  return Uint8Array.from(ipaddr.IPv6.parse(addr).toByteArray());
}

export function isIpv4(addr: string): boolean {
  return V4.test(addr) && addr.split('.').every((p) => Number(p) <= 255);
}

/** Parses an address of either family into bytes (4 or 16). */
export function addressBytes(addr: string, field: string): Uint8Array {
  return addr.includes(':') ? ipv6Bytes(addr, field) : ipv4Bytes(addr, field);
}
