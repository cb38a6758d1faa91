// RFC 4271 §6 / RFC 7606 error handling, one row per case: session reset with the right
// NOTIFICATION, treat-as-withdraw, or attribute discard.
import { describe, expect, it } from 'vitest';
import { decodeMessage, type CodecContext, type DecodeOutcome, type UpdateMessage } from './index.js';
import { AS_PATH2, AS_PATH4, MANDATORY, NEXT_HOP, NLRI_10, ORIGIN, attr, frame, updateFrame } from './testing/wire.js';

const CTX: CodecContext = { fourOctetAs: true };
const CTX2: CodecContext = { fourOctetAs: false };

type Expect = { reset: [number, number]; data?: 'attr' | number[] } | { withdraw: true } | { discard: number } | { ok: true };

interface Row {
  name: string;
  attrs: Buffer[];
  nlri?: number[];
  ctx?: CodecContext;
  expect: Expect;
}

const MP_REACH_V6 = (nlri: number[], nhLen = 16, flags = 0x80) =>
  attr(flags, 14, [0, 2, 1, nhLen, ...Array.from({ length: nhLen }, (_, i) => (i === 0 ? 0xfd : i === nhLen - 1 ? 1 : 0)), 0, ...nlri]);

const rows: Row[] = [
  { name: 'ORIGIN length 2', attrs: [attr(0x40, 1, [0, 0]), AS_PATH4, NEXT_HOP], expect: { withdraw: true } },
  { name: 'ORIGIN undefined value 3', attrs: [attr(0x40, 1, [3]), AS_PATH4, NEXT_HOP], expect: { withdraw: true } },
  { name: 'ORIGIN with Optional flag (flags conflict)', attrs: [attr(0xc0, 1, [0]), AS_PATH4, NEXT_HOP], expect: { withdraw: true } },
  { name: 'ORIGIN with Partial set on a well-known attribute', attrs: [attr(0x60, 1, [0]), AS_PATH4, NEXT_HOP], expect: { withdraw: true } },
  { name: 'AS_PATH unknown segment type 5', attrs: [ORIGIN, attr(0x40, 2, [5, 1, 0, 0, 0, 1]), NEXT_HOP], expect: { withdraw: true } },
  { name: 'AS_PATH zero-length segment', attrs: [ORIGIN, attr(0x40, 2, [2, 0]), NEXT_HOP], expect: { withdraw: true } },
  { name: 'AS_PATH segment overruns attribute', attrs: [ORIGIN, attr(0x40, 2, [2, 2, 0, 0, 0, 1]), NEXT_HOP], expect: { withdraw: true } },
  { name: 'AS_PATH 2-octet bytes on a 4-octet session (odd length)', attrs: [ORIGIN, AS_PATH2, NEXT_HOP], expect: { withdraw: true } },
  { name: 'AS_PATH 1 stray octet', attrs: [ORIGIN, attr(0x40, 2, [2, 1, 0, 0, 0, 1, 2]), NEXT_HOP], expect: { withdraw: true } },
  { name: 'NEXT_HOP length 5', attrs: [ORIGIN, AS_PATH4, attr(0x40, 3, [1, 2, 3, 4, 5])], expect: { withdraw: true } },
  { name: 'NEXT_HOP 0.0.0.0', attrs: [ORIGIN, AS_PATH4, attr(0x40, 3, [0, 0, 0, 0])], expect: { withdraw: true } },
  { name: 'NEXT_HOP multicast', attrs: [ORIGIN, AS_PATH4, attr(0x40, 3, [224, 0, 0, 1])], expect: { withdraw: true } },
  { name: 'MED length 3', attrs: [...MANDATORY, attr(0x80, 4, [0, 0, 1])], expect: { withdraw: true } },
  { name: 'MED flagged transitive', attrs: [...MANDATORY, attr(0xc0, 4, [0, 0, 0, 1])], expect: { withdraw: true } },
  { name: 'LOCAL_PREF length 3', attrs: [...MANDATORY, attr(0x40, 5, [0, 0, 1])], expect: { withdraw: true } },
  { name: 'LOCAL_PREF from an eBGP peer', attrs: [...MANDATORY, attr(0x40, 5, [0, 0, 0, 100])], ctx: { fourOctetAs: true, ebgp: true }, expect: { discard: 5 } },
  { name: 'ATOMIC_AGGREGATE length 1', attrs: [...MANDATORY, attr(0x40, 6, [1])], expect: { discard: 6 } },
  { name: 'AGGREGATOR length 6 on a 4-octet session', attrs: [...MANDATORY, attr(0xc0, 7, [0xfd, 0xe9, 10, 0, 0, 1])], expect: { discard: 7 } },
  { name: 'AGGREGATOR length 8 on a 2-octet session', attrs: [ORIGIN, AS_PATH2, NEXT_HOP, attr(0xc0, 7, [0, 0, 0xfd, 0xe9, 10, 0, 0, 1])], ctx: CTX2, expect: { discard: 7 } },
  { name: 'COMMUNITIES length 5', attrs: [...MANDATORY, attr(0xc0, 8, [0, 0, 0, 1, 2])], expect: { withdraw: true } },
  { name: 'COMMUNITIES length 0', attrs: [...MANDATORY, attr(0xc0, 8, [])], expect: { withdraw: true } },
  { name: 'ORIGINATOR_ID length 3', attrs: [...MANDATORY, attr(0x80, 9, [1, 2, 3])], expect: { withdraw: true } },
  { name: 'CLUSTER_LIST length 6', attrs: [...MANDATORY, attr(0x80, 10, [1, 2, 3, 4, 5, 6])], expect: { withdraw: true } },
  { name: 'LARGE_COMMUNITIES length 13', attrs: [...MANDATORY, attr(0xc0, 32, new Array(13).fill(1))], expect: { withdraw: true } },
  { name: 'LARGE_COMMUNITIES length 0', attrs: [...MANDATORY, attr(0xc0, 32, [])], expect: { withdraw: true } },
  { name: 'AS4_PATH malformed from a 2-octet peer', attrs: [ORIGIN, AS_PATH2, NEXT_HOP, attr(0xc0, 17, [2, 3, 0, 0])], ctx: CTX2, expect: { discard: 17 } },
  { name: 'AS4_PATH with a confederation segment', attrs: [ORIGIN, AS_PATH2, NEXT_HOP, attr(0xc0, 17, [3, 1, 0, 1, 0, 0])], ctx: CTX2, expect: { discard: 17 } },
  { name: 'AS4_PATH from a 4-octet peer', attrs: [...MANDATORY, attr(0xc0, 17, [2, 1, 0, 1, 0, 0])], expect: { discard: 17 } },
  { name: 'AS4_AGGREGATOR length 6', attrs: [ORIGIN, AS_PATH2, NEXT_HOP, attr(0xc0, 18, [0, 1, 10, 0, 0, 1])], ctx: CTX2, expect: { discard: 18 } },
  { name: 'AS4_AGGREGATOR wrong flags', attrs: [ORIGIN, AS_PATH2, NEXT_HOP, attr(0x80, 18, [0, 1, 0, 0, 10, 0, 0, 1])], ctx: CTX2, expect: { discard: 18 } },
  { name: 'MP_REACH next hop length 8 for IPv6', attrs: [ORIGIN, AS_PATH4, MP_REACH_V6([64, 0xfd, 0, 0, 0, 0, 0, 0, 1], 8)], nlri: [], expect: { reset: [3, 9], data: 'attr' } },
  { name: 'MP_REACH prefix length 129', attrs: [ORIGIN, AS_PATH4, MP_REACH_V6([129, 0xfd])], nlri: [], expect: { reset: [3, 9], data: 'attr' } },
  { name: 'MP_REACH prefix overruns', attrs: [ORIGIN, AS_PATH4, MP_REACH_V6([64, 0xfd, 0])], nlri: [], expect: { reset: [3, 9], data: 'attr' } },
  { name: 'MP_REACH flagged transitive', attrs: [ORIGIN, AS_PATH4, MP_REACH_V6([64, 0xfd, 0, 0, 0, 0, 0, 0, 1], 16, 0xc0)], nlri: [], expect: { reset: [3, 4], data: 'attr' } },
  { name: 'MP_REACH shorter than 5 octets', attrs: [ORIGIN, AS_PATH4, attr(0x80, 14, [0, 2, 1, 0])], nlri: [], expect: { reset: [3, 9], data: 'attr' } },
  { name: 'MP_UNREACH shorter than 3 octets', attrs: [attr(0x80, 15, [0, 2])], nlri: [], expect: { reset: [3, 9], data: 'attr' } },
  { name: 'MP_REACH IPv4 NLRI with IPv6 next hop, extended next hop not negotiated', attrs: [ORIGIN, AS_PATH4, attr(0x80, 14, [0, 1, 1, 16, 0xfd, ...new Array(14).fill(0), 1, 0, 8, 10])], nlri: [], expect: { reset: [3, 9], data: 'attr' } },
  { name: 'MP_REACH IPv4 NLRI with IPv6 next hop, RFC 8950 negotiated', attrs: [ORIGIN, AS_PATH4, attr(0x80, 14, [0, 1, 1, 16, 0xfd, ...new Array(14).fill(0), 1, 0, 8, 10])], nlri: [], ctx: { fourOctetAs: true, extendedNextHop: true }, expect: { ok: true } },
  { name: 'MP_REACH of an unsupported family is ignored', attrs: [ORIGIN, AS_PATH4, attr(0x80, 14, [0, 25, 65, 4, 1, 2, 3, 4, 0, 1, 2, 3])], nlri: [], expect: { ok: true } },
  { name: 'duplicate MP_REACH', attrs: [ORIGIN, AS_PATH4, MP_REACH_V6([]), MP_REACH_V6([])], nlri: [], expect: { reset: [3, 1] } },
  { name: 'duplicate MP_UNREACH', attrs: [attr(0x80, 15, [0, 2, 1]), attr(0x80, 15, [0, 2, 1])], nlri: [], expect: { reset: [3, 1] } },
  { name: 'duplicate MED: all but the first discarded', attrs: [...MANDATORY, attr(0x80, 4, [0, 0, 0, 1]), attr(0x80, 4, [0, 0, 0, 2])], expect: { discard: 4 } },
  { name: 'unrecognized well-known attribute', attrs: [...MANDATORY, attr(0x40, 99, [1, 2])], expect: { reset: [3, 2], data: 'attr' } },
  { name: 'unknown optional non-transitive attribute ignored', attrs: [...MANDATORY, attr(0x80, 99, [1, 2])], expect: { ok: true } },
  { name: 'missing ORIGIN with NLRI', attrs: [AS_PATH4, NEXT_HOP], expect: { withdraw: true } },
  { name: 'missing AS_PATH with NLRI', attrs: [ORIGIN, NEXT_HOP], expect: { withdraw: true } },
  { name: 'missing NEXT_HOP with plain NLRI', attrs: [ORIGIN, AS_PATH4], expect: { withdraw: true } },
  { name: 'missing NEXT_HOP with only MP_REACH is fine', attrs: [ORIGIN, AS_PATH4, MP_REACH_V6([64, 0xfd, 0, 0, 0, 0, 0, 0, 1])], nlri: [], expect: { ok: true } },
  { name: 'missing mandatory attributes without NLRI is fine', attrs: [attr(0x80, 4, [0, 0, 0, 1])], nlri: [], expect: { ok: true } },
  { name: 'attribute length overruns the path attributes', attrs: [...MANDATORY, attr(0x80, 4, [0, 0, 0, 1], 9)], expect: { withdraw: true } },
  { name: 'two stray octets after the last attribute', attrs: [...MANDATORY, Buffer.from([0x80, 4])], expect: { withdraw: true } },
  { name: 'MP_REACH length overruns the path attributes', attrs: [ORIGIN, AS_PATH4, attr(0x90, 14, [0, 2, 1], 300)], nlri: [], expect: { reset: [3, 5] } },
];

function check(r: DecodeOutcome, e: Expect, sentAttrs: Buffer[]): void {
  if ('reset' in e) {
    if (r.ok) throw new Error(`expected NOTIFICATION ${e.reset.join('/')}, got ok with ${JSON.stringify(r.warnings)}`);
    expect([r.notification.code, r.notification.subcode]).toEqual(e.reset);
    if (e.data === 'attr') expect(sentAttrs.some((a) => a.equals(r.notification.data))).toBe(true);
    return;
  }
  if (!r.ok) throw new Error(`expected ok, got ${r.reason}`);
  if ('withdraw' in e) {
    expect(r.treatAsWithdraw).toBe(true);
    const m = r.message as UpdateMessage;
    expect(m.attributes).toBeUndefined();
    expect(m.nlri).toEqual([]);
    expect(m.mpReach).toBeUndefined();
  } else if ('discard' in e) {
    expect(r.treatAsWithdraw).toBeUndefined();
    expect(r.discarded).toContain(e.discard);
  } else {
    expect(r.treatAsWithdraw).toBeUndefined();
  }
}

describe('RFC 7606 per-attribute error handling', () => {
  for (const row of rows) {
    it(row.name, () => {
      const f = updateFrame({ attrs: row.attrs, nlri: row.nlri ?? NLRI_10 });
      check(decodeMessage(f, row.ctx ?? CTX), row.expect, row.attrs);
    });
  }

  it('treat-as-withdraw turns the announced prefixes into withdrawals, plain and MP', () => {
    const f = updateFrame({ attrs: [attr(0x40, 1, [7]), AS_PATH4, NEXT_HOP, MP_REACH_V6([64, 0xfd, 0, 0, 0, 0, 0, 0, 1])], nlri: NLRI_10, withdrawn: [16, 172, 16] });
    const r = decodeMessage(f, CTX);
    if (!r.ok) throw new Error(r.reason);
    expect(r.treatAsWithdraw).toBe(true);
    expect(r.message).toEqual({
      type: 'UPDATE',
      withdrawn: [
        { family: 4, address: '172.16.0.0', length: 16 },
        { family: 4, address: '10.0.0.0', length: 8 },
      ],
      nlri: [],
      mpUnreach: { afi: 2, safi: 1, withdrawn: [{ family: 6, address: 'fd00:0:0:1::', length: 64 }] },
    });
  });

  it('an unknown optional transitive attribute is kept with the Partial bit set', () => {
    const r = decodeMessage(updateFrame({ attrs: [...MANDATORY, attr(0xc0, 99, [1, 2])], nlri: NLRI_10 }), CTX);
    if (!r.ok || r.message.type !== 'UPDATE') throw new Error('decode failed');
    expect(r.message.attributes?.unknown).toEqual([{ flags: 0xe0, type: 99, value: Buffer.from([1, 2]) }]);
  });

  it('a duplicate keeps the first occurrence', () => {
    const r = decodeMessage(updateFrame({ attrs: [...MANDATORY, attr(0x80, 4, [0, 0, 0, 1]), attr(0x80, 4, [0, 0, 0, 2])], nlri: NLRI_10 }), CTX);
    if (!r.ok || r.message.type !== 'UPDATE') throw new Error('decode failed');
    expect(r.message.attributes?.med).toBe(1);
  });

  it('NEXT_HOP is ignored when only MP_REACH carries NLRI (RFC 4760 §3)', () => {
    const r = decodeMessage(updateFrame({ attrs: [...MANDATORY, MP_REACH_V6([64, 0xfd, 0, 0, 0, 0, 0, 0, 1])], nlri: [] }), CTX);
    if (!r.ok || r.message.type !== 'UPDATE') throw new Error('decode failed');
    expect(r.message.attributes?.nextHop).toBeUndefined();
    expect(r.message.mpReach?.nextHops).toEqual(['fd00::1']);
  });

  it('host bits beyond the prefix length are cleared', () => {
    const r = decodeMessage(updateFrame({ attrs: MANDATORY, nlri: [9, 10, 0xff] }), CTX);
    if (!r.ok || r.message.type !== 'UPDATE') throw new Error('decode failed');
    expect(r.message.nlri).toEqual([{ family: 4, address: '10.128.0.0', length: 9 }]);
  });

  it('AGGREGATOR AS_TRANS + AS4_AGGREGATOR and AS4_PATH from a 2-octet peer', () => {
    const asPath = attr(0x40, 2, [2, 2, 0x5b, 0xa0, 0xfd, 0xe9]); // 23456 65001
    const as4 = attr(0xc0, 17, [2, 2, 0xfa, 0x56, 0xea, 0x01, 0, 0, 0xfd, 0xe9]); // 4200000001 65001
    const agg = attr(0xc0, 7, [0x5b, 0xa0, 10, 0, 0, 1]);
    const agg4 = attr(0xc0, 18, [0xfa, 0x56, 0xea, 0x01, 10, 0, 0, 1]);
    const r = decodeMessage(updateFrame({ attrs: [ORIGIN, asPath, NEXT_HOP, agg, as4, agg4], nlri: NLRI_10 }), CTX2);
    if (!r.ok || r.message.type !== 'UPDATE') throw new Error('decode failed');
    expect(r.message.attributes?.asPath).toEqual([{ type: 2, asns: [4200000001, 65001] }]);
    expect(r.message.attributes?.aggregator).toEqual({ asn: 4200000001, address: '10.0.0.1' });
  });
});

describe('UPDATE structure errors (session reset)', () => {
  const cases: Array<[string, Buffer, [number, number]]> = [
    ['withdrawn length overruns the message', updateFrame({ attrs: [], wLenOverride: 10 }), [3, 1]],
    ['total attribute length overruns the message', updateFrame({ attrs: MANDATORY, attrLenOverride: 200 }), [3, 1]],
    ['NLRI prefix length 33', updateFrame({ attrs: MANDATORY, nlri: [33, 1, 2, 3, 4, 5] }), [3, 10]],
    ['NLRI prefix overruns the message', updateFrame({ attrs: MANDATORY, nlri: [24, 10, 0] }), [3, 10]],
    ['withdrawn prefix length 40', updateFrame({ withdrawn: [40, 1, 2, 3, 4, 5] }), [3, 10]],
  ];
  for (const [name, f, code] of cases) {
    it(name, () => {
      const r = decodeMessage(f, CTX);
      if (r.ok) throw new Error('expected a NOTIFICATION');
      expect([r.notification.code, r.notification.subcode]).toEqual(code);
    });
  }
});

describe('header, OPEN and ROUTE-REFRESH errors', () => {
  const openBody = (o: { version?: number; hold?: number; id?: number[]; params?: number[] } = {}) => [
    o.version ?? 4,
    0xfd,
    0xe9,
    0,
    o.hold ?? 90,
    ...(o.id ?? [10, 0, 0, 1]),
    (o.params ?? []).length,
    ...(o.params ?? []),
  ];
  const bad = Buffer.from(frame(4, []));
  bad[3] = 0;
  const cases: Array<[string, Buffer, [number, number], number[]?]> = [
    ['marker not all ones', bad, [1, 1]],
    ['length field 18', frame(4, [], 18), [1, 2], [0, 18]],
    ['length field 5000', frame(2, [0, 0, 0, 0], 5000), [1, 2], [0x13, 0x88]],
    ['length field disagrees with the frame', frame(4, [], 25), [1, 2], [0, 25]],
    ['KEEPALIVE with a body', frame(4, [0]), [1, 2], [0, 20]],
    ['OPEN shorter than 29', frame(1, [4, 0, 1, 0, 90, 1, 1, 1, 1]), [1, 2], [0, 28]],
    ['UPDATE shorter than 23', frame(2, [0, 0]), [1, 2], [0, 21]],
    ['NOTIFICATION shorter than 21', frame(3, [6]), [1, 2], [0, 20]],
    ['unknown message type 9', frame(9, []), [1, 3], [9]],
    ['OPEN version 3', frame(1, openBody({ version: 3 })), [2, 1], [0, 4]],
    ['OPEN hold time 2', frame(1, openBody({ hold: 2 })), [2, 6]],
    ['OPEN BGP identifier 0.0.0.0', frame(1, openBody({ id: [0, 0, 0, 0] })), [2, 3]],
    ['OPEN unsupported optional parameter 1', frame(1, openBody({ params: [1, 2, 0, 0] })), [2, 4]],
    ['OPEN capability overruns its parameter', frame(1, openBody({ params: [2, 3, 65, 4, 0] })), [2, 0]],
    ['OPEN 4-octet AS capability of length 2', frame(1, openBody({ params: [2, 4, 65, 2, 0, 1] })), [2, 0]],
    ['OPEN optional parameter length disagrees', frame(1, [...openBody({ params: [2, 2, 2, 0] }), 0]), [2, 0]],
    ['ROUTE-REFRESH BoRR with 1 extra octet', frame(5, [0, 1, 1, 1, 0]), [7, 1]],
    ['ROUTE-REFRESH of 3 octets', frame(5, [0, 1, 0]), [7, 1]],
  ];
  for (const [name, f, code, data] of cases) {
    it(name, () => {
      const r = decodeMessage(f, CTX);
      if (r.ok) throw new Error('expected a NOTIFICATION');
      expect([r.notification.code, r.notification.subcode]).toEqual(code);
      if (data) expect([...r.notification.data]).toEqual(data);
      if (code[0] === 7) expect(r.notification.data.equals(f)).toBe(true);
    });
  }

  it('ROUTE-REFRESH with a reserved subtype or ORF entries decodes with a warning', () => {
    for (const body of [[0, 1, 5, 1], [0, 1, 0, 1, 1, 2, 3]]) {
      const r = decodeMessage(frame(5, body), CTX);
      expect(r.ok).toBe(true);
      if (r.ok) expect(r.warnings?.length).toBe(1);
    }
  });

  it('OPEN with RFC 9072 extended optional parameters', () => {
    const caps = [65, 4, 0, 0, 0xfd, 0xe9];
    const params = [255, 255, 0, caps.length + 3, 2, 0, caps.length, ...caps];
    const body = [4, 0xfd, 0xe9, 0, 90, 10, 0, 0, 1, ...params];
    const r = decodeMessage(frame(1, body), CTX);
    if (!r.ok || r.message.type !== 'OPEN') throw new Error('decode failed');
    expect(r.message.capabilities).toEqual([{ code: 65, asn: 65001 }]);
  });
});
