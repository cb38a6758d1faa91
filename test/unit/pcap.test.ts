// The fixture capture's pcap reader (test/harness/pcap.ts): hand-built pcap files in both byte
// orders, Ethernet/IPv4 and IPv6, segments reordered, retransmitted, overlapping and wrapping
// the sequence space; and the committed captures reassemble to exactly the committed .hex frames.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { MessageFramer } from '../../bgp/codec/index.js';
import { decodeTcp, LINKTYPE_ETHERNET, LINKTYPE_RAW, parsePcap, PcapError, pcapTcpStreams, reassembleTcp, TCP_SYN, type TcpSegment } from '../harness/pcap.js';

const ACK = 0x10;
const PSH = 0x08;

function pcapFile(frames: Buffer[], opts: { bigEndian?: boolean; nano?: boolean; linkType?: number } = {}): Buffer {
  const be = !!opts.bigEndian;
  const w32 = (b: Buffer, v: number, o: number) => (be ? b.writeUInt32BE(v, o) : b.writeUInt32LE(v, o));
  const w16 = (b: Buffer, v: number, o: number) => (be ? b.writeUInt16BE(v, o) : b.writeUInt16LE(v, o));
  const g = Buffer.alloc(24);
  w32(g, opts.nano ? 0xa1b23c4d : 0xa1b2c3d4, 0);
  w16(g, 2, 4);
  w16(g, 4, 6);
  w32(g, 262144, 16);
  w32(g, opts.linkType ?? LINKTYPE_ETHERNET, 20);
  const recs = frames.map((f, i) => {
    const h = Buffer.alloc(16);
    w32(h, 1_700_000_000 + i, 0);
    w32(h, opts.nano ? 123_456_789 : 123_456, 4);
    w32(h, f.length, 8);
    w32(h, f.length, 12);
    return Buffer.concat([h, f]);
  });
  return Buffer.concat([g, ...recs]);
}

function tcpHeader(sport: number, dport: number, seq: number, flags: number): Buffer {
  const t = Buffer.alloc(20);
  t.writeUInt16BE(sport, 0);
  t.writeUInt16BE(dport, 2);
  t.writeUInt32BE(seq >>> 0, 4);
  t.writeUInt32BE(1, 8);
  t[12] = 5 << 4;
  t[13] = flags;
  t.writeUInt16BE(65535, 14);
  return t;
}

const ip4 = (s: string) => Buffer.from(s.split('.').map(Number));

function v4Packet(src: string, dst: string, sport: number, dport: number, seq: number, flags: number, payload: Buffer = Buffer.alloc(0)): Buffer {
  const tcp = Buffer.concat([tcpHeader(sport, dport, seq, flags), payload]);
  const ip = Buffer.alloc(20);
  ip[0] = 0x45;
  ip.writeUInt16BE(20 + tcp.length, 2);
  ip.writeUInt16BE(0x4000, 6); // DF, not a fragment
  ip[8] = 64;
  ip[9] = 6;
  ip4(src).copy(ip, 12);
  ip4(dst).copy(ip, 16);
  return Buffer.concat([ip, tcp]);
}

function ether(ipPacket: Buffer, etherType = 0x0800): Buffer {
  const e = Buffer.alloc(14);
  e.writeUInt16BE(etherType, 12);
  return Buffer.concat([e, ipPacket]);
}

function v6Packet(src: Buffer, dst: Buffer, sport: number, dport: number, seq: number, flags: number, payload: Buffer = Buffer.alloc(0)): Buffer {
  const tcp = Buffer.concat([tcpHeader(sport, dport, seq, flags), payload]);
  const ip = Buffer.alloc(40);
  ip[0] = 0x60;
  ip.writeUInt16BE(tcp.length, 4);
  ip[6] = 6;
  ip[7] = 64;
  src.copy(ip, 8);
  dst.copy(ip, 24);
  return Buffer.concat([ip, tcp]);
}

const keepalive = () => Buffer.concat([Buffer.alloc(16, 0xff), Buffer.from([0, 19, 4])]);
const open = () => Buffer.concat([Buffer.alloc(16, 0xff), Buffer.from([0, 29, 1, 4, 0xfd, 0xe8, 0, 90, 10, 0, 0, 1, 0])]);

describe('pcap reader', () => {
  it('reads the global and record headers in either byte order and with nanosecond stamps', () => {
    const frame = ether(v4Packet('10.0.0.1', '10.0.0.2', 1000, 179, 5, ACK));
    for (const opts of [{}, { bigEndian: true }, { nano: true }, { bigEndian: true, nano: true }]) {
      const p = parsePcap(pcapFile([frame, frame], opts));
      expect(p.linkType).toBe(LINKTYPE_ETHERNET);
      expect(p.snapLen).toBe(262144);
      expect(p.records).toHaveLength(2);
      expect(p.records[1]).toMatchObject({ tsSec: 1_700_000_001, tsUsec: 123_456, origLen: frame.length });
      expect(p.records[0].data.equals(frame)).toBe(true);
    }
  });

  it('rejects bad input with a message instead of crashing', () => {
    expect(() => parsePcap(Buffer.alloc(10))).toThrow(/shorter than the 24-byte global header/);
    expect(() => parsePcap(Buffer.from('0a0d0d0a' + '00'.repeat(40), 'hex'))).toThrow(/bad magic.*pcapng/);
    const whole = pcapFile([ether(v4Packet('10.0.0.1', '10.0.0.2', 1, 2, 0, ACK))]);
    expect(() => parsePcap(whole.subarray(0, 30))).toThrow(PcapError);
    expect(() => parsePcap(whole.subarray(0, whole.length - 1))).toThrow(/record 0 claims/);
    expect(() => decodeTcp(9999, Buffer.alloc(40))).toThrow(/link type 9999/);
  });

  it('decodes Ethernet (with a VLAN tag) / IPv4 / TCP and raw IPv6 / TCP; skips what is not TCP', () => {
    const payload = Buffer.from('hello');
    const seg = decodeTcp(LINKTYPE_ETHERNET, ether(v4Packet('192.0.2.1', '192.0.2.2', 40000, 179, 7, ACK | PSH, payload)))!;
    expect(seg).toMatchObject({ src: '192.0.2.1', dst: '192.0.2.2', srcPort: 40000, dstPort: 179, seq: 7, flags: ACK | PSH });
    expect(seg.payload.toString()).toBe('hello');

    const tagged = Buffer.concat([Buffer.alloc(12), Buffer.from([0x81, 0x00, 0x00, 0x0a, 0x08, 0x00]), v4Packet('192.0.2.1', '192.0.2.2', 1, 2, 3, ACK)]);
    expect(decodeTcp(LINKTYPE_ETHERNET, tagged)).toMatchObject({ srcPort: 1, dstPort: 2 });

    const a = Buffer.from('fd000000000000000000000000000001', 'hex');
    const b = Buffer.from('20010db8000000010000000000000002', 'hex');
    const six = decodeTcp(LINKTYPE_RAW, v6Packet(a, b, 179, 51000, 9, ACK, payload))!;
    expect(six).toMatchObject({ src: 'fd00::1', dst: '2001:db8:0:1::2', srcPort: 179, dstPort: 51000, seq: 9 });
    expect(six.payload.toString()).toBe('hello');

    const udp = v4Packet('10.0.0.1', '10.0.0.2', 1, 2, 0, 0);
    udp[9] = 17;
    expect(decodeTcp(LINKTYPE_ETHERNET, ether(udp))).toBeUndefined();
    expect(decodeTcp(LINKTYPE_ETHERNET, ether(Buffer.alloc(28), 0x0806))).toBeUndefined(); // ARP
    const fragment = v4Packet('10.0.0.1', '10.0.0.2', 1, 2, 0, ACK);
    fragment.writeUInt16BE(0x2000, 6); // more fragments follow
    expect(decodeTcp(LINKTYPE_ETHERNET, ether(fragment))).toBeUndefined();
    // Cut by the snap length: the payload would be incomplete, so the segment is not used.
    const full = ether(v4Packet('10.0.0.1', '10.0.0.2', 1, 2, 0, ACK, payload));
    expect(decodeTcp(LINKTYPE_ETHERNET, full.subarray(0, full.length - 2))).toBeUndefined();
  });
});

describe('TCP reassembly', () => {
  const seg = (src: string, sport: number, dst: string, dport: number, seq: number, flags: number, payload: Buffer = Buffer.alloc(0)): TcpSegment => ({
    src,
    dst,
    srcPort: sport,
    dstPort: dport,
    seq: seq >>> 0,
    ack: 0,
    flags,
    payload,
  });

  it('orders each direction by sequence number: reordering, retransmission, overlap, sequence wrap', () => {
    const isn = 0xfffffff0; // data starts 15 bytes before the 2^32 wrap
    const bytes = Buffer.from('0123456789abcdefghijklmnopqrstuvwxyz');
    const at = (from: number, to: number) => bytes.subarray(from, to);
    const A = ['10.0.0.2', 40000] as const;
    const B = ['10.0.0.1', 179] as const;
    const streams = reassembleTcp([
      seg(...A, ...B, isn, TCP_SYN),
      seg(...B, ...A, 77, TCP_SYN | ACK),
      seg(...A, ...B, isn + 1 + 20, ACK, at(20, 30)), // arrives first
      seg(...A, ...B, isn + 1, ACK, at(0, 10)),
      seg(...B, ...A, 78, ACK, Buffer.from('reply')),
      seg(...A, ...B, isn + 1 + 5, ACK, at(5, 25)), // overlaps both neighbours
      seg(...A, ...B, isn + 1, ACK, at(0, 10)), // retransmission
      seg(...A, ...B, isn + 1 + 30, ACK | 0x01, at(30, 36)), // FIN with the last bytes
    ]);
    expect(streams).toHaveLength(2);
    const fwd = streams.find((s) => s.key === '10.0.0.2:40000>10.0.0.1:179')!;
    expect(fwd.data.toString()).toBe(bytes.toString());
    expect(fwd).toMatchObject({ gapBytes: 0, sawSyn: true, isn });
    expect(streams.find((s) => s.key === '10.0.0.1:179>10.0.0.2:40000')!.data.toString()).toBe('reply');
  });

  it('reports a hole the capture lost, and starts a new stream when the ports are reused by a new SYN', () => {
    const A = ['fd00::2', 40000] as const;
    const B = ['fd00::1', 179] as const;
    const streams = reassembleTcp([
      seg(...A, ...B, 100, TCP_SYN),
      seg(...A, ...B, 101, ACK, Buffer.from('ab')),
      seg(...A, ...B, 105, ACK, Buffer.from('ef')),
      seg(...A, ...B, 5000, TCP_SYN),
      seg(...A, ...B, 5001, ACK, Buffer.from('new')),
    ]);
    expect(streams.map((s) => s.key)).toEqual(['[fd00::2]:40000>[fd00::1]:179', '[fd00::2]:40000>[fd00::1]:179']);
    expect(streams[0]).toMatchObject({ gapBytes: 2, isn: 100 });
    expect(streams[0].data).toEqual(Buffer.from('ab\0\0ef'));
    expect(streams[1]).toMatchObject({ gapBytes: 0, isn: 5000 });
    expect(streams[1].data.toString()).toBe('new');
  });

  it('a stream whose SYN was missed starts at its first segment', () => {
    const [s] = reassembleTcp([seg('10.0.0.1', 1, '10.0.0.2', 2, 900, ACK, Buffer.from('xy')), seg('10.0.0.1', 1, '10.0.0.2', 2, 902, ACK, Buffer.from('z'))]);
    expect(s).toMatchObject({ sawSyn: false, gapBytes: 0 });
    expect(s.data.toString()).toBe('xyz');
  });

  it('a hand-built capture of a BGP exchange split mid-message frames back into whole messages', () => {
    const stream = Buffer.concat([open(), keepalive(), keepalive()]);
    const pieces = [stream.subarray(0, 7), stream.subarray(7, 40), stream.subarray(40)];
    const base = 1000;
    const pkt = (seq: number, flags: number, p?: Buffer) => ether(v4Packet('127.0.0.2', '127.0.0.1', 33000, 179, seq, flags, p));
    const file = pcapFile([pkt(base, TCP_SYN), pkt(base + 1 + 40, ACK, pieces[2]), pkt(base + 1, ACK, pieces[0]), pkt(base + 1 + 7, ACK, pieces[1])]);
    const [s] = pcapTcpStreams(file);
    const frames = new MessageFramer().push(s.data);
    expect(frames.map((f) => f[18])).toEqual([1, 4, 4]);
    expect(frames[0].equals(open())).toBe(true);
  });
});

describe('committed BGP captures', () => {
  const dir = join(import.meta.dirname, '../fixtures/bgp');
  for (const name of ['bird2-ebgp-as4', 'bird2-2octet-as4path', 'gobgp3-ebgp-addpath']) {
    const pcap = join(dir, `${name}.pcap`);
    it.skipIf(!existsSync(pcap))(`${name}.pcap holds exactly the daemon's frames in ${name}.hex`, () => {
      const hex = readFileSync(join(dir, `${name}.hex`), 'utf8')
        .split('\n')
        .filter((l) => l.startsWith('recv '))
        .map((l) => l.split(' ')[2]);
      const streams = pcapTcpStreams(readFileSync(pcap)).filter((s) => s.dstPort === 179 && s.data.length);
      expect(streams).toHaveLength(1);
      expect(streams[0].gapBytes).toBe(0);
      const frames = new MessageFramer().push(streams[0].data).map((f) => f.toString('hex'));
      expect(frames).toEqual(hex);
    });
  }
});
