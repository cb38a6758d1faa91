// Outgoing UPDATE packing: as many prefixes per message as fit the size limit, the attribute
// block encoded once per attribute set. Plus the End-of-RIB markers of RFC 4724 §2.
import { addressBytes } from './address.js';
import { addPathSend } from './attributes.js';
import * as C from './constants.js';
import { maxMessageLength, writeHeader } from './message.js';
import { encodePrefix, prefixWireSize } from './nlri.js';
import { encodeAttributes } from './update.js';
import { Writer } from './writer.js';
import { BgpEncodeError, type AfiSafi, type CodecContext, type NlriPrefix, type UpdateMessage } from './types.js';
import type { PathAttributes } from '../types.js';

// Bound once: constant lookups stay local on the per-attribute path.
const { ATTR_MP_REACH_NLRI, ATTR_MP_UNREACH_NLRI, FLAG_EXTENDED_LENGTH, FLAG_OPTIONAL, HEADER_LENGTH, MSG_UPDATE } = C;

/** Routes sharing one attribute set. IPv6 prefixes (and IPv4 when nextHops is given) go in MP_REACH_NLRI. */
export interface RouteGroup {
  attributes: PathAttributes;
  prefixes: NlriPrefix[];
  /** MP_REACH next hops: IPv6 global [+ link-local], or an IPv6 next hop for IPv4 NLRI (RFC 8950). */
  nextHops?: string[];
}

const FIXED = HEADER_LENGTH + 4; // header + withdrawn length + total attribute length
const MP_ATTR_HEADER = 4; // flags, type, 2-octet length (worst case)

/** End-of-RIB marker for a family (RFC 4724 §2). */
export function endOfRib(afi: number, safi: number): UpdateMessage {
  if (afi === 1 && safi === 1) return { type: 'UPDATE', withdrawn: [], nlri: [] };
  return { type: 'UPDATE', withdrawn: [], nlri: [], mpUnreach: { afi, safi, withdrawn: [] } };
}

/** The family an End-of-RIB marker closes, or undefined when u is not one. */
export function isEndOfRib(u: UpdateMessage): AfiSafi | undefined {
  if (u.withdrawn.length || u.nlri.length || u.mpReach || u.attributes) return undefined;
  if (!u.mpUnreach) return { afi: 1, safi: 1 };
  return u.mpUnreach.withdrawn.length === 0 ? { afi: u.mpUnreach.afi, safi: u.mpUnreach.safi } : undefined;
}

/**
 * Encodes withdrawals, then each group's announcements, into UPDATE frames no larger than
 * maxSize (default: 4096, or 65535 with extended messages).
 */
export function packUpdates(groups: readonly RouteGroup[], withdrawals: readonly NlriPrefix[], ctx: CodecContext, maxSize = maxMessageLength(ctx)): Buffer[] {
  const out: Buffer[] = [];
  const [v4w, v6w] = byFamily(withdrawals);
  packPlainWithdrawals(out, v4w, ctx, maxSize);
  packMp(out, v6w, undefined, { afi: 2, safi: 1 }, undefined, ctx, maxSize);
  for (const g of groups) {
    const attrW = new Writer(256);
    encodeAttributes(attrW, { attrs: g.attributes }, ctx);
    const attrBytes = attrW.finish();
    const [v4, v6] = byFamily(g.prefixes);
    if (v4.length) {
      if (g.nextHops?.length) packMp(out, v4, attrBytes, { afi: 1, safi: 1 }, g.nextHops, ctx, maxSize);
      else {
        if (g.attributes.nextHop === undefined) throw new BgpEncodeError('packUpdates: IPv4 routes need attributes.nextHop or nextHops');
        packPlainNlri(out, v4, attrBytes, ctx, maxSize);
      }
    }
    if (v6.length) {
      if (!g.nextHops?.length) throw new BgpEncodeError('packUpdates: IPv6 routes need nextHops');
      packMp(out, v6, attrBytes, { afi: 2, safi: 1 }, g.nextHops, ctx, maxSize);
    }
  }
  return out;
}

const NONE: readonly NlriPrefix[] = [];

/** IPv4 and IPv6 prefixes apart; a list of one family (the usual case) is returned as it is, not copied. */
function byFamily(ps: readonly NlriPrefix[]): [readonly NlriPrefix[], readonly NlriPrefix[]] {
  let v4 = 0;
  for (let i = 0; i < ps.length; i++) if (ps[i].family === 4) v4++;
  if (v4 === ps.length) return [ps, NONE];
  if (v4 === 0) return [NONE, ps.filter((p) => p.family === 6)];
  return [ps.filter((p) => p.family === 4), ps.filter((p) => p.family === 6)];
}

/**
 * Where each message's prefixes end: ps[ends[i-1], ends[i]) fill message i (index ranges, not
 * copies of the list: a sync of a whole table packs hundreds of thousands of prefixes).
 */
function chunkEnds(prefixes: readonly NlriPrefix[], room: number, addPath: boolean): number[] {
  const ends: number[] = [];
  let used = 0;
  for (let i = 0; i < prefixes.length; i++) {
    const n = prefixWireSize(prefixes[i], addPath);
    if (used + n > room && used > 0) {
      ends.push(i);
      used = 0;
    }
    used += n;
  }
  if (used > 0) ends.push(prefixes.length);
  return ends;
}

function checkRoom(room: number, what: string): void {
  // The largest single prefix: IPv6 /128 with a path id.
  if (room < 1 + 16 + 4) throw new BgpEncodeError(`packUpdates: ${what} leave no room for a prefix`);
}

function packPlainWithdrawals(out: Buffer[], ps: readonly NlriPrefix[], ctx: CodecContext, max: number): void {
  if (!ps.length) return;
  const addPath = addPathSend(ctx, 1, 1);
  // One scratch buffer for every message of the call: finish() copies out each message.
  const w = new Writer(max);
  let from = 0;
  for (const end of chunkEnds(ps, max - FIXED, addPath)) {
    const lenAt = writeHeader(w.reset(), MSG_UPDATE);
    const wAt = w.reserve(2);
    for (; from < end; from++) encodePrefix(w, ps[from], addPath);
    w.patchLength(wAt, 2);
    w.u16(0);
    w.setU16(lenAt, w.offset);
    out.push(w.finish());
  }
}

function packPlainNlri(out: Buffer[], ps: readonly NlriPrefix[], attrs: Buffer, ctx: CodecContext, max: number): void {
  const addPath = addPathSend(ctx, 1, 1);
  const room = max - FIXED - attrs.length;
  checkRoom(room, `attributes of ${attrs.length} octets`);
  const w = new Writer(max);
  let from = 0;
  for (const end of chunkEnds(ps, room, addPath)) {
    const lenAt = writeHeader(w.reset(), MSG_UPDATE);
    w.u16(0).u16(attrs.length).bytes(attrs);
    for (; from < end; from++) encodePrefix(w, ps[from], addPath);
    w.setU16(lenAt, w.offset);
    out.push(w.finish());
  }
}

/** MP_REACH (nextHops given) or MP_UNREACH (nextHops undefined) messages, MP attribute first. */
function packMp(out: Buffer[], ps: readonly NlriPrefix[], attrs: Buffer | undefined, fam: AfiSafi, nextHops: string[] | undefined, ctx: CodecContext, max: number): void {
  if (!ps.length) return;
  const addPath = addPathSend(ctx, fam.afi, fam.safi);
  const nh = (nextHops ?? []).map((a, i) => addressBytes(a, `nextHops[${i}]`));
  if (nextHops && (nh.length < 1 || nh.length > 2)) throw new BgpEncodeError('packUpdates: nextHops must hold one or two addresses');
  const nhLen = nh.reduce((n, b) => n + b.length, 0);
  const mpFixed = nextHops ? 3 + 1 + nhLen + 1 : 3;
  const attrLen = attrs?.length ?? 0;
  const room = max - FIXED - MP_ATTR_HEADER - mpFixed - attrLen;
  checkRoom(room, `attributes of ${attrLen} octets`);
  const w = new Writer(max);
  let from = 0;
  for (const end of chunkEnds(ps, room, addPath)) {
    const lenAt = writeHeader(w.reset(), MSG_UPDATE);
    w.u16(0);
    const aAt = w.reserve(2);
    const mpAt = w.offset;
    w.u8(FLAG_OPTIONAL | FLAG_EXTENDED_LENGTH).u8(nextHops ? ATTR_MP_REACH_NLRI : ATTR_MP_UNREACH_NLRI).u16(0);
    w.u16(fam.afi).u8(fam.safi);
    if (nextHops) {
      w.u8(nhLen);
      for (const b of nh) w.bytes(b);
      w.u8(0);
    }
    for (; from < end; from++) encodePrefix(w, ps[from], addPath);
    w.endAttribute(mpAt);
    if (attrs) w.bytes(attrs);
    w.patchLength(aAt, 2);
    w.setU16(lenAt, w.offset);
    out.push(w.finish());
  }
}
