// OPEN message (RFC 4271 §4.2) with capability optional parameters (RFC 5492) and the RFC 9072
// extended optional parameters length when capabilities outgrow 255 octets.
import { formatIpv4, ipv4Bytes } from './address.js';
import { allCapabilities, decodeCapability, encodeCapability, findCapability } from './capabilities.js';
import { AS_TRANS, BGP_VERSION, ERR_OPEN, OPEN_BAD_BGP_ID, OPEN_UNACCEPTABLE_HOLD_TIME, OPEN_UNSUPPORTED_OPT_PARAM, OPEN_UNSUPPORTED_VERSION } from './constants.js';
import { WireError } from './errors.js';
import { Writer } from './writer.js';
import { BgpEncodeError, type AddPathFamily, type Capability, type CodecContext, type OpenMessage } from './types.js';

const PARAM_CAPABILITIES = 2;
const PARAM_EXTENDED = 255;

/** Decodes an OPEN body (after the 19-octet header). */
export function decodeOpen(body: Buffer, warnings: string[]): OpenMessage {
  if (body.length < 10) throw new WireError(1, 2, `OPEN too short (${body.length + 19} octets)`, u16(body.length + 19));
  const version = body[0];
  if (version !== BGP_VERSION) throw new WireError(ERR_OPEN, OPEN_UNSUPPORTED_VERSION, `unsupported BGP version ${version}`, u16(BGP_VERSION));
  const myAs = body.readUInt16BE(1);
  const holdTime = body.readUInt16BE(3);
  if (holdTime === 1 || holdTime === 2) throw new WireError(ERR_OPEN, OPEN_UNACCEPTABLE_HOLD_TIME, `unacceptable hold time ${holdTime}`);
  const bgpId = formatIpv4(body, 5);
  if (bgpId === '0.0.0.0') throw new WireError(ERR_OPEN, OPEN_BAD_BGP_ID, 'BGP identifier 0.0.0.0', body.subarray(5, 9));
  let optLen = body[9];
  let off = 10;
  let extended = false;
  // RFC 9072: Non-Ext OP Type 255 in the first parameter octet announces the extended form.
  if (optLen > 0 && body.length > 10 && body[10] === PARAM_EXTENDED) {
    if (body.length < 13) throw new WireError(ERR_OPEN, 0, 'truncated extended optional parameters length');
    extended = true;
    optLen = body.readUInt16BE(11);
    off = 13;
  }
  if (off + optLen !== body.length) {
    throw new WireError(ERR_OPEN, 0, `optional parameters length ${optLen} does not match the message (${body.length - off} octets follow)`);
  }
  const capabilities: Capability[] = [];
  const end = off + optLen;
  while (off < end) {
    const hdr = extended ? 3 : 2;
    if (off + hdr > end) throw new WireError(ERR_OPEN, 0, `truncated optional parameter at octet ${off + 19}`);
    const type = body[off];
    const len = extended ? body.readUInt16BE(off + 1) : body[off + 1];
    off += hdr;
    if (off + len > end) throw new WireError(ERR_OPEN, 0, `optional parameter ${type} overruns the parameters (length ${len})`);
    if (type !== PARAM_CAPABILITIES) {
      throw new WireError(ERR_OPEN, OPEN_UNSUPPORTED_OPT_PARAM, `unsupported optional parameter type ${type}`);
    }
    const pend = off + len;
    while (off < pend) {
      if (off + 2 > pend) throw new WireError(ERR_OPEN, 0, `truncated capability at octet ${off + 19}`);
      const code = body[off];
      const clen = body[off + 1];
      if (off + 2 + clen > pend) throw new WireError(ERR_OPEN, 0, `capability ${code} overruns its parameter (length ${clen})`);
      capabilities.push(decodeCapability(code, body.subarray(off + 2, off + 2 + clen), warnings));
      off += 2 + clen;
    }
  }
  return { type: 'OPEN', version: 4, myAs, holdTime, bgpId, capabilities };
}

function u16(v: number): Buffer {
  const b = Buffer.alloc(2);
  b.writeUInt16BE(v);
  return b;
}

/** Appends an OPEN body to w. */
export function encodeOpenBody(w: Writer, m: OpenMessage): void {
  if (!Number.isInteger(m.myAs) || m.myAs < 0 || m.myAs > 0xffff) throw new BgpEncodeError(`OPEN myAs ${m.myAs}: must be 0..65535 (use AS_TRANS ${AS_TRANS} and capability 65)`);
  if (!Number.isInteger(m.holdTime) || m.holdTime < 0 || m.holdTime > 0xffff) throw new BgpEncodeError(`OPEN holdTime ${m.holdTime}: must be 0..65535`);
  w.u8(BGP_VERSION).u16(m.myAs).u16(m.holdTime).bytes(ipv4Bytes(m.bgpId, 'OPEN bgpId'));
  const caps = new Writer(128);
  for (const c of m.capabilities) encodeCapability(caps, c);
  const capBytes = caps.view();
  if (capBytes.length === 0) {
    w.u8(0);
    return;
  }
  if (capBytes.length + 2 <= 255) {
    // One Capabilities parameter holding them all, as BIRD does.
    w.u8(capBytes.length + 2).u8(PARAM_CAPABILITIES).u8(capBytes.length).bytes(capBytes);
    return;
  }
  // RFC 9072 extended form: a single parameter with a 2-octet length.
  w.u8(255).u8(PARAM_EXTENDED).u16(capBytes.length + 3).u8(PARAM_CAPABILITIES).u16(capBytes.length).bytes(capBytes);
}

/** The peer's real AS: capability 65 when present, else the 2-octet field. */
export function openAsn(open: OpenMessage): number {
  return findCapability(open.capabilities, 65)?.asn ?? open.myAs;
}

export interface OpenOptions {
  asn: number;
  holdTime: number;
  bgpId: string;
  capabilities: Capability[];
}

/** An OPEN for a possibly 4-octet AS: myAs becomes AS_TRANS when needed and capability 65 is added if missing. */
export function makeOpen(o: OpenOptions): OpenMessage {
  const caps = [...o.capabilities];
  if (!findCapability(caps, 65)) caps.push({ code: 65, asn: o.asn });
  return { type: 'OPEN', version: 4, myAs: o.asn > 0xffff ? AS_TRANS : o.asn, holdTime: o.holdTime, bgpId: o.bgpId, capabilities: caps };
}

/** The families both sides support (capability 1); IPv4 unicast when neither sent any (RFC 4760 §8). */
export function commonFamilies(local: OpenMessage, remote: OpenMessage): Array<{ afi: number; safi: number }> {
  const l = allCapabilities(local.capabilities, 1);
  const r = allCapabilities(remote.capabilities, 1);
  if (l.length === 0 && r.length === 0) return [{ afi: 1, safi: 1 }];
  return l.filter((a) => r.some((b) => a.afi === b.afi && a.safi === b.safi)).map((a) => ({ afi: a.afi, safi: a.safi }));
}

/** The CodecContext for a session, from our OPEN and the peer's. */
export function negotiateContext(local: OpenMessage, remote: OpenMessage): CodecContext {
  const ctx: CodecContext = {
    fourOctetAs: !!findCapability(local.capabilities, 65) && !!findCapability(remote.capabilities, 65),
    ebgp: openAsn(local) !== openAsn(remote),
  };
  const lAdd = findCapability(local.capabilities, 69);
  const rAdd = findCapability(remote.capabilities, 69);
  if (lAdd && rAdd) {
    const fams: AddPathFamily[] = [];
    for (const a of lAdd.families) {
      const b = rAdd.families.find((x) => x.afi === a.afi && x.safi === a.safi);
      if (!b) continue;
      const send = (a.sendReceive & 2) !== 0 && (b.sendReceive & 1) !== 0;
      const receive = (a.sendReceive & 1) !== 0 && (b.sendReceive & 2) !== 0;
      if (send || receive) fams.push({ afi: a.afi, safi: a.safi, send, receive });
    }
    if (fams.length) ctx.addPath = fams;
  }
  const lEnh = findCapability(local.capabilities, 5);
  const rEnh = findCapability(remote.capabilities, 5);
  if (lEnh && rEnh && lEnh.families.some((f) => f.afi === 1 && f.nextHopAfi === 2) && rEnh.families.some((f) => f.afi === 1 && f.nextHopAfi === 2)) {
    ctx.extendedNextHop = true;
  }
  if (findCapability(local.capabilities, 6) && findCapability(remote.capabilities, 6)) ctx.extendedMessages = true;
  return ctx;
}
