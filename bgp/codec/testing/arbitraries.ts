// fast-check arbitraries for the codec's property and fuzz tests (test support, not runtime code).
import fc from 'fast-check';
import ipaddr from 'ipaddr.js';
import type { AsPathSegment, PathAttributes, RawAttribute } from '../../types.js';
import type { BgpMessage, Capability, NlriPrefix, NotificationMessage, OpenMessage, RouteRefreshMessage, UpdateMessage } from '../types.js';

const KNOWN_ATTRS = new Set([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 14, 15, 16, 17, 18, 32]);

export const u32 = fc.integer({ min: 0, max: 0xffffffff });
export const u16 = fc.integer({ min: 0, max: 0xffff });
export const u8 = fc.integer({ min: 0, max: 255 });

export const ipv4 = fc.tuple(u8, u8, u8, u8).map((b) => b.join('.'));
/** A usable next hop: not 0/8, multicast or class E. */
export const hostIpv4 = fc.tuple(fc.integer({ min: 1, max: 223 }), u8, u8, u8).map((b) => b.join('.'));
export const ipv6 = fc.uint8Array({ minLength: 16, maxLength: 16 }).map((b) => ipaddr.fromByteArray(Array.from(b)).toString());

function mask(bytes: number[], length: number): number[] {
  return bytes.map((b, i) => {
    const bits = Math.max(0, Math.min(8, length - i * 8));
    return b & ((0xff << (8 - bits)) & 0xff);
  });
}

export const prefix4: fc.Arbitrary<NlriPrefix> = fc
  .tuple(fc.array(u8, { minLength: 4, maxLength: 4 }), fc.integer({ min: 0, max: 32 }))
  .map(([b, length]) => ({ family: 4 as const, address: mask(b, length).join('.'), length }));

export const prefix6: fc.Arbitrary<NlriPrefix> = fc
  .tuple(fc.array(u8, { minLength: 16, maxLength: 16 }), fc.integer({ min: 0, max: 128 }))
  .map(([b, length]) => ({ family: 6 as const, address: ipaddr.fromByteArray(mask(b, length)).toString(), length }));

export function withPathId(p: fc.Arbitrary<NlriPrefix>): fc.Arbitrary<NlriPrefix> {
  return fc.tuple(p, u32).map(([x, pathId]) => ({ ...x, pathId }));
}

export function asPath(opts: { asn?: fc.Arbitrary<number>; confed?: boolean } = {}): fc.Arbitrary<AsPathSegment[]> {
  const asn = opts.asn ?? u32;
  const types = opts.confed === false ? [1, 2] : [1, 2, 3, 4];
  return fc.array(
    fc.record({ type: fc.constantFrom(...types) as fc.Arbitrary<AsPathSegment['type']>, asns: fc.array(asn, { minLength: 1, maxLength: 12 }) }),
    { maxLength: 5 },
  );
}

export const rawUnknown: fc.Arbitrary<RawAttribute> = fc.record({
  // Decoding marks passed-on optional transitive attributes Partial.
  flags: fc.constant(0xe0),
  type: fc.integer({ min: 0, max: 255 }).filter((t) => !KNOWN_ATTRS.has(t)),
  value: fc.uint8Array({ maxLength: 300 }).map((b) => Buffer.from(b)),
});

export function pathAttributes(opts: { nextHop?: boolean; asn?: fc.Arbitrary<number> } = {}): fc.Arbitrary<PathAttributes> {
  return fc
    .record(
      {
        origin: fc.constantFrom(0 as const, 1 as const, 2 as const),
        asPath: asPath({ asn: opts.asn }),
        nextHop: hostIpv4,
        med: u32,
        localPref: u32,
        atomicAggregate: fc.constant(true),
        aggregator: fc.record({ asn: opts.asn ?? u32, address: ipv4 }),
        communities: fc.array(u32, { minLength: 1, maxLength: 10 }),
        largeCommunities: fc.array(fc.tuple(u32, u32, u32), { minLength: 1, maxLength: 5 }),
        extendedCommunities: fc.array(fc.tuple(u32, u32), { minLength: 1, maxLength: 5 }),
        originatorId: ipv4,
        clusterList: fc.array(ipv4, { minLength: 1, maxLength: 5 }),
        unknown: fc.uniqueArray(rawUnknown, { minLength: 1, maxLength: 3, selector: (u) => u.type }).map((us) => us.sort((a, b) => a.type - b.type)),
      },
      { requiredKeys: ['origin', 'asPath'] },
    )
    .map((a) => {
      const out = { ...a } as PathAttributes;
      if (opts.nextHop === false) delete out.nextHop;
      if (opts.nextHop === true && !out.nextHop) out.nextHop = '192.0.2.1';
      return out;
    });
}

/** An UPDATE that decodes back to itself on a 4-octet session without ADD-PATH. */
export function update(opts: { addPath?: boolean; asn?: fc.Arbitrary<number> } = {}): fc.Arbitrary<UpdateMessage> {
  const p4 = opts.addPath ? withPathId(prefix4) : prefix4;
  const p6 = opts.addPath ? withPathId(prefix6) : prefix6;
  const mpReach = fc.oneof(
    fc.record({ afi: fc.constant(2), safi: fc.constant(1), nextHops: fc.oneof(fc.tuple(ipv6), fc.tuple(ipv6, ipv6)), nlri: fc.array(p6, { maxLength: 20 }) }),
    fc.record({ afi: fc.constant(1), safi: fc.constant(2), nextHops: fc.tuple(ipv4), nlri: fc.array(p4, { maxLength: 20 }) }),
  );
  const mpUnreach = fc.record({ afi: fc.constant(2), safi: fc.constant(1), withdrawn: fc.array(p6, { maxLength: 20 }) });
  return fc
    .record({
      withdrawn: fc.array(p4, { maxLength: 20 }),
      nlri: fc.array(p4, { maxLength: 20 }),
      attributes: fc.option(pathAttributes({ asn: opts.asn }), { nil: undefined }),
      mpReach: fc.option(mpReach, { nil: undefined }),
      mpUnreach: fc.option(mpUnreach, { nil: undefined }),
    })
    .map((r) => {
      const m: UpdateMessage = { type: 'UPDATE', withdrawn: r.withdrawn, nlri: r.nlri };
      if (r.attributes) {
        const attrs = { ...r.attributes };
        if (r.nlri.length) attrs.nextHop ??= '192.0.2.1';
        else if (r.mpReach) delete attrs.nextHop;
        m.attributes = attrs;
        if (r.mpReach) m.mpReach = r.mpReach;
      } else {
        m.nlri = [];
      }
      if (r.mpUnreach) m.mpUnreach = r.mpUnreach;
      return m;
    });
}

export const capability: fc.Arbitrary<Capability> = fc.oneof(
  fc.record({ code: fc.constant(1 as const), afi: u16, safi: u8 }),
  fc.constant({ code: 2 as const }),
  fc.record({ code: fc.constant(5 as const), families: fc.array(fc.record({ afi: u16, safi: u16, nextHopAfi: u16 }), { maxLength: 5 }) }),
  fc.constant({ code: 6 as const }),
  fc.record({
    code: fc.constant(64 as const),
    restartFlags: fc.integer({ min: 0, max: 15 }),
    restartTime: fc.integer({ min: 0, max: 4095 }),
    families: fc.array(fc.record({ afi: u16, safi: u8, forwardingState: fc.boolean() }), { maxLength: 5 }),
  }),
  fc.record({ code: fc.constant(65 as const), asn: u32 }),
  fc.record({ code: fc.constant(69 as const), families: fc.array(fc.record({ afi: u16, safi: u8, sendReceive: fc.constantFrom(1 as const, 2 as const, 3 as const) }), { maxLength: 5 }) }),
  fc.constant({ code: 70 as const }),
  fc.constant({ code: 128 as const }),
  fc.record({
    code: fc.integer({ min: 0, max: 255 }).filter((c) => ![1, 2, 5, 6, 64, 65, 69, 70, 128].includes(c)),
    raw: fc.uint8Array({ maxLength: 20 }).map((b) => Buffer.from(b)),
  }),
);

export const open: fc.Arbitrary<OpenMessage> = fc.record({
  type: fc.constant('OPEN' as const),
  version: fc.constant(4 as const),
  myAs: u16,
  holdTime: fc.oneof(fc.constant(0), fc.integer({ min: 3, max: 0xffff })),
  bgpId: ipv4.filter((a) => a !== '0.0.0.0'),
  // Enough capabilities now and then to need the RFC 9072 extended length.
  capabilities: fc.array(capability, { maxLength: 40 }),
});

export const notificationMsg: fc.Arbitrary<NotificationMessage> = fc.record({
  type: fc.constant('NOTIFICATION' as const),
  code: u8,
  subcode: u8,
  data: fc.uint8Array({ maxLength: 100 }).map((b) => Buffer.from(b)),
});

export const routeRefresh: fc.Arbitrary<RouteRefreshMessage> = fc.record({
  type: fc.constant('ROUTE_REFRESH' as const),
  afi: u16,
  safi: u8,
  subtype: fc.constantFrom(0, 1, 2),
});

export const anyMessage: fc.Arbitrary<BgpMessage> = fc.oneof(open, update(), notificationMsg, routeRefresh, fc.constant({ type: 'KEEPALIVE' as const }));
