// AS_PATH / AS4_PATH segments (RFC 4271 §4.3, RFC 5065 confederations, RFC 6793 4-octet AS),
// and the RFC 6793 §4.2.3 reconstruction of the real path from AS_PATH + AS4_PATH.
import type { AsPathSegment } from '../types.js';
import { AS_TRANS } from './constants.js';
import { AttrError } from './errors.js';
import type { Writer } from './writer.js';
import { BgpEncodeError } from './types.js';

const SEGMENT_NAMES: Record<number, string> = { 1: 'AS_SET', 2: 'AS_SEQUENCE', 3: 'AS_CONFED_SEQUENCE', 4: 'AS_CONFED_SET' };

/** Decodes segments; RFC 7606 §7.2 malformations throw AttrError. allowConfed=false for AS4_PATH (RFC 6793 §6). */
export function decodeAsPath(v: Buffer, four: boolean, allowConfed: boolean): AsPathSegment[] {
  const width = four ? 4 : 2;
  const segs: AsPathSegment[] = [];
  let off = 0;
  while (off < v.length) {
    if (off + 2 > v.length) throw new AttrError(`truncated segment header at value octet ${off}`);
    const type = v[off];
    const count = v[off + 1];
    if (type < 1 || type > 4) throw new AttrError(`unknown segment type ${type} at value octet ${off}`);
    if (!allowConfed && type > 2) throw new AttrError(`${SEGMENT_NAMES[type]} not allowed here`);
    if (count === 0) throw new AttrError(`empty ${SEGMENT_NAMES[type]} at value octet ${off}`);
    off += 2;
    if (off + count * width > v.length) throw new AttrError(`${SEGMENT_NAMES[type]} of ${count} ASes overruns the attribute`);
    const asns = new Array<number>(count);
    for (let i = 0; i < count; i++) {
      asns[i] = four ? v.readUInt32BE(off) : v.readUInt16BE(off);
      off += width;
    }
    segs.push({ type: type as AsPathSegment['type'], asns });
  }
  return segs;
}

/** Encodes segments; in 2-octet form ASes above 65535 become AS_TRANS. Long segments are split at 255. */
export function encodeAsPath(w: Writer, segs: readonly AsPathSegment[], four: boolean): void {
  for (const s of segs) {
    if (s.type < 1 || s.type > 4) throw new BgpEncodeError(`asPath: segment type ${s.type} is not 1..4`);
    if (s.asns.length === 0) throw new BgpEncodeError(`asPath: empty ${SEGMENT_NAMES[s.type]} segment`);
    for (let start = 0; start < s.asns.length; start += 255) {
      const part = s.asns.slice(start, start + 255);
      w.u8(s.type).u8(part.length);
      for (const asn of part) {
        if (!Number.isInteger(asn) || asn < 0 || asn > 0xffffffff) throw new BgpEncodeError(`asPath: AS ${asn} out of range`);
        if (four) w.u32(asn);
        else w.u16(asn > 0xffff ? AS_TRANS : asn);
      }
    }
  }
}

export function hasWideAsn(segs: readonly AsPathSegment[]): boolean {
  return segs.some((s) => s.asns.some((a) => a > 0xffff));
}

/** The AS4_PATH to send a 2-octet peer: the path without confederation segments (RFC 6793 §4.2.2). */
export function as4PathFor(segs: readonly AsPathSegment[]): AsPathSegment[] {
  return segs.filter((s) => s.type === 1 || s.type === 2);
}

/** RFC 4271 §9.1.2.2 counting: a set counts 1, confederation segments 0. */
export function pathCount(segs: readonly AsPathSegment[]): number {
  let n = 0;
  for (const s of segs) {
    if (s.type === 2) n += s.asns.length;
    else if (s.type === 1) n += 1;
  }
  return n;
}

/**
 * RFC 6793 §4.2.3: keep as many leading ASes of AS_PATH as AS4_PATH is shorter, then append
 * AS4_PATH. Returns AS_PATH unchanged when AS4_PATH is longer (it must then be ignored).
 */
export function mergeAs4Path(asPath: readonly AsPathSegment[], as4: readonly AsPathSegment[]): AsPathSegment[] {
  let keep = pathCount(asPath) - pathCount(as4);
  if (keep < 0) return asPath.map((s) => ({ type: s.type, asns: [...s.asns] }));
  const out: AsPathSegment[] = [];
  for (const s of asPath) {
    if (s.type === 3 || s.type === 4) {
      // Leading confederation segments are ours-side information AS4_PATH never carries.
      if (keep > 0 || out.length === 0 || out.every((x) => x.type > 2)) out.push({ type: s.type, asns: [...s.asns] });
      continue;
    }
    if (keep <= 0) break;
    if (s.type === 1) {
      out.push({ type: 1, asns: [...s.asns] });
      keep -= 1;
    } else {
      const take = Math.min(keep, s.asns.length);
      out.push({ type: 2, asns: s.asns.slice(0, take) });
      keep -= take;
    }
  }
  as4.forEach((s, i) => {
    const last = out[out.length - 1];
    // Re-join the sequence that the kept prefix of AS_PATH and AS4_PATH split in two.
    if (i === 0 && last?.type === 2 && s.type === 2) last.asns.push(...s.asns);
    else out.push({ type: s.type, asns: [...s.asns] });
  });
  return out;
}

export function formatAsPath(segs: readonly AsPathSegment[]): string {
  return segs
    .map((s) => {
      const body = s.asns.join(' ');
      switch (s.type) {
        case 1:
          return `{${body}}`;
        case 3:
          return `(${body})`;
        case 4:
          return `[${body}]`;
        default:
          return body;
      }
    })
    .join(' ');
}
