// Property tests: every message type and attribute survives encode → decode unchanged, and
// re-encoding what was decoded gives the same bytes.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { decodeMessage, encodeMessage, type BgpMessage, type CodecContext, type UpdateMessage } from './index.js';
import * as A from './testing/arbitraries.js';
import type { AsPathSegment } from '../types.js';

const CTX4: CodecContext = { fourOctetAs: true, extendedMessages: true };
const RUNS = Number(process.env.TORTIE_PROPERTY_RUNS ?? 300);

function roundTrip(m: BgpMessage, ctx: CodecContext): void {
  const bytes = encodeMessage(m, ctx);
  const r = decodeMessage(bytes, ctx);
  if (!r.ok) throw new Error(`decode failed: ${r.reason}`);
  expect(r.treatAsWithdraw).toBeUndefined();
  expect(r.discarded).toBeUndefined();
  expect(r.message).toEqual(m);
  expect(encodeMessage(r.message, ctx).equals(bytes)).toBe(true);
}

describe('round trip', () => {
  it('OPEN with every capability kind (and RFC 9072 extended parameters when long)', () => {
    fc.assert(fc.property(A.open, (m) => roundTrip(m, CTX4)), { numRuns: RUNS });
  });
  it('KEEPALIVE', () => roundTrip({ type: 'KEEPALIVE' }, CTX4));
  it('NOTIFICATION with data', () => {
    fc.assert(fc.property(A.notificationMsg, (m) => roundTrip(m, CTX4)), { numRuns: RUNS });
  });
  it('ROUTE-REFRESH with 7313 subtypes', () => {
    fc.assert(fc.property(A.routeRefresh, (m) => roundTrip(m, CTX4)), { numRuns: RUNS });
  });
  it('UPDATE with all attributes, IPv4 and IPv6, 4-octet AS', () => {
    fc.assert(fc.property(A.update(), (m) => roundTrip(m, CTX4)), { numRuns: RUNS });
  });
  it('UPDATE with ADD-PATH path identifiers in every NLRI field', () => {
    const ctx: CodecContext = {
      ...CTX4,
      addPath: [
        { afi: 1, safi: 1, send: true, receive: true },
        { afi: 1, safi: 2, send: true, receive: true },
        { afi: 2, safi: 1, send: true, receive: true },
      ],
    };
    fc.assert(fc.property(A.update({ addPath: true }), (m) => roundTrip(m, ctx)), { numRuns: RUNS });
  });
  it('UPDATE to a 2-octet AS peer whose ASes all fit: no AS4 attributes needed', () => {
    const ctx: CodecContext = { fourOctetAs: false, extendedMessages: true };
    fc.assert(fc.property(A.update({ asn: fc.integer({ min: 0, max: 0xffff }).filter((a) => a !== 23456) }), (m) => roundTrip(m, ctx)), { numRuns: RUNS });
  });
  it('any message: decoding the encoding of a decoded message is stable', () => {
    fc.assert(fc.property(A.anyMessage, (m) => roundTrip(m, CTX4)), { numRuns: RUNS });
  });
});

/** The path attribute type codes of an encoded UPDATE, read from its attribute headers. */
function attributeTypes(update: Buffer): number[] {
  let at = 19 + 2 + update.readUInt16BE(19); // header, withdrawn routes
  const end = at + 2 + update.readUInt16BE(at);
  at += 2;
  const types: number[] = [];
  while (at < end) {
    const extended = (update[at] & 0x10) !== 0;
    types.push(update[at + 1]);
    at += extended ? 4 + update.readUInt16BE(at + 2) : 3 + update[at + 2];
  }
  return types;
}

/** Adjacent AS_SEQUENCEs are one path; the 2-octet split may re-join them. */
function normalise(segs: AsPathSegment[]): AsPathSegment[] {
  const out: AsPathSegment[] = [];
  for (const s of segs) {
    const last = out[out.length - 1];
    if (last && last.type === 2 && s.type === 2) last.asns.push(...s.asns);
    else out.push({ type: s.type, asns: [...s.asns] });
  }
  return out;
}

describe('4-octet AS over a 2-octet session (RFC 6793)', () => {
  const ctx2: CodecContext = { fourOctetAs: false, extendedMessages: true };
  const bigAsn = fc.oneof(fc.integer({ min: 1, max: 0xffff }).filter((a) => a !== 23456), fc.integer({ min: 65536, max: 0xffffffff }));
  // Confederation segments only lead the path, as a confederation member prepends them, and
  // hold 2-octet member ASes: AS4_PATH never carries them (RFC 6793 §4.2.2).
  const smallAsn = fc.integer({ min: 1, max: 0xffff }).filter((a) => a !== 23456);
  const path = fc
    .tuple(
      fc.array(fc.record({ type: fc.constantFrom(3 as const, 4 as const), asns: fc.array(smallAsn, { minLength: 1, maxLength: 4 }) }), { maxLength: 2 }),
      A.asPath({ asn: bigAsn, confed: false }),
    )
    .map(([c, p]) => [...c, ...p]);

  it('AS_PATH with AS_TRANS + AS4_PATH merges back to the real path', () => {
    fc.assert(
      fc.property(path, fc.option(fc.record({ asn: bigAsn, address: A.ipv4 }), { nil: undefined }), (asPath, aggregator) => {
        const m: UpdateMessage = { type: 'UPDATE', withdrawn: [], nlri: [{ family: 4, address: '10.0.0.0', length: 8 }], attributes: { origin: 0, asPath, nextHop: '192.0.2.1' } };
        if (aggregator) m.attributes!.aggregator = aggregator;
        const bytes = encodeMessage(m, ctx2);
        const r = decodeMessage(bytes, ctx2);
        if (!r.ok || r.message.type !== 'UPDATE') throw new Error('decode failed');
        const wide = asPath.some((s) => s.asns.some((a) => a > 0xffff));
        if (aggregator && aggregator.asn <= 0xffff && wide) {
          // §4.2.3: an AGGREGATOR other than AS_TRANS means AS4_PATH is stale and ignored.
          const trans = asPath.map((s) => ({ type: s.type, asns: s.asns.map((a) => (a > 0xffff ? 23456 : a)) }));
          expect(r.message.attributes!.asPath).toEqual(trans);
        } else {
          expect(normalise(r.message.attributes!.asPath)).toEqual(normalise(asPath));
        }
        expect(r.message.attributes!.aggregator).toEqual(aggregator);
        // The wire AS_PATH itself never holds an AS above 65535; AS4_PATH (17) is sent when needed.
        // Read from the attribute headers: a byte search also matched AS 49169 (0xc011) in AS_PATH.
        expect(attributeTypes(bytes).includes(17)).toBe(wide);
      }),
      // AS 49169 is 0xc011: an AS4_PATH header's bytes inside AS_PATH (CI, seed 792175770).
      { numRuns: RUNS, examples: [[[{ type: 3, asns: [49169, 1] }], undefined]] },
    );
  });
});
