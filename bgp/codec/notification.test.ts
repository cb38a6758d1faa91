import { describe, expect, it } from 'vitest';
import { ceaseWithMessage, decodeMessage, describeNotification, encodeMessage, ERROR_SUBCODE_NAMES, parseShutdownCommunication, shutdownCommunication } from './index.js';

describe('NOTIFICATION tables and descriptions', () => {
  it('names every code and subcode of RFC 4271, 4486, 5492, 6608, 7313, 8538, 9234', () => {
    expect(describeNotification(1, 1)).toBe('Message Header Error / Connection Not Synchronized');
    expect(describeNotification(2, 7)).toBe('OPEN Message Error / Unsupported Capability');
    expect(describeNotification(2, 11)).toBe('OPEN Message Error / Role Mismatch');
    expect(describeNotification(3, 11)).toBe('UPDATE Message Error / Malformed AS_PATH');
    expect(describeNotification(4, 0)).toBe('Hold Timer Expired / Unspecific');
    expect(describeNotification(5, 2)).toBe('Finite State Machine Error / Receive Unexpected Message in OpenConfirm State');
    expect(describeNotification(6, 9)).toBe('Cease / Hard Reset');
    expect(describeNotification(6, 10)).toBe('Cease / BFD Down');
    expect(describeNotification(7, 1)).toBe('ROUTE-REFRESH Message Error / Invalid Message Length');
    expect(Object.keys(ERROR_SUBCODE_NAMES[6])).toHaveLength(11);
    expect(describeNotification(42, 3)).toBe('Unknown error code 42 / unknown subcode 3');
  });

  it('reads the data: shutdown communication, prefix limit, bad length, bad type, attribute', () => {
    const n = ceaseWithMessage(2, 'upgrade to v2 — back in 5′');
    expect(describeNotification(n.code, n.subcode, n.data)).toBe('Cease / Administrative Shutdown: "upgrade to v2 — back in 5′"');
    expect(describeNotification(6, 1, Buffer.from([0, 1, 1, 0, 0, 3, 0xe8]))).toBe('Cease / Maximum Number of Prefixes Reached: AFI 1 SAFI 1 limit 1000');
    expect(describeNotification(1, 2, Buffer.from([0x10, 0x01]))).toBe('Message Header Error / Bad Message Length: length 4097');
    expect(describeNotification(1, 3, Buffer.from([9]))).toBe('Message Header Error / Bad Message Type: type 9');
    expect(describeNotification(3, 3, Buffer.from([3]))).toBe('UPDATE Message Error / Missing Well-known Attribute: missing attribute type 3');
    expect(describeNotification(3, 2, Buffer.from([0x40, 99, 1, 7]))).toBe('UPDATE Message Error / Unrecognized Well-known Attribute: attribute type 99 (40 63 01 07)');
  });

  it('shutdown communication is cut at 255 octets on a UTF-8 boundary (RFC 9003)', () => {
    const long = 'é'.repeat(200); // 400 octets
    const b = shutdownCommunication(long);
    expect(b[0]).toBeLessThanOrEqual(255);
    expect(b[0] % 2).toBe(0);
    expect(parseShutdownCommunication(b)).toBe('é'.repeat(b[0] / 2));
    expect(parseShutdownCommunication(Buffer.from([5, 0xff, 0xfe, 1, 2, 3]))).toBeUndefined();
    expect(parseShutdownCommunication(Buffer.from([9, 65]))).toBeUndefined();
  });

  it('NOTIFICATION round-trips with its data', () => {
    const n = ceaseWithMessage(4, 'reset by operator');
    const r = decodeMessage(encodeMessage(n, { fourOctetAs: true }), { fourOctetAs: true });
    expect(r.ok && r.message).toEqual(n);
  });
});
