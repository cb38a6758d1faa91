// UPDATE message (RFC 4271 §4.3) with the error handling of RFC 4271 §6.3 as revised by
// RFC 7606: session reset, treat-as-withdraw or attribute discard, chosen per attribute by
// the table in attributes.ts.
import type { PathAttributes, RawAttribute } from '../types.js';
import { ATTRIBUTE_TABLE, ATTRIBUTES_BY_CODE, type AttrDecodeState, type AttrEncodeSource, type ErrorAction } from './attributes.js';
import { mergeAs4Path } from './aspath.js';
import * as C from './constants.js';
import { AttrError, WireError } from './errors.js';
import { decodePrefixes, encodePrefixes, NlriError } from './nlri.js';
import type { Writer } from './writer.js';
import { BgpEncodeError, type CodecContext, type UpdateMessage } from './types.js';

// Bound once: constant lookups stay local on the per-attribute path.
const { AS_TRANS, ATTR_AS4_AGGREGATOR, ATTR_AS4_PATH, ATTR_LOCAL_PREF, ATTR_MP_REACH_NLRI, ATTR_MP_UNREACH_NLRI, ERR_UPDATE, FLAG_EXTENDED_LENGTH, FLAG_OPTIONAL, FLAG_PARTIAL, FLAG_TRANSITIVE, UPD_ATTR_FLAGS, UPD_ATTR_LENGTH, UPD_INVALID_NETWORK, UPD_MALFORMED_ATTR_LIST, UPD_OPTIONAL_ATTR, UPD_UNRECOGNIZED_WELL_KNOWN } = C;

export interface UpdateDecodeResult {
  message: UpdateMessage;
  treatAsWithdraw: boolean;
  discarded: number[];
  warnings: string[];
}

const KNOWN_FLAG_BITS = FLAG_OPTIONAL | FLAG_TRANSITIVE;

function addPathReceive(ctx: CodecContext, afi: number): boolean {
  return !!ctx.addPath?.some((f) => f.afi === afi && f.safi === 1 && f.receive);
}

function addPathSend(ctx: CodecContext, afi: number): boolean {
  return !!ctx.addPath?.some((f) => f.afi === afi && f.safi === 1 && f.send);
}

/** Decodes an UPDATE body (after the header). Throws WireError when the session must be reset. */
export function decodeUpdate(body: Buffer, ctx: CodecContext): UpdateDecodeResult {
  const warnings: string[] = [];
  const discarded: number[] = [];
  let treatAsWithdraw = false;
  const twReasons: string[] = [];

  if (body.length < 4) throw new WireError(ERR_UPDATE, UPD_MALFORMED_ATTR_LIST, 'UPDATE shorter than its two length fields');
  const wLen = body.readUInt16BE(0);
  if (2 + wLen + 2 > body.length) throw new WireError(ERR_UPDATE, UPD_MALFORMED_ATTR_LIST, `withdrawn routes length ${wLen} overruns the message`);
  const withdrawn = nlriOrReset(body, 2, 2 + wLen, 4, addPathReceive(ctx, 1), 'withdrawn routes');
  const aLenAt = 2 + wLen;
  const aLen = body.readUInt16BE(aLenAt);
  const aStart = aLenAt + 2;
  const aEnd = aStart + aLen;
  if (aEnd > body.length) throw new WireError(ERR_UPDATE, UPD_MALFORMED_ATTR_LIST, `total path attribute length ${aLen} overruns the message`);
  // The NLRI is located by the Total Attribute Length (RFC 7606 §4), so it is parsed first:
  // a malformed NLRI field can only be a session reset.
  const nlri = nlriOrReset(body, aEnd, body.length, 4, addPathReceive(ctx, 1), 'NLRI');

  const st: AttrDecodeState = { attrs: {}, warnings };
  const seen = new Set<number>();
  const unknown: RawAttribute[] = [];
  let off = aStart;
  while (off < aEnd) {
    const flags = body[off];
    const hdr = flags & FLAG_EXTENDED_LENGTH ? 4 : 3;
    if (off + hdr > aEnd) {
      // RFC 7606 §4: too few octets left for an attribute header.
      treatAsWithdraw = true;
      twReasons.push(`${aEnd - off} stray octets at the end of the path attributes`);
      break;
    }
    const type = body[off + 1];
    const len = hdr === 4 ? body.readUInt16BE(off + 2) : body[off + 2];
    const vStart = off + hdr;
    const vEnd = vStart + len;
    if (vEnd > aEnd) {
      // RFC 7606 §4: attribute length overruns the Total Attribute Length.
      if (type === ATTR_MP_REACH_NLRI || type === ATTR_MP_UNREACH_NLRI) {
        throw new WireError(ERR_UPDATE, UPD_ATTR_LENGTH, `attribute ${type} length ${len} overruns the path attributes`, body.subarray(off, aEnd));
      }
      treatAsWithdraw = true;
      twReasons.push(`attribute ${type} length ${len} overruns the path attributes`);
      break;
    }
    const raw = body.subarray(off, vEnd);
    const value = body.subarray(vStart, vEnd);
    off = vEnd;

    if (seen.has(type)) {
      // RFC 7606 §3(g): repeated MP attributes reset; any other repeat is discarded.
      if (type === ATTR_MP_REACH_NLRI || type === ATTR_MP_UNREACH_NLRI) {
        throw new WireError(ERR_UPDATE, UPD_MALFORMED_ATTR_LIST, `attribute ${type} appears more than once`);
      }
      warnings.push(`duplicate attribute ${type} discarded`);
      discarded.push(type);
      continue;
    }
    seen.add(type);

    const e = ATTRIBUTES_BY_CODE.get(type);
    if (!e) {
      if (!(flags & FLAG_OPTIONAL)) {
        throw new WireError(ERR_UPDATE, UPD_UNRECOGNIZED_WELL_KNOWN, `unrecognized well-known attribute ${type}`, Buffer.from(raw));
      }
      // Optional transitive: passed on with Partial set (RFC 4271 §5); non-transitive: ignored.
      if (flags & FLAG_TRANSITIVE) unknown.push({ flags: (flags & 0xe0) | FLAG_PARTIAL, type, value: Buffer.from(value) });
      continue;
    }

    let action: ErrorAction | undefined;
    let reason = '';
    let subcode = e.resetSubcode ?? UPD_OPTIONAL_ATTR;
    const flagsOk = (flags & KNOWN_FLAG_BITS) === e.flags && (e.flags === (FLAG_OPTIONAL | FLAG_TRANSITIVE) || !(flags & FLAG_PARTIAL));
    if (!flagsOk) {
      action = e.onFlagsError ?? 'treat-as-withdraw';
      reason = `${e.name}: flags 0x${flags.toString(16)} conflict with 0x${e.flags.toString(16)}`;
      subcode = UPD_ATTR_FLAGS;
    } else {
      try {
        const v = e.decode(value, ctx, st);
        const problem = e.validate?.(v, ctx);
        if (problem) {
          action = e.onError;
          reason = `${e.name}: ${problem}`;
        } else e.apply(st, v);
      } catch (err) {
        if (!(err instanceof AttrError)) throw err;
        action = e.onError;
        reason = `${e.name}: ${err.message}`;
      }
    }
    if (action === 'session-reset') throw new WireError(ERR_UPDATE, subcode, reason, Buffer.from(raw));
    if (action === 'treat-as-withdraw') {
      treatAsWithdraw = true;
      twReasons.push(reason);
    } else if (action === 'attribute-discard') {
      discarded.push(type);
      warnings.push(`${reason} (attribute discarded)`);
    }
  }

  // RFC 7606 §7.5: LOCAL_PREF from an external peer is discarded.
  if (ctx.ebgp && st.attrs.localPref !== undefined) {
    delete st.attrs.localPref;
    discarded.push(ATTR_LOCAL_PREF);
    warnings.push('LOCAL_PREF from an external peer discarded');
  }
  reconcileAs4(st, ctx, discarded, warnings);

  const announces = nlri.length > 0 || (st.mpReach?.nlri.length ?? 0) > 0;
  // RFC 4760 §3: a NEXT_HOP with no plain NLRI but MP_REACH present is ignored.
  if (nlri.length === 0 && st.mpReach && st.attrs.nextHop !== undefined) {
    delete st.attrs.nextHop;
    warnings.push('NEXT_HOP ignored: the UPDATE carries only MP_REACH_NLRI');
  }
  if (announces && !treatAsWithdraw) {
    // RFC 7606 §3(d): missing well-known mandatory attributes → treat-as-withdraw.
    const missing: string[] = [];
    if (st.attrs.origin === undefined) missing.push('ORIGIN');
    if (st.attrs.asPath === undefined) missing.push('AS_PATH');
    if (nlri.length > 0 && st.attrs.nextHop === undefined) missing.push('NEXT_HOP');
    if (missing.length) {
      treatAsWithdraw = true;
      twReasons.push(`missing well-known attribute ${missing.join(', ')}`);
    }
  }

  const message: UpdateMessage = { type: 'UPDATE', withdrawn, nlri };
  if (st.attrs.origin !== undefined && st.attrs.asPath !== undefined) {
    const attrs = st.attrs as PathAttributes;
    // Kept in type order, the order they are sent in, so decoding is canonical.
    if (unknown.length) attrs.unknown = unknown.sort((a, b) => a.type - b.type);
    message.attributes = attrs;
  } else if (Object.keys(st.attrs).length > 0 || unknown.length > 0) {
    if (!announces) warnings.push('path attributes without ORIGIN and AS_PATH on an UPDATE that announces nothing: ignored');
  }
  if (st.mpReach) message.mpReach = st.mpReach;
  if (st.mpUnreach) message.mpUnreach = st.mpUnreach;

  if (treatAsWithdraw) {
    warnings.push(`treat-as-withdraw: ${twReasons.join('; ')}`);
    applyTreatAsWithdraw(message);
  }
  return { message, treatAsWithdraw, discarded, warnings };
}

function nlriOrReset(buf: Buffer, start: number, end: number, family: 4 | 6, addPath: boolean, what: string) {
  try {
    return decodePrefixes(buf, start, end, family, addPath);
  } catch (e) {
    if (e instanceof NlriError) throw new WireError(ERR_UPDATE, UPD_INVALID_NETWORK, `${what}: ${e.message}`);
    throw e;
  }
}

/** RFC 6793 §4.2.3 for 2-octet peers; AS4_* from 4-octet peers are discarded (§4.1). */
function reconcileAs4(st: AttrDecodeState, ctx: CodecContext, discarded: number[], warnings: string[]): void {
  if (ctx.fourOctetAs) {
    if (st.as4Path) {
      discarded.push(ATTR_AS4_PATH);
      warnings.push('AS4_PATH from a 4-octet AS peer discarded');
    }
    if (st.as4Aggregator) {
      discarded.push(ATTR_AS4_AGGREGATOR);
      warnings.push('AS4_AGGREGATOR from a 4-octet AS peer discarded');
    }
    return;
  }
  let as4Path = st.as4Path;
  const agg = st.attrs.aggregator;
  if (agg && agg.asn !== AS_TRANS) {
    // The aggregating speaker was 2-octet only: AS4 information is stale.
    if (st.as4Aggregator || as4Path) warnings.push('AS4_PATH/AS4_AGGREGATOR ignored: AGGREGATOR is not AS_TRANS');
    as4Path = undefined;
  } else if (agg && st.as4Aggregator) {
    st.attrs.aggregator = st.as4Aggregator;
  }
  if (as4Path && st.attrs.asPath) st.attrs.asPath = mergeAs4Path(st.attrs.asPath, as4Path);
}

/** Moves every announced prefix into the withdrawals and drops the attributes. */
function applyTreatAsWithdraw(m: UpdateMessage): void {
  m.withdrawn = [...m.withdrawn, ...m.nlri];
  m.nlri = [];
  delete m.attributes;
  const reach = m.mpReach;
  if (reach && (!m.mpUnreach || (m.mpUnreach.afi === reach.afi && m.mpUnreach.safi === reach.safi))) {
    m.mpUnreach = { afi: reach.afi, safi: reach.safi, withdrawn: [...(m.mpUnreach?.withdrawn ?? []), ...reach.nlri] };
    delete m.mpReach;
  }
  // Otherwise (MP_UNREACH of another family in the same UPDATE) mpReach stays, without
  // attributes; consumers honour treatAsWithdraw for it.
}

/** Appends an UPDATE body to w. */
export function encodeUpdateBody(w: Writer, m: UpdateMessage, ctx: CodecContext): void {
  const wAt = w.reserve(2);
  encodePrefixes(w, m.withdrawn, addPathSend(ctx, 1));
  w.patchLength(wAt, 2);
  const aAt = w.reserve(2);
  encodeAttributes(w, { attrs: m.attributes, mpReach: m.mpReach, mpUnreach: m.mpUnreach }, ctx);
  w.patchLength(aAt, 2);
  encodePrefixes(w, m.nlri, addPathSend(ctx, 1));
}

/** Writes all path attributes: MP_* first (RFC 7606 §5.1), then by type code, then unknown ones. */
export function encodeAttributes(w: Writer, src: AttrEncodeSource, ctx: CodecContext): void {
  for (const e of ATTRIBUTE_TABLE) {
    const v = e.pick(src, ctx);
    if (v === undefined) continue;
    const at = w.offset;
    w.u8(e.flags | FLAG_EXTENDED_LENGTH).u8(e.code).u16(0);
    e.encode(w, v, ctx);
    w.endAttribute(at);
  }
  const unknown = src.attrs?.unknown;
  if (unknown) {
    for (const u of [...unknown].sort((a, b) => a.type - b.type)) {
      if (ATTRIBUTES_BY_CODE.has(u.type)) throw new BgpEncodeError(`unknown attribute type ${u.type} is a known attribute`);
      if (u.value.length > 0xffff) throw new BgpEncodeError(`unknown attribute ${u.type}: value longer than 65535 octets`);
      const at = w.offset;
      w.u8((u.flags & 0xe0) | FLAG_EXTENDED_LENGTH).u8(u.type).u16(0);
      w.bytes(u.value);
      w.endAttribute(at);
    }
  }
}
