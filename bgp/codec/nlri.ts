// NLRI prefix encoding (RFC 4271 §4.3, RFC 4760 §5) with optional ADD-PATH path identifiers
// (RFC 7911 §3). Decoding canonicalises: host bits beyond the prefix length are cleared.
import { formatIpv6, ipv6Bytes, writeIpv4 } from './address.js';
import type { Writer } from './writer.js';
import type { NlriPrefix } from './types.js';
import { BgpEncodeError } from './types.js';

const v4scratch = new Uint8Array(4);

export class NlriError extends Error {
  constructor(reason: string) {
    super(reason);
    this.name = 'NlriError';
  }
}

/** Decodes the prefixes in buf[start, end). Throws NlriError naming the offending octet. */
export function decodePrefixes(buf: Buffer, start: number, end: number, family: 4 | 6, addPath: boolean): NlriPrefix[] {
  const out: NlriPrefix[] = [];
  const max = family === 4 ? 32 : 128;
  const scratch = family === 6 ? new Uint8Array(16) : undefined;
  let off = start;
  while (off < end) {
    let pathId: number | undefined;
    if (addPath) {
      if (off + 4 > end) throw new NlriError(`truncated path identifier at octet ${off}`);
      pathId = buf.readUInt32BE(off);
      off += 4;
      if (off >= end) throw new NlriError(`missing prefix length after path identifier at octet ${off}`);
    }
    const length = buf[off];
    if (length > max) throw new NlriError(`prefix length ${length} > ${max} at octet ${off}`);
    const n = (length + 7) >> 3;
    if (off + 1 + n > end) throw new NlriError(`prefix of length ${length} at octet ${off} overruns its field`);
    // Host bits beyond the length are cleared: the last octet is masked.
    const lastMask = length & 7 ? (0xff << (8 - (length & 7))) & 0xff : 0xff;
    let address: string;
    if (scratch === undefined) {
      const o = off + 1;
      const b0 = n > 0 ? buf[o] & (n === 1 ? lastMask : 0xff) : 0;
      const b1 = n > 1 ? buf[o + 1] & (n === 2 ? lastMask : 0xff) : 0;
      const b2 = n > 2 ? buf[o + 2] & (n === 3 ? lastMask : 0xff) : 0;
      const b3 = n > 3 ? buf[o + 3] & lastMask : 0;
      address = `${b0}.${b1}.${b2}.${b3}`;
    } else {
      scratch.fill(0);
      for (let i = 0; i < n; i++) scratch[i] = buf[off + 1 + i];
      if (n > 0) scratch[n - 1] &= lastMask;
      address = formatIpv6(scratch, 0);
    }
    const p: NlriPrefix = pathId === undefined ? { family, address, length } : { family, address, length, pathId };
    out.push(p);
    off += 1 + n;
  }
  return out;
}

/** Octets one prefix takes on the wire. */
export function prefixWireSize(p: NlriPrefix, addPath: boolean): number {
  return 1 + ((p.length + 7) >> 3) + (addPath ? 4 : 0);
}

export function encodePrefix(w: Writer, p: NlriPrefix, addPath: boolean): void {
  const max = p.family === 4 ? 32 : 128;
  if (!Number.isInteger(p.length) || p.length < 0 || p.length > max) {
    throw new BgpEncodeError(`prefix ${p.address}/${p.length}: length must be 0..${max}`);
  }
  if (addPath) w.u32(p.pathId ?? 0);
  const bytes = p.family === 4 ? v4scratch : ipv6Bytes(p.address, 'prefix');
  if (p.family === 4) writeIpv4(v4scratch, 0, p.address, 'prefix');
  w.prefixBytes(p.length, bytes);
}

export function encodePrefixes(w: Writer, ps: readonly NlriPrefix[], addPath: boolean): void {
  for (const p of ps) encodePrefix(w, p, addPath);
}
