// Hand-built wire bytes for table tests: attributes and UPDATE/OPEN frames exactly as given,
// including deliberately wrong lengths and flags.

export function attr(flags: number, type: number, value: number[] | Buffer, lengthOverride?: number): Buffer {
  const v = Buffer.from(value);
  const len = lengthOverride ?? v.length;
  if (flags & 0x10) return Buffer.concat([Buffer.from([flags, type, len >> 8, len & 0xff]), v]);
  return Buffer.concat([Buffer.from([flags, type, len]), v]);
}

export function frame(type: number, body: Buffer | number[], lengthOverride?: number): Buffer {
  const b = Buffer.from(body);
  const len = lengthOverride ?? 19 + b.length;
  return Buffer.concat([Buffer.alloc(16, 0xff), Buffer.from([len >> 8, len & 0xff, type]), b]);
}

export function updateFrame(parts: { withdrawn?: number[]; attrs?: Buffer[]; nlri?: number[]; attrLenOverride?: number; wLenOverride?: number }): Buffer {
  const w = Buffer.from(parts.withdrawn ?? []);
  const a = Buffer.concat(parts.attrs ?? []);
  const n = Buffer.from(parts.nlri ?? []);
  const wl = parts.wLenOverride ?? w.length;
  const al = parts.attrLenOverride ?? a.length;
  return frame(2, Buffer.concat([Buffer.from([wl >> 8, wl & 0xff]), w, Buffer.from([al >> 8, al & 0xff]), a, n]));
}

/** ORIGIN IGP, AS_PATH [65001] (4-octet), NEXT_HOP 192.0.2.1. */
export const ORIGIN = attr(0x40, 1, [0]);
export const AS_PATH4 = attr(0x40, 2, [2, 1, 0, 0, 0xfd, 0xe9]);
export const AS_PATH2 = attr(0x40, 2, [2, 1, 0xfd, 0xe9]);
export const NEXT_HOP = attr(0x40, 3, [192, 0, 2, 1]);
export const MANDATORY = [ORIGIN, AS_PATH4, NEXT_HOP];
/** 10.0.0.0/8 */
export const NLRI_10 = [8, 10];
