// Address <-> bytes. Printing is done by hand because it sits on the per-prefix hot path (the
// IPv6 printer produces exactly ipaddr.js's RFC 5952 form, checked by a property test); parsing
// of IPv6 goes through ipaddr.js.
import ipaddr from 'ipaddr.js';
import { BgpEncodeError } from './types.js';

export function formatIpv4(buf: Uint8Array, off: number): string {
  return `${buf[off]}.${buf[off + 1]}.${buf[off + 2]}.${buf[off + 3]}`;
}

/** RFC 5952: lowercase hex groups, the longest run (≥ 2, leftmost on a tie) of zero groups as "::". */
export function formatIpv6(buf: Uint8Array, off: number): string {
  const g = new Array<number>(8);
  let bestAt = -1;
  let bestLen = 1;
  let runAt = -1;
  for (let i = 0; i < 8; i++) {
    const v = (buf[off + 2 * i] << 8) | buf[off + 2 * i + 1];
    g[i] = v;
    if (v === 0) {
      if (runAt < 0) runAt = i;
      if (i - runAt + 1 > bestLen) {
        bestLen = i - runAt + 1;
        bestAt = runAt;
      }
    } else runAt = -1;
  }
  if (bestAt < 0) return g.map((v) => v.toString(16)).join(':');
  const head = g.slice(0, bestAt).map((v) => v.toString(16)).join(':');
  const tail = g.slice(bestAt + bestLen).map((v) => v.toString(16)).join(':');
  return `${head}::${tail}`;
}

const V4 = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/;

/** Writes the 4 octets of a dotted quad (decimal, no leading junk); throws BgpEncodeError naming `field` when invalid. */
export function writeIpv4(out: Uint8Array, off: number, addr: string, field: string): void {
  let part = 0;
  let v = 0;
  let digits = 0;
  for (let i = 0; i < addr.length; i++) {
    const c = addr.charCodeAt(i);
    if (c >= 48 && c <= 57) {
      v = v * 10 + (c - 48);
      if (++digits > 3 || v > 255) break;
    } else if (c === 46 && digits > 0 && part < 3) {
      out[off + part++] = v;
      v = 0;
      digits = 0;
    } else {
      digits = 0;
      break;
    }
  }
  if (part !== 3 || digits === 0 || v > 255) throw new BgpEncodeError(`${field}: "${addr}" is not an IPv4 address`);
  out[off + 3] = v;
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
