import { describe, expect, it } from 'vitest';
import { formatExtendedCommunity } from './attributes.js';
import { decodeMessage, encodeMessage, type CodecContext, type UpdateMessage } from './index.js';

const ctx: CodecContext = { fourOctetAs: true };
// Path attributes of an UPDATE: ORIGIN IGP, empty AS_PATH, NEXT_HOP, then EXTENDED_COMMUNITIES
// (type 16, optional transitive) with route target 65000:100 and a non-transitive opaque value.
const ATTRS = Buffer.from(['40010100', '400200', '4003040a000001', 'c01010', '0002fde800000064', '4300000000000001'].join(''), 'hex');

function decoded(bytes: Buffer): UpdateMessage {
  const r = decodeMessage(bytes, ctx);
  if (!r.ok) throw new Error(r.reason);
  return r.message as UpdateMessage;
}

function update(attrs: Buffer): Buffer {
  const body = Buffer.concat([Buffer.from([0, 0, 0, attrs.length]), attrs, Buffer.from([24, 10, 1, 0])]);
  const hdr = Buffer.alloc(19, 0xff);
  hdr.writeUInt16BE(19 + body.length, 16);
  hdr[18] = 2;
  return Buffer.concat([hdr, body]);
}

describe('EXTENDED_COMMUNITIES (RFC 4360)', () => {
  it('are decoded into [high, low] halves, kept in order, and encoded back byte for byte', () => {
    const bytes = update(ATTRS);
    const m = decoded(bytes);
    expect(m.attributes?.extendedCommunities).toEqual([
      [0x0002fde8, 100],
      [0x43000000, 1],
    ]);
    expect(m.attributes?.unknown).toBeUndefined();
    expect(encodeMessage(m, ctx).equals(bytes)).toBe(true);
  });

  it('a length that is not a multiple of 8 makes the UPDATE treat-as-withdraw (RFC 7606 §7.14)', () => {
    const bad = Buffer.from(ATTRS);
    bad[ATTRS.indexOf(Buffer.from('c01010', 'hex')) + 2] = 0x0f; // length 15
    const m = decoded(update(bad.subarray(0, bad.length - 1)));
    expect(m.withdrawn.map((p) => `${p.address}/${p.length}`)).toEqual(['10.1.0.0/24']);
    expect(m.nlri).toEqual([]);
  });

  it('print as BIRD does for route targets and origins, in hex otherwise', () => {
    expect(formatExtendedCommunity([0x0002fde8, 100])).toBe('(rt, 65000, 100)');
    expect(formatExtendedCommunity([0x0003fde8, 7])).toBe('(ro, 65000, 7)');
    expect(formatExtendedCommunity([0x43000000, 1])).toBe('0x4300000000000001');
  });
});
