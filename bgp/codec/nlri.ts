// NLRI prefix encoding (RFC 4271 §4.3, RFC 4760 §5) with optional ADD-PATH path identifiers
// (RFC 7911 §3). Decoding canonicalises: host bits beyond the prefix length are cleared.
import { formatIpv4, formatIpv6, ipv4Bytes, ipv6Bytes } from './address.js';
import type { Writer } from './writer.js';
import type { NlriPrefix } from './types.js';
import { BgpEncodeError } from './types.js';

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
  const size = family === 4 ? 4 : 16;
  const scratch = new Uint8Array(size);
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
    scratch.fill(0);
    for (let i = 0; i < n; i++) scratch[i] = buf[off + 1 + i];
    if (length & 7) scratch[n - 1] &= (0xff << (8 - (length & 7))) & 0xff;
    const address = family === 4 ? formatIpv4(scratch, 0) : formatIpv6(scratch, 0);
    const p: NlriPrefix = { family, address, length };
    if (pathId !== undefined) p.pathId = pathId;
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
  const bytes = p.family === 4 ? ipv4Bytes(p.address, 'prefix') : ipv6Bytes(p.address, 'prefix');
  const n = (p.length + 7) >> 3;
  w.u8(p.length);
  if (n > 0) {
    const part = bytes.slice(0, n);
    if (p.length & 7) part[n - 1] &= (0xff << (8 - (p.length & 7))) & 0xff;
    w.bytes(part);
  }
}

export function encodePrefixes(w: Writer, ps: readonly NlriPrefix[], addPath: boolean): void {
  for (const p of ps) encodePrefix(w, p, addPath);
}
