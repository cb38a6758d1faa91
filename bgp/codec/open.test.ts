import { describe, expect, it } from 'vitest';
import { AS_TRANS, commonFamilies, decodeMessage, encodeMessage, makeOpen, negotiateContext, openAsn, type Capability } from './index.js';

const base: Capability[] = [{ code: 1, afi: 1, safi: 1 }, { code: 1, afi: 2, safi: 1 }, { code: 2 }, { code: 70 }];

describe('OPEN helpers', () => {
  it('makeOpen puts AS_TRANS in My AS and the real AS in capability 65', () => {
    const o = makeOpen({ asn: 4200000001, holdTime: 90, bgpId: '10.0.0.1', capabilities: base });
    expect(o.myAs).toBe(AS_TRANS);
    expect(openAsn(o)).toBe(4200000001);
    const r = decodeMessage(encodeMessage(o, { fourOctetAs: true }), { fourOctetAs: true });
    expect(r.ok && r.message.type === 'OPEN' && openAsn(r.message)).toBe(4200000001);
  });

  it('negotiates 4-octet AS, ADD-PATH directions, extended next hop, eBGP', () => {
    const a = makeOpen({
      asn: 64512,
      holdTime: 90,
      bgpId: '10.0.0.1',
      capabilities: [...base, { code: 69, families: [{ afi: 1, safi: 1, sendReceive: 3 }, { afi: 2, safi: 1, sendReceive: 1 }] }, { code: 5, families: [{ afi: 1, safi: 1, nextHopAfi: 2 }] }],
    });
    const b = makeOpen({
      asn: 64513,
      holdTime: 30,
      bgpId: '10.0.0.2',
      capabilities: [...base, { code: 69, families: [{ afi: 1, safi: 1, sendReceive: 1 }, { afi: 2, safi: 1, sendReceive: 2 }] }, { code: 5, families: [{ afi: 1, safi: 1, nextHopAfi: 2 }] }],
    });
    expect(negotiateContext(a, b)).toEqual({
      fourOctetAs: true,
      ebgp: true,
      extendedNextHop: true,
      addPath: [
        { afi: 1, safi: 1, send: true, receive: false },
        { afi: 2, safi: 1, send: false, receive: true },
      ],
    });
  });

  it('a peer without capability 65 gets a 2-octet session', () => {
    const a = makeOpen({ asn: 65001, holdTime: 90, bgpId: '10.0.0.1', capabilities: base });
    const b = { type: 'OPEN' as const, version: 4 as const, myAs: 65001, holdTime: 90, bgpId: '10.0.0.2', capabilities: [] };
    expect(negotiateContext(a, b)).toEqual({ fourOctetAs: false, ebgp: false });
    expect(commonFamilies(a, b)).toEqual([]);
    expect(commonFamilies(b, b)).toEqual([{ afi: 1, safi: 1 }]);
  });

  it('graceful restart capability keeps the R and N bits and per-family forwarding state', () => {
    const o = makeOpen({
      asn: 65001,
      holdTime: 90,
      bgpId: '10.0.0.1',
      capabilities: [{ code: 64, restartFlags: 0x8 | 0x4, restartTime: 120, families: [{ afi: 1, safi: 1, forwardingState: true }] }],
    });
    const bytes = encodeMessage(o, { fourOctetAs: true });
    // 0xc0 0x78: R and N bits, restart time 120.
    expect(bytes.includes(Buffer.from([64, 6, 0xc0, 0x78, 0, 1, 1, 0x80]))).toBe(true);
  });
});
