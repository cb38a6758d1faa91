// Whole messages: the 19-octet header (RFC 4271 §4.1), per-type length rules (§6.1), and
// dispatch to the OPEN / UPDATE / NOTIFICATION / KEEPALIVE / ROUTE-REFRESH codecs.
import * as C from './constants.js';
import { WireError } from './errors.js';
import { notification } from './notification.js';
import { decodeOpen, encodeOpenBody } from './open.js';
import { decodeUpdate, encodeUpdateBody } from './update.js';
import { Writer } from './writer.js';
import { BgpEncodeError, type BgpMessage, type CodecContext, type DecodeOutcome } from './types.js';

// Bound once: constant lookups stay local on the per-attribute path.
const { CEASE_OUT_OF_RESOURCES, ERR_CEASE, ERR_HEADER, ERR_ROUTE_REFRESH, HDR_BAD_LENGTH, HDR_BAD_TYPE, HDR_NOT_SYNCHRONIZED, HEADER_LENGTH, MAX_EXTENDED_MESSAGE_LENGTH, MAX_MESSAGE_LENGTH, MSG_KEEPALIVE, MSG_NOTIFICATION, MSG_OPEN, MSG_ROUTE_REFRESH, MSG_UPDATE, RR_INVALID_LENGTH } = C;

const TYPE_CODES: Record<BgpMessage['type'], number> = {
  OPEN: MSG_OPEN,
  UPDATE: MSG_UPDATE,
  NOTIFICATION: MSG_NOTIFICATION,
  KEEPALIVE: MSG_KEEPALIVE,
  ROUTE_REFRESH: MSG_ROUTE_REFRESH,
};

export function maxMessageLength(ctx: CodecContext): number {
  return ctx.extendedMessages ? MAX_EXTENDED_MESSAGE_LENGTH : MAX_MESSAGE_LENGTH;
}

/** Writes the header with a placeholder length; returns the offset to patch. */
export function writeHeader(w: Writer, type: number): number {
  w.fill(0xff, 16);
  const at = w.reserve(2);
  w.u8(type);
  return at;
}

export function encodeMessage(msg: BgpMessage, ctx: CodecContext): Buffer {
  const w = new Writer(msg.type === 'UPDATE' ? 1024 : 64);
  const lenAt = writeHeader(w, TYPE_CODES[msg.type]);
  switch (msg.type) {
    case 'OPEN':
      encodeOpenBody(w, msg);
      break;
    case 'UPDATE':
      encodeUpdateBody(w, msg, ctx);
      break;
    case 'NOTIFICATION':
      if (!inRange(msg.code, 255) || !inRange(msg.subcode, 255)) throw new BgpEncodeError(`NOTIFICATION code/subcode ${msg.code}/${msg.subcode} out of range`);
      w.u8(msg.code).u8(msg.subcode).bytes(msg.data);
      break;
    case 'KEEPALIVE':
      break;
    case 'ROUTE_REFRESH':
      if (!inRange(msg.afi, 0xffff) || !inRange(msg.safi, 255) || !inRange(msg.subtype, 255)) throw new BgpEncodeError('ROUTE_REFRESH afi/safi/subtype out of range');
      w.u16(msg.afi).u8(msg.subtype).u8(msg.safi);
      break;
  }
  const total = w.offset;
  if (total > maxMessageLength(ctx)) throw new BgpEncodeError(`${msg.type} of ${total} octets exceeds the ${maxMessageLength(ctx)}-octet limit`);
  w.setU16(lenAt, total);
  return w.finish();
}

function inRange(n: number, max: number): boolean {
  return Number.isInteger(n) && n >= 0 && n <= max;
}

function u16(v: number): Buffer {
  const b = Buffer.alloc(2);
  b.writeUInt16BE(Math.min(v, 0xffff));
  return b;
}

/** Header checks shared by the framer and decodeMessage; returns the problem, if any. */
export function checkHeader(frame: Buffer, maxLen: number): WireError | undefined {
  for (let i = 0; i < 16; i++) {
    if (frame[i] !== 0xff) return new WireError(ERR_HEADER, HDR_NOT_SYNCHRONIZED, `marker octet ${i} is 0x${frame[i].toString(16)}, not 0xff`);
  }
  const len = frame.readUInt16BE(16);
  if (len < HEADER_LENGTH || len > maxLen) return new WireError(ERR_HEADER, HDR_BAD_LENGTH, `message length ${len} outside ${HEADER_LENGTH}..${maxLen}`, frame.subarray(16, 18));
  return undefined;
}

const MIN_LENGTH: Record<number, number> = { 1: 29, 2: 23, 3: 21, 4: 19, 5: 23 };

/** Decodes one whole message (header included). Never throws on any input. */
export function decodeMessage(frame: Buffer, ctx: CodecContext): DecodeOutcome {
  try {
    return decodeOrThrow(frame, ctx);
  } catch (e) {
    if (e instanceof WireError) return { ok: false, notification: e.notification, reason: e.message };
    // A bug, not peer input: still answer with a NOTIFICATION rather than crash the session.
    return { ok: false, notification: notification(ERR_CEASE, CEASE_OUT_OF_RESOURCES), reason: `internal decoder error: ${(e as Error).message}` };
  }
}

function decodeOrThrow(frame: Buffer, ctx: CodecContext): DecodeOutcome {
  if (frame.length < HEADER_LENGTH) throw new WireError(ERR_HEADER, HDR_BAD_LENGTH, `frame of ${frame.length} octets is shorter than a header`, u16(frame.length));
  const hdrErr = checkHeader(frame, maxMessageLength(ctx));
  if (hdrErr) throw hdrErr;
  const len = frame.readUInt16BE(16);
  if (len !== frame.length) throw new WireError(ERR_HEADER, HDR_BAD_LENGTH, `length field ${len} but frame has ${frame.length} octets`, frame.subarray(16, 18));
  const type = frame[18];
  const min = MIN_LENGTH[type];
  if (min === undefined) throw new WireError(ERR_HEADER, HDR_BAD_TYPE, `unknown message type ${type}`, frame.subarray(18, 19));
  const body = frame.subarray(HEADER_LENGTH);
  if (type === MSG_ROUTE_REFRESH) return decodeRouteRefresh(frame, body);
  if (len < min || (type === MSG_KEEPALIVE && len !== 19)) {
    throw new WireError(ERR_HEADER, HDR_BAD_LENGTH, `message type ${type} with bad length ${len}`, frame.subarray(16, 18));
  }
  const warnings: string[] = [];
  switch (type) {
    case MSG_OPEN: {
      const message = decodeOpen(body, warnings);
      return warnings.length ? { ok: true, message, warnings } : { ok: true, message };
    }
    case MSG_UPDATE: {
      const r = decodeUpdate(body, ctx);
      const out: DecodeOutcome = { ok: true, message: r.message };
      if (r.treatAsWithdraw) out.treatAsWithdraw = true;
      if (r.discarded.length) out.discarded = r.discarded;
      if (r.warnings.length) out.warnings = r.warnings;
      return out;
    }
    case MSG_NOTIFICATION:
      return { ok: true, message: { type: 'NOTIFICATION', code: body[0], subcode: body[1], data: Buffer.from(body.subarray(2)) } };
    default:
      return { ok: true, message: { type: 'KEEPALIVE' } };
  }
}

/** RFC 2918 / RFC 7313 §5: length errors are ROUTE-REFRESH Message Error / Invalid Message Length. */
function decodeRouteRefresh(frame: Buffer, body: Buffer): DecodeOutcome {
  if (body.length < 4) throw new WireError(ERR_ROUTE_REFRESH, RR_INVALID_LENGTH, `ROUTE-REFRESH of ${frame.length} octets`, Buffer.from(frame));
  const subtype = body[2];
  if (body.length !== 4 && (subtype === 1 || subtype === 2)) {
    throw new WireError(ERR_ROUTE_REFRESH, RR_INVALID_LENGTH, `ROUTE-REFRESH subtype ${subtype} of ${frame.length} octets`, Buffer.from(frame));
  }
  const warnings: string[] = [];
  if (body.length !== 4) warnings.push(`ROUTE-REFRESH carries ${body.length - 4} octets of ORF entries (ignored)`);
  // RFC 7313 §5: reserved subtypes are ignored by the receiver; the message is still well-formed.
  if (subtype > 2) warnings.push(`ROUTE-REFRESH with reserved subtype ${subtype} must be ignored`);
  const message = { type: 'ROUTE_REFRESH' as const, afi: body.readUInt16BE(0), safi: body[3], subtype };
  return warnings.length ? { ok: true, message, warnings } : { ok: true, message };
}
