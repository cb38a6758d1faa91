// Capabilities (RFC 5492) carried in OPEN: one decoder/encoder pair per known code, raw bytes
// kept for the rest so they can be logged or compared. Malformed known capabilities are an
// OPEN error: guessing would negotiate something the peer did not mean.
import { ERR_OPEN } from './constants.js';
import { WireError } from './errors.js';
import type { Writer } from './writer.js';
import { BgpEncodeError, type Capability, type KnownCapability } from './types.js';

function bad(code: number, len: number, why: string): WireError {
  return new WireError(ERR_OPEN, 0, `malformed capability ${code} (length ${len}): ${why}`);
}

/** Decodes one capability value (code already read). */
export function decodeCapability(code: number, v: Buffer, warnings: string[]): Capability {
  const len = v.length;
  const fixed = (n: number): void => {
    if (len !== n) throw bad(code, len, `expected ${n} octets`);
  };
  switch (code) {
    case 1:
      fixed(4);
      return { code: 1, afi: v.readUInt16BE(0), safi: v[3] };
    case 2:
    case 6:
    case 70:
    case 128:
      fixed(0);
      return { code } as KnownCapability;
    case 5: {
      if (len % 6 !== 0) throw bad(code, len, 'not a multiple of 6');
      const families = [];
      for (let o = 0; o < len; o += 6) families.push({ afi: v.readUInt16BE(o), safi: v.readUInt16BE(o + 2), nextHopAfi: v.readUInt16BE(o + 4) });
      return { code: 5, families };
    }
    case 64: {
      if (len < 2 || (len - 2) % 4 !== 0) throw bad(code, len, 'expected 2 + 4n octets');
      const w = v.readUInt16BE(0);
      const families = [];
      for (let o = 2; o < len; o += 4) families.push({ afi: v.readUInt16BE(o), safi: v[o + 2], forwardingState: (v[o + 3] & 0x80) !== 0 });
      return { code: 64, restartFlags: w >> 12, restartTime: w & 0xfff, families };
    }
    case 65:
      fixed(4);
      return { code: 65, asn: v.readUInt32BE(0) };
    case 69: {
      if (len % 4 !== 0) throw bad(code, len, 'not a multiple of 4');
      const families: Array<{ afi: number; safi: number; sendReceive: 1 | 2 | 3 }> = [];
      for (let o = 0; o < len; o += 4) {
        const sr = v[o + 3];
        // RFC 7911 §4: other values are ignored, per tuple.
        if (sr >= 1 && sr <= 3) families.push({ afi: v.readUInt16BE(o), safi: v[o + 2], sendReceive: sr as 1 | 2 | 3 });
        else warnings.push(`ADD-PATH capability: ignored send/receive value ${sr}`);
      }
      return { code: 69, families };
    }
    default:
      return { code, raw: Buffer.from(v) };
  }
}

function u8ok(n: number, what: string, max: number): number {
  if (!Number.isInteger(n) || n < 0 || n > max) throw new BgpEncodeError(`${what}: ${n} out of range 0..${max}`);
  return n;
}

/** Writes one capability TLV (code, length, value). */
export function encodeCapability(w: Writer, c: Capability): void {
  if ('raw' in c) {
    if (c.raw.length > 255) throw new BgpEncodeError(`capability ${c.code}: value longer than 255 octets`);
    w.u8(u8ok(c.code, 'capability code', 255)).u8(c.raw.length).bytes(c.raw);
    return;
  }
  w.u8(c.code);
  const at = w.reserve(1);
  switch (c.code) {
    case 1:
      w.u16(u8ok(c.afi, 'multiprotocol afi', 0xffff)).u8(0).u8(u8ok(c.safi, 'multiprotocol safi', 255));
      break;
    case 2:
    case 6:
    case 70:
    case 128:
      break;
    case 5:
      for (const f of c.families) w.u16(u8ok(f.afi, 'extended next hop afi', 0xffff)).u16(u8ok(f.safi, 'extended next hop safi', 0xffff)).u16(u8ok(f.nextHopAfi, 'extended next hop nexthop afi', 0xffff));
      break;
    case 64:
      w.u16((u8ok(c.restartFlags, 'graceful restart flags', 15) << 12) | u8ok(c.restartTime, 'graceful restart time', 0xfff));
      for (const f of c.families) w.u16(u8ok(f.afi, 'graceful restart afi', 0xffff)).u8(u8ok(f.safi, 'graceful restart safi', 255)).u8(f.forwardingState ? 0x80 : 0);
      break;
    case 65:
      w.u32(u8ok(c.asn, 'four-octet AS', 0xffffffff));
      break;
    case 69:
      for (const f of c.families) w.u16(u8ok(f.afi, 'add-path afi', 0xffff)).u8(u8ok(f.safi, 'add-path safi', 255)).u8(f.sendReceive);
      break;
  }
  if (w.offset - at - 1 > 255) throw new BgpEncodeError(`capability ${c.code}: value longer than 255 octets`);
  w.patchLength(at, 1);
}

/** The first capability with this code, typed. */
export function findCapability<C extends KnownCapability['code']>(caps: readonly Capability[], code: C): Extract<KnownCapability, { code: C }> | undefined {
  for (const c of caps) if (c.code === code && !('raw' in c)) return c as Extract<KnownCapability, { code: C }>;
  return undefined;
}

export function allCapabilities<C extends KnownCapability['code']>(caps: readonly Capability[], code: C): Array<Extract<KnownCapability, { code: C }>> {
  return caps.filter((c) => c.code === code && !('raw' in c)) as Array<Extract<KnownCapability, { code: C }>>;
}
