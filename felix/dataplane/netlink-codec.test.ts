import { endianness } from 'node:os';
import { describe, expect, it } from 'vitest';
import { addrBytes, deleteKey, encodeRoute, NLM_F_CREATE, NLM_F_REPLACE, NLM_F_REQUEST, parseReplies, parseRouteDump, routeMessageLength, RTM_DELROUTE, RTM_NEWROUTE, writeRouteMessage, type RouteRequest } from './netlink-codec.js';

const ifIndex = (name: string): number | undefined => (name === 'eth0' ? 2 : undefined);

function message(msgType: number, flags: number, seq: number, r: RouteRequest): string {
  const buf = Buffer.alloc(routeMessageLength(r));
  expect(writeRouteMessage(buf, 0, msgType, flags, seq, r)).toBe(buf.length);
  return buf.toString('hex');
}

// Netlink is host byte order; the expected bytes are what `ip route add … proto 80` sends on x86.
describe.runIf(endianness() === 'LE')('route requests, byte for byte', () => {
  it('a route via a gateway: header, rtmsg in the main table with proto 80, RTA_DST, RTA_GATEWAY', () => {
    const r = encodeRoute({ family: 4, dst: '10.100.0.0/24', type: 'unicast', via: '10.0.0.2', kind: 'bgp' }, ifIndex) as RouteRequest;
    expect(message(RTM_NEWROUTE, NLM_F_REQUEST | NLM_F_CREATE | NLM_F_REPLACE, 7, r)).toBe(
      ['2c000000', '1800', '0105', '07000000', '00000000', '02180000', 'fe500001', '00000000', '08000100', '0a640000', '08000500', '0a000002'].join(''),
    );
  });

  it('an onlink route through a device carries RTNH_F_ONLINK and RTA_OIF', () => {
    const r = encodeRoute({ family: 4, dst: '10.65.2.0/26', type: 'unicast', via: '10.0.5.9', dev: 'eth0', onlink: true, kind: 'remote-ipip' }, ifIndex) as RouteRequest;
    expect(message(RTM_NEWROUTE, NLM_F_REQUEST, 1, r)).toBe(
      ['34000000', '1800', '0100', '01000000', '00000000', '021a0000', 'fe500001', '04000000', '08000100', '0a410200', '08000500', '0a000509', '08000400', '02000000'].join(''),
    );
  });

  it('a blackhole has no next hop; a v6 destination is 16 bytes; a delete asks for any scope and type', () => {
    const bh = encodeRoute({ family: 4, dst: '10.65.0.0/26', type: 'blackhole', kind: 'blackhole' }, ifIndex) as RouteRequest;
    expect(message(RTM_NEWROUTE, NLM_F_REQUEST, 2, bh)).toBe(['24000000', '1800', '0100', '02000000', '00000000', '021a0000', 'fe500006', '00000000', '08000100', '0a410000'].join(''));
    const del = deleteKey({ family: 6, dst: 'fd00:1::/64', type: 'unicast', onlink: false, protocol: 80, table: 254 });
    expect(message(RTM_DELROUTE, NLM_F_REQUEST, 3, del)).toBe(['30000000', '1900', '0100', '03000000', '00000000', '0a400000', 'fe50ff00', '00000000', '14000100', 'fd000001000000000000000000000000'].join(''));
  });
});

describe('encodeRoute', () => {
  it('names a device that does not exist', () => {
    expect(encodeRoute({ family: 4, dst: '10.65.9.0/26', type: 'unicast', dev: 'nosuchdev', kind: 'bgp' }, ifIndex)).toBe('device nosuchdev not found');
  });

  it('parses dotted quads and every other address form alike', () => {
    expect(addrBytes('10.0.0.2')).toEqual([10, 0, 0, 2]);
    expect(addrBytes('::ffff:10.0.0.2')).toEqual([0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 255, 255, 10, 0, 0, 2]);
    expect(() => addrBytes('10.0.0.256')).toThrow();
  });
});

describe('parseReplies', () => {
  it('reads acknowledgements and errors by sequence number from one datagram, skipping other messages', () => {
    const reply = (seq: number, err: number, type = 2): Buffer => {
      const b = Buffer.alloc(36);
      const le = endianness() === 'LE';
      const u32 = (v: number, at: number): number => (le ? b.writeUInt32LE(v, at) : b.writeUInt32BE(v, at));
      u32(36, 0);
      if (le) b.writeUInt16LE(type, 4);
      else b.writeUInt16BE(type, 4);
      u32(seq, 8);
      if (le) b.writeInt32LE(err, 16);
      else b.writeInt32BE(err, 16);
      return b;
    };
    const datagram = Buffer.concat([reply(7, 0), reply(8, -101), reply(9, 0, 3)]);
    expect(parseReplies(datagram)).toEqual([
      { seq: 7, errno: 0 },
      { seq: 8, errno: 101 },
    ]);
    expect(parseReplies(datagram.subarray(0, 50))).toEqual([{ seq: 7, errno: 0 }]);
  });
});

describe('parseRouteDump', () => {
  it('reads back what a request encodes (a dump message has the same layout), until NLMSG_DONE', () => {
    const routes = [
      encodeRoute({ family: 4, dst: '10.65.2.0/26', type: 'unicast', via: '10.0.5.9', dev: 'eth0', onlink: true, kind: 'remote-ipip' }, ifIndex),
      encodeRoute({ family: 4, dst: '10.65.0.0/26', type: 'blackhole', kind: 'blackhole' }, ifIndex),
      encodeRoute({ family: 6, dst: 'fd00:1::/64', type: 'unicast', via: 'fe80::1', kind: 'bgp' }, ifIndex),
    ] as RouteRequest[];
    const msgs = routes.map((r) => {
      const b = Buffer.alloc(routeMessageLength(r));
      writeRouteMessage(b, 0, RTM_NEWROUTE, 2, 9, r);
      return b;
    });
    const done = Buffer.alloc(20);
    const le = endianness() === 'LE';
    if (le) {
      done.writeUInt32LE(20, 0);
      done.writeUInt16LE(3, 4);
      done.writeUInt32LE(9, 8);
    } else {
      done.writeUInt32BE(20, 0);
      done.writeUInt16BE(3, 4);
      done.writeUInt32BE(9, 8);
    }
    const names = new Map([[2, 'eth0']]);
    const first = parseRouteDump(Buffer.concat(msgs.slice(0, 2)), 9, names);
    expect(first.done).toBe(false);
    expect(first.routes).toEqual([
      { family: 4, dst: '10.65.2.0/26', type: 'unicast', via: '10.0.5.9', dev: 'eth0', onlink: true, protocol: 80, table: 254 },
      { family: 4, dst: '10.65.0.0/26', type: 'blackhole', onlink: false, protocol: 80, table: 254 },
    ]);
    const last = parseRouteDump(Buffer.concat([msgs[2] as Buffer, done]), 9, names);
    expect(last).toEqual({ routes: [{ family: 6, dst: 'fd00:1::/64', type: 'unicast', via: 'fe80::1', onlink: false, protocol: 80, table: 254 }], done: true, errno: 0 });
    // Another request's messages are not this dump's.
    expect(parseRouteDump(Buffer.concat(msgs), 10, names).routes).toEqual([]);
  });
});
