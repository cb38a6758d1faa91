// RFC 4360 extended communities as GoBGP's API types them (apipb.ExtendedCommunitiesAttribute):
// each 8-octet value becomes the message gobgpd's own decoder (packet/bgp ParseExtended) makes of
// it, so the CLI prints the same text for it. Pure. A value GoBGP has no message for goes as
// UnknownExtended (type, the other 7 octets), as gobgpd sends it.
import type { ApiAny } from './convert.js';

const T = 'type.googleapis.com/apipb.';
const msg = (type: string, fields: Record<string, unknown> = {}): ApiAny => ({ '@type': T + type, ...fields });

/** Octets of a [high, low] pair. */
function octets([hi, lo]: readonly [number, number]): Buffer {
  const b = Buffer.alloc(8);
  b.writeUInt32BE(hi >>> 0, 0);
  b.writeUInt32BE(lo >>> 0, 4);
  return b;
}

const ipv4 = (b: Buffer, at: number): string => `${b[at]}.${b[at + 1]}.${b[at + 2]}.${b[at + 3]}`;
const mac = (b: Buffer, at: number): string => [...b.subarray(at, at + 6)].map((x) => x.toString(16).padStart(2, '0')).join(':');
const unknown = (b: Buffer): ApiAny => msg('UnknownExtended', { type: b[0], value: b.subarray(1, 8) });

/** One extended community as its apipb message. */
export function extendedCommunityToApi(value: readonly [number, number]): ApiAny {
  const b = octets(value);
  const type = b[0];
  const sub = b[1];
  const transitive = (type & 0x40) === 0;
  switch (type) {
    case 0x00:
    case 0x40:
      // Link bandwidth (draft-ietf-idr-link-bandwidth) shares the two-octet-AS layout, as a float.
      if (sub === 0x04) return msg('LinkBandwidthExtended', { asn: b.readUInt16BE(2), bandwidth: b.readFloatBE(4) });
      return msg('TwoOctetAsSpecificExtended', { is_transitive: transitive, sub_type: sub, asn: b.readUInt16BE(2), local_admin: b.readUInt32BE(4) });
    case 0x01:
    case 0x41:
      return msg('IPv4AddressSpecificExtended', { is_transitive: transitive, sub_type: sub, address: ipv4(b, 2), local_admin: b.readUInt16BE(6) });
    case 0x02:
    case 0x42:
      return msg('FourOctetAsSpecificExtended', { is_transitive: transitive, sub_type: sub, asn: b.readUInt32BE(2), local_admin: b.readUInt16BE(6) });
    case 0x03:
      if (sub === 0x0b) return msg('ColorExtended', { color: b.readUInt32BE(4) });
      if (sub === 0x0c) return msg('EncapExtended', { tunnel_type: b.readUInt16BE(6) });
      if (sub === 0x0d) return msg('DefaultGatewayExtended');
      return msg('OpaqueExtended', { is_transitive: true, value: b.subarray(1, 8) });
    case 0x43:
      if (sub === 0x00) return msg('ValidationExtended', { state: b[7] });
      return msg('OpaqueExtended', { is_transitive: false, value: b.subarray(1, 8) });
    case 0x06: // EVPN (RFC 7432)
      if (sub === 0x00) return msg('MacMobilityExtended', { is_sticky: b[2] > 0, sequence_num: b.readUInt32BE(4) });
      if (sub === 0x01) return msg('ESILabelExtended', { is_single_active: b[2] > 0, label: b.readUIntBE(5, 3) });
      if (sub === 0x02) return msg('ESImportRouteTarget', { es_import: mac(b, 2) });
      if (sub === 0x03) return msg('RouterMacExtended', { mac: mac(b, 2) });
      return unknown(b);
    case 0x80:
    case 0x81:
    case 0x82: // flow spec actions (RFC 8955, RFC 7674 redirects)
      if (sub === 0x06) return msg('TrafficRateExtended', { asn: b.readUInt16BE(2), rate: b.readFloatBE(4) });
      if (sub === 0x07) return msg('TrafficActionExtended', { terminal: (b[7] & 1) === 1, sample: (b[7] & 2) === 2 });
      if (sub === 0x08 && type === 0x80) return msg('RedirectTwoOctetAsSpecificExtended', { asn: b.readUInt16BE(2), local_admin: b.readUInt32BE(4) });
      if (sub === 0x08 && type === 0x81) return msg('RedirectIPv4AddressSpecificExtended', { address: ipv4(b, 2), local_admin: b.readUInt16BE(6) });
      if (sub === 0x08 && type === 0x82) return msg('RedirectFourOctetAsSpecificExtended', { asn: b.readUInt32BE(2), local_admin: b.readUInt16BE(6) });
      if (sub === 0x09) return msg('TrafficRemarkExtended', { dscp: b[7] });
      return unknown(b);
    case 0x0c: // BGP-MUP direct segment
      if (sub === 0x00) return msg('MUPExtended', { sub_type: 0, segment_id2: b.readUInt16BE(2), segment_id4: b.readUInt32BE(4) });
      return unknown(b);
    default:
      return unknown(b);
  }
}

/** The EXTENDED_COMMUNITIES attribute (type 16) as apipb.ExtendedCommunitiesAttribute. */
export const extendedCommunitiesToApi = (values: ReadonlyArray<readonly [number, number]>): ApiAny => msg('ExtendedCommunitiesAttribute', { communities: values.map(extendedCommunityToApi) });
