// Extended communities typed as gobgpd's decoder types them (packet/bgp ParseExtended).
import { describe, expect, it } from 'vitest';
import { extendedCommunitiesToApi, extendedCommunityToApi } from './extcomm.js';

const T = 'type.googleapis.com/apipb.';
/** [high, low] of the 8 octets given as hex. */
const ec = (hex: string): [number, number] => [parseInt(hex.slice(0, 8), 16), parseInt(hex.slice(8, 16), 16)];

describe('extended communities → apipb messages', () => {
  it.each([
    ['0002fde900000064', 'TwoOctetAsSpecificExtended', { is_transitive: true, sub_type: 2, asn: 65001, local_admin: 100 }],
    ['4003fde900000001', 'TwoOctetAsSpecificExtended', { is_transitive: false, sub_type: 3, asn: 65001, local_admin: 1 }],
    ['0103 0a010203 0007'.replace(/ /g, ''), 'IPv4AddressSpecificExtended', { is_transitive: true, sub_type: 3, address: '10.1.2.3', local_admin: 7 }],
    ['0202fa56ea010005', 'FourOctetAsSpecificExtended', { is_transitive: true, sub_type: 2, asn: 4200000001, local_admin: 5 }],
    ['030c000000000008', 'EncapExtended', { tunnel_type: 8 }],
    ['030b000000000064', 'ColorExtended', { color: 100 }],
    ['030d000000000000', 'DefaultGatewayExtended', {}],
    ['4300000000000002', 'ValidationExtended', { state: 2 }],
    ['0601000000000064', 'ESILabelExtended', { is_single_active: false, label: 100 }],
    ['0603aabbccddeeff', 'RouterMacExtended', { mac: 'aa:bb:cc:dd:ee:ff' }],
    ['8008fde900000064', 'RedirectTwoOctetAsSpecificExtended', { asn: 65001, local_admin: 100 }],
    ['8009000000000010', 'TrafficRemarkExtended', { dscp: 16 }],
  ])('%s → %s', (hex, type, fields) => {
    expect(extendedCommunityToApi(ec(hex))).toEqual({ '@type': T + type, ...fields });
  });

  it('opaque ones GoBGP has no message for keep their 7 value octets; unknown types likewise', () => {
    expect(extendedCommunityToApi(ec('0306010203040506'))).toEqual({ '@type': `${T}OpaqueExtended`, is_transitive: true, value: Buffer.from('06010203040506', 'hex') });
    expect(extendedCommunityToApi(ec('0a00000100000002'))).toEqual({ '@type': `${T}UnknownExtended`, type: 0x0a, value: Buffer.from('00000100000002', 'hex') });
  });

  it('link bandwidth is a float in the two-octet-AS layout', () => {
    expect(extendedCommunityToApi(ec('4004fde947c35000'))).toEqual({ '@type': `${T}LinkBandwidthExtended`, asn: 65001, bandwidth: 100000 });
  });

  it('the attribute keeps the order of its values', () => {
    const a = extendedCommunitiesToApi([ec('030c000000000008'), ec('0002fde900000064')]);
    expect((a.communities as Array<{ '@type': string }>).map((c) => c['@type'].slice(T.length))).toEqual(['EncapExtended', 'TwoOctetAsSpecificExtended']);
  });
});
